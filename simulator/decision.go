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
	// Unauthenticated is set when the waypoint refused the request's JWT
	// (HTTP 401) before any authorization policy ran.
	Unauthenticated bool `json:"unauthenticated,omitempty"`
	// CustomProvider names the CUSTOM provider the request was delegated to.
	CustomProvider string `json:"customProvider,omitempty"`
	// DryRun lists what dry-run policies would have done; they never change
	// the verdict.
	DryRun []string `json:"dryRun,omitempty"`
	// Audited lists AUDIT policies whose rules matched; they never change
	// the verdict.
	Audited []string `json:"audited,omitempty"`
	// Steps are the evaluation steps, in order; filled only when
	// Request.Explain.
	Steps []TraceStep `json:"steps"`
	// Trace is the Text of each step, one line each (the form of earlier
	// releases, kept for scripts that read it).
	Trace []string `json:"trace"`
}

// Stages of an evaluation, as TraceStep.Stage names them.
const (
	// StageDestination: which enforcement point serves the request, and
	// how it parses it.
	StageDestination = "destination"
	// StageAuthn: the waypoint's JWT validation (RequestAuthentication),
	// which may refuse the request before authorization.
	StageAuthn = "authn"
	// StageCustom, StageAudit, StageDeny, StageAllow: one policy of that
	// action, matched or not.
	StageCustom = "custom"
	StageAudit  = "audit"
	StageDeny   = "deny"
	StageAllow  = "allow"
	// StageDryRun: what a dry-run policy would have done.
	StageDryRun = "dry-run"
	// StageDecision: the rule that decided, as the enforcement point runs
	// it, or the default when no rule did.
	StageDecision = "decision"
)

// TraceStep is one step of an evaluation.
type TraceStep struct {
	// Stage is one of the Stage constants.
	Stage string `json:"stage"`
	// Policy is "namespace/name" of the policy the step is about; empty
	// for the destination and a default decision.
	Policy string `json:"policy,omitempty"`
	// Rule is the index of the rule that matched, -1 when none did or the
	// step is not about a rule.
	Rule int `json:"rule"`
	// Matched tells whether the policy's rule matched.
	Matched bool `json:"matched"`
	// Text says the step in one sentence.
	Text string `json:"text"`
}
