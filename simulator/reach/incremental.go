package reach

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// Builder builds reports and reuses, from one build to the next, the work
// that did not change: a destination whose ServiceEntry binding, port and
// enforced policies are the same as last time keeps its entries and
// findings, and source conditions keep their resolved sources as long as the
// sources and mesh settings are the same. The zero value is ready to use; a
// Builder is not safe for concurrent use.
type Builder struct {
	sourcesKey string
	atoms      *atomTable
	index      *sourceIndex
	dests      map[string]destResult
	// hashes caches the digest of each policy object, by pointer: an
	// unchanged object in the next snapshot is the same pointer.
	hashes map[*simulator.AuthorizationPolicy]uint64
	// prog and issues are the last compiled program and its issues, which
	// UpdatePolicy starts from.
	prog   *simulator.Program
	issues simulator.Issues
	// sameSources is set by UpdatePolicy and DeletePolicy, which change
	// nothing but a policy: the sources and the objects policies can name
	// need no recomputing.
	sameSources bool
	findings    policyFindingsCache
}

// destResult is what one destination contributes to a report.
type destResult struct {
	fingerprint uint64
	entries     []Entry
	// ids are the source indexes of each entry, for grouping.
	ids      [][]int32
	findings []Finding
	rules    []ruleStatus
	// timedOut is set when a time budget cut the work short.
	timedOut bool
}

// Build compiles the inputs and computes their report, reusing what it can
// from the previous call.
func (bl *Builder) Build(in Input) (*Report, simulator.Issues) {
	r, issues, _ := bl.BuildContext(context.Background(), in)
	return r, issues
}

// BuildContext is Build that stops when ctx is done and returns its error.
func (bl *Builder) BuildContext(ctx context.Context, in Input) (*Report, simulator.Issues, error) {
	prog, issues := simulator.Compile(in.Snapshot, in.Options)
	return bl.buildWith(ctx, in, prog, issues)
}

// UpdatePolicy re-simulates after one policy changed: in.Snapshot holds the
// new version of ap (already replaced, or added), and only ap is compiled
// again (simulator.Program.WithPolicy); destinations whose policies did not
// change keep their results. Without a previous build it is Build. The
// simulator's issues about ap are its admission findings only; a full Build
// recomputes the others.
func (bl *Builder) UpdatePolicy(in Input, ap *simulator.AuthorizationPolicy) (*Report, simulator.Issues) {
	r, issues, _ := bl.UpdatePolicyContext(context.Background(), in, ap)
	return r, issues
}

// UpdatePolicyContext is UpdatePolicy that stops when ctx is done.
func (bl *Builder) UpdatePolicyContext(ctx context.Context, in Input, ap *simulator.AuthorizationPolicy) (*Report, simulator.Issues, error) {
	if bl.prog == nil {
		return bl.BuildContext(ctx, in)
	}
	prog, found := bl.prog.WithPolicy(ap)
	bl.sameSources = true
	return bl.buildWith(ctx, in, prog, replaceIssues(bl.issues, ap.Object(), found))
}

// DeletePolicy re-simulates after a policy was deleted from in.Snapshot.
func (bl *Builder) DeletePolicy(in Input, namespace, name string) (*Report, simulator.Issues) {
	r, issues, _ := bl.DeletePolicyContext(context.Background(), in, namespace, name)
	return r, issues
}

// DeletePolicyContext is DeletePolicy that stops when ctx is done.
func (bl *Builder) DeletePolicyContext(ctx context.Context, in Input, namespace, name string) (*Report, simulator.Issues, error) {
	if bl.prog == nil {
		return bl.BuildContext(ctx, in)
	}
	object := simulator.Origin{Kind: "AuthorizationPolicy", Namespace: namespace, Name: name}.Object()
	bl.sameSources = true
	return bl.buildWith(ctx, in, bl.prog.WithoutPolicy(namespace, name), replaceIssues(bl.issues, object, nil))
}

// replaceIssues drops the issues about object and adds found.
func replaceIssues(issues simulator.Issues, object string, found simulator.Issues) simulator.Issues {
	out := make(simulator.Issues, 0, len(issues)+len(found))
	for _, is := range issues {
		if is.Object != object {
			out = append(out, is)
		}
	}
	return append(out, found...)
}

