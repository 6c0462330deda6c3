package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// egressGatewayGVK is read as unstructured: the demo shows what the API
// server holds, whatever fields this tree's API types have today.
var egressGatewayGVK = schema.GroupVersionKind{Group: "egress.ambient.io", Version: "v1alpha1", Kind: "EgressGateway"}

// conditionOrder is the order the demo prints conditions in: the phases, then
// the summary.
var conditionOrder = []string{"Released", "Enrolled", "WaypointReady", "PoliciesValid", "Simulated", "Ready"}

// condition is one status condition as the demo shows it.
type condition struct {
	Type, Status, Reason, Message string
	// Current is false when the condition describes an older generation.
	Current bool
}

// gatewayState is what the demo reads from the EgressGateway.
type gatewayState struct {
	conditions   []condition
	inputsDigest string
}

func (s gatewayState) get(t string) (condition, bool) {
	for _, c := range s.conditions {
		if c.Type == t {
			return c, true
		}
	}
	return condition{}, false
}

// isTrue reports whether condition t is True for the current generation.
func (s gatewayState) isTrue(t string) bool {
	c, ok := s.get(t)
	return ok && c.Current && c.Status == "True"
}

// summary is one progress line: each condition's status, with the reason
// when it is not True.
func (s gatewayState) summary() string {
	if len(s.conditions) == 0 {
		return "no conditions yet"
	}
	stale := 0
	for _, c := range s.conditions {
		if !c.Current {
			stale++
		}
	}
	if stale == len(s.conditions) {
		return "the operator has not seen the new spec yet"
	}
	var parts []string
	for _, c := range s.conditions {
		p := c.Type + "=" + c.Status
		if c.Status != "True" && c.Reason != "" {
			p += " (" + c.Reason + ")"
		}
		if !c.Current {
			p += " [older spec]"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "  ")
}

// readGateway fetches namespace/name and extracts its conditions in
// conditionOrder, then any others.
func readGateway(ctx context.Context, c client.Client, namespace, name string) (gatewayState, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(egressGatewayGVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		return gatewayState{}, err
	}
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	byType := map[string]condition{}
	var extra []string
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		observed, _, _ := unstructured.NestedInt64(m, "observedGeneration")
		cond := condition{Type: str("type"), Status: str("status"), Reason: str("reason"), Message: str("message"),
			Current: observed >= u.GetGeneration()}
		byType[cond.Type] = cond
		if !slices.Contains(conditionOrder, cond.Type) {
			extra = append(extra, cond.Type)
		}
	}
	var st gatewayState
	for _, t := range append(append([]string{}, conditionOrder...), extra...) {
		if cond, ok := byType[t]; ok {
			st.conditions = append(st.conditions, cond)
		}
	}
	st.inputsDigest, _, _ = unstructured.NestedString(u.Object, "status", "simulation", "inputsDigest")
	return st, nil
}

// waitFor polls the EgressGateway until done says so, printing a progress
// line whenever the conditions change and every 15 seconds otherwise.
func (d *demo) waitFor(ctx context.Context, what string, timeout time.Duration, done func(gatewayState) (bool, error)) error {
	start := time.Now()
	last, lastPrint := "", time.Time{}
	var why error // the last reason done gave for not being done
	for {
		st, err := readGateway(ctx, d.client, d.namespace, d.name)
		line := st.summary()
		if err != nil {
			line = "reading the EgressGateway: " + err.Error()
		}
		if line != last || time.Since(lastPrint) >= 15*time.Second {
			logf("  %5.1fs  %s", time.Since(start).Seconds(), line)
			last, lastPrint = line, time.Now()
		}
		if err == nil {
			var ok bool
			if ok, why = done(st); ok {
				return nil
			}
		}
		if time.Since(start) > timeout {
			if why != nil {
				return fmt.Errorf("%s: not reached after %s (%w); manager log %s:\n%s", what, timeout, why, d.rel(d.manager.log), d.manager.tail(15))
			}
			return fmt.Errorf("%s: not reached after %s; manager log %s:\n%s", what, timeout, d.rel(d.manager.log), d.manager.tail(15))
		}
		if d.manager.exited() {
			return fmt.Errorf("the manager exited (%v); its log:\n%s", d.manager.err, d.manager.tail(20))
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
