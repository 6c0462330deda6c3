//go:build dataplane

package dataplane

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go4.org/netipx"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
	"github.com/ambient-egress/ambient-egress-operator/simulator/netpol"
)

// report is the part of `egressctl simulate -o json` the test reads.
type report struct {
	Direct []struct {
		Destination string   `json:"destination"`
		Sources     []string `json:"sources"`
		Access      string   `json:"access"`
		Allowed     []string `json:"allowed"`
		BlockedBy   []string `json:"blockedBy"`
		Reason      string   `json:"reason"`
	} `json:"direct"`
	Findings []struct {
		Severity string `json:"severity"`
		Code     string `json:"code"`
		Object   string `json:"object"`
		Message  string `json:"message"`
	} `json:"findings"`
}

// manifests renders the objects egressctl reads: the Namespaces, the
// ServiceAccount default/default, the Pods (with status.podIP), the user's
// NetworkPolicies (live: every policy, the lockdown's included) and the
// EgressGateway with the configuration's lockdown.
func manifests(cfg config, st *state, live bool) ([]byte, error) {
	var docs []any
	for _, ns := range st.namespaces {
		docs = append(docs, map[string]any{"apiVersion": "v1", "kind": "Namespace",
			"metadata": map[string]any{"name": ns.Name, "labels": ns.Labels}})
	}
	docs = append(docs, map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "default", "namespace": "default"}})
	for _, p := range st.pods {
		var containers []any
		for _, c := range p.Spec.Containers {
			containers = append(containers, map[string]any{"name": c.Name, "image": c.Image, "ports": c.Ports})
		}
		docs = append(docs, map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": p.Name, "namespace": p.Namespace, "labels": p.Labels},
			"spec":     map[string]any{"serviceAccountName": p.Spec.ServiceAccountName, "containers": containers},
			"status":   map[string]any{"podIP": p.Status.PodIP}})
	}
	for _, np := range st.policies {
		if !live && lockdown.Owned(np.Labels, gatewayNamespace, gatewayName) {
			continue
		}
		docs = append(docs, map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
			"metadata": map[string]any{"name": np.Name, "namespace": np.Namespace, "labels": np.Labels},
			"spec":     np.Spec})
	}
	ld := map[string]any{"mode": cfg.mode, "allowInCluster": cfg.allowInCluster}
	if len(cfg.allowCIDRs) > 0 {
		ld["allowCIDRs"] = cfg.allowCIDRs
	}
	docs = append(docs, map[string]any{"apiVersion": "egress.ambient.io/v1alpha1", "kind": "EgressGateway",
		"metadata": map[string]any{"name": gatewayName, "namespace": gatewayNamespace},
		"spec":     map[string]any{"lockdown": ld}})
	var out bytes.Buffer
	for _, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes(), nil
}

// report writes the configuration's manifests into a directory and runs
// egressctl simulate on it.
func (e *env) report(egressctl string, cfg config, st *state, live bool) (*report, error) {
	kind := "declared"
	if live {
		kind = "live"
	}
	dir := filepath.Join(e.work, "report-"+strings.NewReplacer(" ", "-", "/", "-", ",", "").Replace(cfg.name)+"-"+kind)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	data, err := manifests(cfg, st, live)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "objects.yaml"), data, 0o644); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(egressctl, "simulate", "-f", dir, "-o", "json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("egressctl simulate (%s): %w\n%s\nmanifests:\n%s", kind, err, stderr.String(), data)
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("egressctl simulate (%s): %w", kind, err)
	}
	return &r, nil
}