// buildWith computes the report of a compiled program. A destination whose
// budget ran out on time is not kept for the next build, which may have the
// time; one that ran out of work is, as the same inputs need the same work.
func (bl *Builder) buildWith(ctx context.Context, in Input, prog *simulator.Program, issues simulator.Issues) (*Report, simulator.Issues, error) {
	bl.prog, bl.issues = prog, issues
	opts := prog.Settings()
	if !bl.sameSources {
		principals := sourcePrincipals(in.Snapshot, in.ServiceAccounts, in.Sources, opts.TrustDomain)
		bl.resetSources(principals, opts)
		bl.findings = policyFindingsCache{}
	}
	bl.sameSources = false
	b := &builder{prog: prog, atoms: bl.atoms, index: bl.index, forms: newFormCache(),
		customDenies: opts.CustomProviderVerdict == simulator.Deny, ctx: ctx, budget: in.Budget.withDefaults()}
	if b.budget.Total > 0 {
		b.deadline = time.Now().Add(b.budget.Total)
	}
	dests := topology(prog, in.Snapshot)
	hashes := bl.policyHashes(in.Snapshot)
	// Destinations are independent (each has its own meter), so the ones
	// to compute are evaluated on every core; results keep their order.
	ids := make([]string, len(dests))
	fps := make([]uint64, len(dests))
	results := make([]destResult, len(dests))
	var todo []int
	for i, d := range dests {
		ids[i] = d.Key() + "\x00" + d.ServiceEntry
		fps[i] = fingerprint(d, hashes) ^ b.budget.fingerprint()
		if r, ok := bl.dests[ids[i]]; ok && r.fingerprint == fps[i] {
			results[i] = r
		} else {
			todo = append(todo, i)
		}
	}
	b.each(todo, func(w *builder, i int) { results[i] = w.destResult(dests[i], fps[i]) })
	if err := ctx.Err(); err != nil {
		bl.dests = nil
		return nil, issues, err
	}
	next := make(map[string]destResult, len(dests))
	for i, r := range results {
		if !r.timedOut {
			next[ids[i]] = r
		}
	}
	bl.dests = next
	return assemble(b, in, dests, results, issues, &bl.findings), issues, nil
}

// destResult computes one destination's entries and findings, each under
// its own meter, and says when the budget cut them short.
func (b *builder) destResult(d *destSpec, fp uint64) destResult {
	r := destResult{fingerprint: fp}
	em := b.meter()
	r.entries, r.ids = b.destEntries(d, b.evalOptions(), em)
	fm := b.meter()
	r.findings, r.rules = b.destFindings(d, fm)
	r.findings = append(r.findings, b.accessFindings(d, r.entries, r.ids, fm)...)
	// A meter that ran out may still have left every entry exact (it ran
	// out while pruning, which changes no space): the finding says what
	// was actually cut short.
	inexact := slices.ContainsFunc(r.entries, func(e Entry) bool { return e.Inexact })
	if inexact || fm.exhausted() {
		r.findings = append(r.findings, tooComplexFinding(d, b.budget, inexact))
	}
	r.timedOut = em.timedOut || fm.timedOut
	return r
}

// resetSources keeps the atom table and source index while the sources and
// settings are unchanged: resolved source conditions stay valid.
func (bl *Builder) resetSources(principals []string, opts simulator.Options) {
	key := opts.TrustDomain + "\x00" + strings.Join(opts.TrustDomainAliases, ",") + "\x00" +
		opts.RootNamespace + "\x00" + string(opts.CustomProviderVerdict) + "\x00" + strings.Join(principals, "\n") +
		"\x00" + strconv.FormatBool(opts.ExtensionProvidersKnown) + "\x00" + strings.Join(opts.ExtensionProviders, ",")
	if bl.atoms != nil && key == bl.sourcesKey {
		return
	}
	bl.sourcesKey = key
	bl.atoms = newAtomTable()
	bl.index = newSourceIndex(principals, opts.TrustDomain)
	bl.dests = nil
}

// policyHashes digests every policy's metadata and spec by key.
func (bl *Builder) policyHashes(snap *simulator.Snapshot) map[string]uint64 {
	next := make(map[*simulator.AuthorizationPolicy]uint64, len(snap.AuthorizationPolicies))
	out := make(map[string]uint64, len(snap.AuthorizationPolicies))
	for _, p := range snap.AuthorizationPolicies {
		h, ok := bl.hashes[p]
		if !ok {
			h = policyHash(p)
		}
		next[p] = h
		out[p.Namespace+"/"+p.Name] = h
	}
	bl.hashes = next
	return out
}

func policyHash(p *simulator.AuthorizationPolicy) uint64 {
	h := fnv.New64a()
	data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(p.Spec)
	_, _ = h.Write(data)
	_, _ = h.Write([]byte(p.Annotations["istio.io/dry-run"]))
	return h.Sum64()
}

// fingerprint digests everything a destination's result depends on
// besides the sources: its address, binding, chain, TLS origination and the
// digests of its policies in order.
func fingerprint(d *destSpec, hashes map[string]uint64) uint64 {
	h := fnv.New64a()
	parts := []string{d.Host, strconv.Itoa(d.Port), d.Protocol, d.Binding, strconv.FormatBool(d.http), strconv.Itoa(d.TargetPort)}
	if d.TLSOrigination != nil {
		parts = append(parts, d.TLSOrigination.Mode, strconv.Itoa(d.TLSOrigination.Port))
	}
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	var buf [8]byte
	for _, k := range d.Policies {
		_, _ = h.Write([]byte(k))
		binary.LittleEndian.PutUint64(buf[:], hashes[k])
		_, _ = h.Write(buf[:])
	}
	return h.Sum64()
}
