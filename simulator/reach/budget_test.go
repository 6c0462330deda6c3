package reach

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// TestAdversarialReportIsSound builds every adversarial shape at several
// sizes under a small budget and checks the report against Eval on random
// requests: an exact entry agrees with Eval exactly; an inexact entry never
// leaves out an allowed request (every request Eval allows is in an Allowed
// cube and in no Denied cube) and has access unknown, and a ReportTooComplex
// finding names its destination. The small budget makes most of the larger
// cases inexact, so both kinds of entries are checked.
func TestAdversarialReportIsSound(t *testing.T) {
	for _, shape := range adversarialShapes {
		for _, n := range []int{2, 7, 20} {
			t.Run(fmt.Sprintf("%s/%d", shape, n), func(t *testing.T) {
				in := parseInput(t, adversarialManifests(shape, n, uint64(n)))
				in.Budget = Budget{Work: 20_000, PerDestination: -1}
				r, _ := Build(in)
				checkSound(t, in, r, 2000)
			})
		}
	}
}

// checkSound is the soundness property of the report under a budget.
func checkSound(t *testing.T, in Input, r *Report, requests int) {
	t.Helper()
	prog, _ := simulator.Compile(in.Snapshot, in.Options)
	principals := append(allPrincipals(r), "cluster.local/ns/nobody/sa/stranger")
	tooComplex := map[string]bool{}
	for _, f := range r.Findings {
		if f.Code == CodeReportTooComplex {
			tooComplex[f.Message] = true
		}
	}
	inexact := 0
	for _, e := range r.Reachability {
		if !e.Inexact {
			continue
		}
		inexact++
		if e.Access != AccessUnknown && e.Access != AccessNone {
			t.Errorf("inexact entry %s has access %s, want unknown or none", e.Destination, e.Access)
		}
	}
	// Inexact entries always come with a finding saying so; a finding
	// without them says only findings were cut short.
	entriesCut := false
	for msg := range tooComplex {
		entriesCut = entriesCut || strings.Contains(msg, "its entries are inexact")
	}
	if (inexact > 0) != entriesCut {
		t.Errorf("%d inexact entries but ReportTooComplex findings %v", inexact, tooComplex)
	}
	rng := rand.New(rand.NewPCG(7, uint64(len(r.Reachability))))
	verdicts := map[simulator.Verdict]int{}
	defer func() { t.Logf("%d of %d entries inexact; verdicts %v", inexact, len(r.Reachability), verdicts) }()
	for range requests {
		d := r.Destinations[rng.IntN(len(r.Destinations))]
		req := adversarialRequest(rng, d, principals[rng.IntN(len(principals))])
		want, err := prog.Eval(req)
		if err != nil {
			t.Fatalf("eval: %v", err)
		}
		if want.Unauthenticated {
			continue // outside the report's cubes, as in checkAgreement
		}
		verdicts[want.Verdict]++
		e := entryFor(r, d.Key(), req.Principal)
		_, inAllowed := firstContaining(e.Allowed, req)
		_, inDenied := firstContaining(e.Denied, req)
		switch {
		case e.Inexact && want.Verdict == simulator.Allow && (!inAllowed || inDenied):
			t.Fatalf("inexact entry leaves out %s from %s, which Eval allows by %s rule %d", describe(req), req.Principal, want.DecidingPolicy, want.Rule)
		case !e.Inexact && inAllowed != (want.Verdict == simulator.Allow):
			t.Fatalf("exact entry says allowed=%v for %s from %s, Eval says %s: %s", inAllowed, describe(req), req.Principal, want.Verdict, want.Reason)
		}
	}
}

func adversarialRequest(rng *rand.Rand, d Destination, principal string) *simulator.Request {
	req := &simulator.Request{Principal: principal, Port: d.Port, DestHost: d.Host, HTTP: true, Host: d.Host,
		Method: pick(rng, advMethods), Path: pick(rng, advPaths), Headers: map[string]string{}}
	for _, h := range advHeaders {
		if v := rng.IntN(len(advValues) + 1); v < len(advValues) {
			req.Headers[h] = advValues[v]
		}
	}
	return req
}

// TestBudgetKeepsOtherDestinationsExact: one destination past its budget
// does not make another inexact.
func TestBudgetKeepsOtherDestinationsExact(t *testing.T) {
	manifests := adversarialManifests("deny-interleaved", 20, 3) + `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: quiet.example, namespace: istio-egress}
spec:
  hosts: [quiet.example]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: quiet, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: quiet.example}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
`
	in := parseInput(t, manifests)
	in.Budget = Budget{Work: 5_000, PerDestination: -1}
	r, _ := Build(in)
	byDest := map[string]bool{}
	for _, e := range r.Reachability {
		byDest[e.Destination] = byDest[e.Destination] || e.Inexact
	}
	if !byDest["httpbin.org:80"] || byDest["quiet.example:80"] {
		t.Fatalf("inexact by destination %v: want httpbin.org:80 only", byDest)
	}
	var names []string
	for _, f := range r.Findings {
		if f.Code == CodeReportTooComplex {
			names = append(names, f.Object)
			if !strings.Contains(f.Message, "istio-egress/adv-1") {
				t.Errorf("finding does not name the DENY policies: %s", f.Message)
			}
		}
	}
	if !slices.Equal(names, []string{"ServiceEntry istio-egress/httpbin.org"}) {
		t.Fatalf("ReportTooComplex findings on %v", names)
	}
	checkSound(t, in, r, 2000)
}

// TestBuildHonoursCancellation: with no work or time budget an adversarial
// report takes minutes; a context canceled in the middle of the symbolic
// work ends the build with the context's error. The context turns canceled
// after the build has looked at it a number of times, so the cancellation
// lands mid-subtraction without any sleep.
func TestBuildHonoursCancellation(t *testing.T) {
	in := parseInput(t, adversarialManifests("deny-interleaved", 100, 1))
	in.Budget = Budget{Work: 1 << 62, PerDestination: -1}
	ctx := &cancelAfter{Context: context.Background(), checks: 200}
	_, _, err := BuildContext(ctx, in)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if ctx.seen <= ctx.checks {
		t.Fatalf("the build looked at its context %d times: it was not canceled mid-work", ctx.seen)
	}
}

// cancelAfter is a context whose Err turns Canceled after checks calls.
type cancelAfter struct {
	context.Context
	checks, seen int
}

func (c *cancelAfter) Err() error {
	c.seen++
	if c.seen > c.checks {
		return context.Canceled
	}
	return nil
}

// TestShadowedByDenyIgnoresOrder: a DENY policy shadows an ALLOW rule
// whatever the two policies are called (DENY policies are evaluated first
// whatever their names).
func TestShadowedByDenyIgnoresOrder(t *testing.T) {
	for _, names := range [][2]string{{"a-allow", "z-deny"}, {"z-allow", "a-deny"}} {
		manifests := advBase + fmt.Sprintf(`---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: %s, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]
  rules: [{to: [{operation: {methods: [POST], paths: ["/admin/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: %s, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin.org}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]
`, names[0], names[1])
		r, _ := Build(parseInput(t, manifests))
		found := false
		for _, f := range r.Findings {
			found = found || (f.Code == CodeShadowedByDeny && f.Object == "AuthorizationPolicy istio-egress/"+names[0])
		}
		if !found {
			t.Errorf("allow %s, deny %s: no ShadowedByDeny finding in %+v", names[0], names[1], r.Findings)
		}
	}
}