// checkReport checks the direct row of default's sources to any other
// host and the LockdownDefeated findings against the configuration, and
// the row's prediction for the two external addresses against what the
// data plane did.
func checkReport(t *testing.T, cfg config, live bool, r *report, got map[triple]string, api []lockdown.Endpoint) {
	t.Helper()
	kind := "declared"
	if live {
		kind = "live"
	}
	where := fmt.Sprintf("%s: report (%s)", cfg.name, kind)
	var rows []int
	for i, d := range r.Direct {
		if d.Destination != "*" {
			continue
		}
		for _, s := range d.Sources {
			if strings.HasPrefix(s, "default/") {
				rows = append(rows, i)
				break
			}
		}
	}
	if len(rows) != 1 {
		t.Errorf("%s: want one direct row to \"*\" for default's sources, got %d: %+v", where, len(rows), r.Direct)
		return
	}
	row := r.Direct[rows[0]]
	t.Logf("%s: direct to *: sources %v, access %s, allowed %v, blockedBy %v", where, row.Sources, row.Access, row.Allowed, row.BlockedBy)
	entries := make([]allowedEntry, 0, len(row.Allowed))
	for _, a := range row.Allowed {
		en, err := parseAllowed(a)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		entries = append(entries, en)
	}
	if row.Access != string(cfg.wantAccess) {
		t.Errorf("%s: access %s, want %s (%s)", where, row.Access, cfg.wantAccess, row.Reason)
	}
	if cfg.wantAllowed != "" && !coversRange(entries, api, netip.MustParsePrefix(cfg.wantAllowed)) {
		t.Errorf("%s: allowed %v does not cover %s", where, row.Allowed, cfg.wantAllowed)
	}
	var defeated []string
	for _, f := range r.Findings {
		if f.Code == "LockdownDefeated" {
			defeated = append(defeated, f.Object)
		}
	}
	switch {
	case cfg.wantDefeatedBy == "" && len(defeated) > 0:
		t.Errorf("%s: unexpected LockdownDefeated findings on %v", where, defeated)
	case cfg.wantDefeatedBy != "" && !slices.Contains(defeated, "NetworkPolicy default/"+cfg.wantDefeatedBy):
		t.Errorf("%s: no LockdownDefeated finding names NetworkPolicy default/%s (findings on %v)", where, cfg.wantDefeatedBy, defeated)
	}
	for _, tr := range []triple{probeAllowedCIDR, probeOther} {
		pred := closedV
		if predictOpen(netpol.Reach(row.Access), entries, tr) {
			pred = openV
		}
		if pred != got[tr] {
			t.Errorf("%s: the direct row (%s, allowed %v) predicts %s for %s, the data plane said %s", where, row.Access, row.Allowed, pred, tr, got[tr])
		} else {
			t.Logf("%s: predicts %s for %s, as the data plane did", where, pred, tr)
		}
	}
}

// allowedEntry is one entry of a direct row's allowed list:
// "CIDR[,CIDR...] [except CIDR,...] PORTS (policy rule i, ...)".
type allowedEntry struct {
	prefixes, except []netip.Prefix
	ports            string
}

func parseAllowed(s string) (allowedEntry, error) {
	var en allowedEntry
	rest, _, _ := strings.Cut(s, " (")
	ranges, ports, ok := strings.Cut(rest, " ")
	if !ok {
		return en, fmt.Errorf("allowed entry %q: no ports", s)
	}
	parse := func(list string) ([]netip.Prefix, error) {
		var out []netip.Prefix
		for _, x := range strings.Split(list, ",") {
			p, err := netip.ParsePrefix(x)
			if err != nil {
				return nil, fmt.Errorf("allowed entry %q: %w", s, err)
			}
			out = append(out, p)
		}
		return out, nil
	}
	var err error
	if en.prefixes, err = parse(ranges); err != nil {
		return en, err
	}
	if ex, ok := strings.CutPrefix(ports, "except "); ok {
		var list string
		list, ports, _ = strings.Cut(ex, " ")
		if en.except, err = parse(list); err != nil {
			return en, err
		}
	}
	en.ports = ports
	return en, nil
}

// covers says whether the entry opens the connection.
func (en allowedEntry) covers(tr triple) bool {
	addr := mustAddr(tr.ip)
	in := func(ps []netip.Prefix) bool {
		return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(addr) })
	}
	return in(en.prefixes) && !in(en.except) && portsCover(en.ports, tr)
}

// coversRange says whether the allowed entries, on some port, open every
// address of want. The API server's endpoints count as covered: the report
// leaves them out of "any other host", as they are in the cluster.
func coversRange(entries []allowedEntry, api []lockdown.Endpoint, want netip.Prefix) bool {
	var b netipx.IPSetBuilder
	for _, en := range entries {
		for _, p := range en.prefixes {
			b.AddPrefix(p)
		}
		for _, p := range en.except {
			b.RemovePrefix(p)
		}
	}
	for _, e := range api {
		b.Add(e.Address)
	}
	set, err := b.IPSet()
	return err == nil && set.ContainsPrefix(want)
}

// predictOpen reads a direct row as a prediction for one connection:
// direct opens everything, blocked nothing, partial what one of the
// allowed entries covers.
func predictOpen(access netpol.Reach, entries []allowedEntry, tr triple) bool {
	switch access {
	case netpol.Direct:
		return true
	case netpol.Partial:
		return slices.ContainsFunc(entries, func(en allowedEntry) bool { return en.covers(tr) })
	default:
		return false
	}
}

// portsCover reads netpol.PortsText: "any port", or "TCP 443, UDP 53-55,
// TCP any port".
func portsCover(text string, tr triple) bool {
	if text == "any port" {
		return true
	}
	for _, p := range strings.Split(text, ", ") {
		proto, port, _ := strings.Cut(p, " ")
		if corev1.Protocol(proto) != tr.proto {
			continue
		}
		if port == "any port" {
			return true
		}
		lo, hi, isRange := strings.Cut(port, "-")
		l, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		h := l
		if isRange {
			if h, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if tr.port >= l && tr.port <= h {
			return true
		}
	}
	return false
}

func mustAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}
