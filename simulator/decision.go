package simulator

// Verdict is the outcome of an authorization check.
type Verdict string

const (
	// Allow lets the request through.
	Allow Verdict = "ALLOW"
	// Deny rejects the request (HTTP 403 or a reset connection).
	Deny Verdict = "DENY"
)

// Decision is the result of Program.Eval.
type Decision struct {
	// Verdict is ALLOW or DENY.
	Verdict Verdict `json:"verdict"`
	// EnforcedAt is the proxy that decided: waypoint, ztunnel or none.
	EnforcedAt EnforcementPoint `json:"enforcedAt"`
	// Waypoint is "namespace/name" of the deciding waypoint, if any.
	Waypoint string `json:"waypoint,omitempty"`
	// Service is "Kind namespace/name" of the destination the host resolved to.
	Service string `json:"service,omitempty"`
	// Protocol is how the enforcement point saw the traffic: HTTP or TCP.
	Protocol string `json:"protocol,omitempty"`
	// DecidingPolicy is "namespace/name" of the policy that decided, or empty
	// when no policy did (no policy applies, or none enforces).
	DecidingPolicy string `json:"decidingPolicy"`
	// Rule is the index of the deciding rule, or -1 when no rule matched
	// (for example a deny because no ALLOW rule matched).
	Rule int `json:"rule"`
	// Reason is one sentence explaining the verdict.
	Reason string `json:"reason"`
	// CustomProvider names the CUSTOM provider the request was delegated to.
	CustomProvider string `json:"customProvider,omitempty"`
	// DryRun lists what dry-run policies would have done; they never change
	// the verdict.
	DryRun []string `json:"dryRun,omitempty"`
	// Audited lists AUDIT policies whose rules matched; they never change
	// the verdict.
	Audited []string `json:"audited,omitempty"`
	// Trace lists the evaluation steps; filled only when Request.Explain.
	Trace []string `json:"trace"`
}
