package v1alpha1

// Condition types written to EgressGateway status.conditions. Ready is derived
// from the others in one place, so a user can wait on it alone.
const (
	// ConditionReady is True when every other condition the spec asks for
	// is True. Verified is not one of them: it judges the report, not the
	// egress gateway.
	ConditionReady = "Ready"
	// ConditionWaypointReady is True when istiod has programmed the waypoint
	// Gateway with an address and its Deployment is Available.
	ConditionWaypointReady = "WaypointReady"
	// ConditionReleased is True when the waypoint's Helm release is deployed
	// from the current spec; its reason and message are those of the last
	// Helm action, also sent as an Event.
	ConditionReleased = "Released"
	// ConditionEnrolled is True when the namespace, or every selected
	// ServiceEntry, carries the istio.io/use-waypoint label for this gateway.
	ConditionEnrolled = "Enrolled"
	// ConditionPoliciesValid is True when no AuthorizationPolicy that applies
	// to this gateway has an error-level finding.
	ConditionPoliciesValid = "PoliciesValid"
	// ConditionSimulated is True when status.simulation describes the current
	// inputs.
	ConditionSimulated = "Simulated"
	// ConditionDestinationsReady is True when every spec.destinations entry
	// has its ServiceEntry (and DestinationRule) as rendered; absent when
	// spec.destinations is empty and the gateway owns no such object.
	ConditionDestinationsReady = "DestinationsReady"
	// ConditionLockedDown is True when spec.lockdown.mode is Enforce and
	// every source namespace has the operator's NetworkPolicy; absent when
	// the mode is Off.
	ConditionLockedDown = "LockedDown"
	// ConditionAccessLogging is True when the waypoint's access logging
	// Telemetry is as spec.observability.accessLogging asks; absent when
	// access logging is off and the gateway owns no such object.
	ConditionAccessLogging = "AccessLogging"
	// ConditionVerified is True when the report agrees with the RBAC istiod
	// generates for the waypoint on every request checked; absent unless
	// the operator runs with --verify-xds-address.
	ConditionVerified = "Verified"
	// ConditionObserved is True when status.observed holds a recent reading
	// of spec.observability.prometheus; absent when that is unset.
	ConditionObserved = "Observed"
)

// ConditionOrder lists the condition types in the order to show them:
// Ready, then the phases in the order the operator runs them. The status
// keeps them in the order each was first set, which depends on timing.
var ConditionOrder = []string{ConditionReady, ConditionReleased, ConditionWaypointReady, ConditionEnrolled,
	ConditionDestinationsReady, ConditionLockedDown, ConditionAccessLogging, ConditionPoliciesValid, ConditionSimulated, ConditionVerified, ConditionObserved}

// Reasons of Observed.
const (
	// ReasonQueried means Prometheus answered and status.observed is
	// current.
	ReasonQueried = "Queried"
	// ReasonPrometheusUnavailable means Prometheus could not be queried
	// (down, slow, refusing); status.observed keeps the last reading and
	// the operator retries with backoff.
	ReasonPrometheusUnavailable = "PrometheusUnavailable"
	// ReasonInvalidPrometheus means the token Secret or CA ConfigMap is
	// missing or unusable.
	ReasonInvalidPrometheus = "InvalidPrometheus"
)

// Reasons of Verified.
const (
	// ReasonAgrees means the simulator and istiod's RBAC agree on every
	// request checked.
	ReasonAgrees = "Agrees"
	// ReasonModelDisagrees means they answer some requests differently,
	// still after istiod had time to take in the inputs: the report is
	// wrong for those requests (finding ModelDisagrees lists them).
	ReasonModelDisagrees = "ModelDisagrees"
	// ReasonIstiodUnreachable means istiod's configuration for the
	// waypoint could not be read; the operator retries.
	ReasonIstiodUnreachable = "IstiodUnreachable"
	// ReasonVerifying means the check waits for something: the report of
	// the current inputs, a running waypoint pod, or istiod to take in a
	// change it disagreed with.
	ReasonVerifying = "Verifying"
)

// Reasons of LockedDown (besides ReasonConflict and ReasonApplyFailed).
const (
	// ReasonEnforced means every source namespace has the NetworkPolicy.
	ReasonEnforced = "Enforced"
	// ReasonAudit means the mode is Audit: nothing is written.
	ReasonAudit = "Audit"
	// ReasonInvalidLockdown means spec.lockdown cannot be turned into a
	// NetworkPolicy (an allowCIDRs entry that is not a range).
	ReasonInvalidLockdown = "InvalidLockdown"
)

// Reasons of AccessLogging (besides ReasonApplied, ReasonConflict and
// ReasonApplyFailed).
const (
	// ReasonInvalidFilter means spec.observability.accessLogging.filter is
	// not a CEL expression istiod would accept.
	ReasonInvalidFilter = "InvalidFilter"
)

// Reasons of DestinationsReady (besides ReasonConflict).
const (
	// ReasonApplied means every object spec.destinations asks for exists as
	// rendered.
	ReasonApplied = "Applied"
	// ReasonInvalidDestination means a destination cannot be rendered as
	// Istio would accept it, or the API server rejected its object.
	ReasonInvalidDestination = "InvalidDestination"
	// ReasonApplyFailed means an object could not be read or written (the
	// API server is unavailable, or RBAC forbids it); the operator retries.
	ReasonApplyFailed = "ApplyFailed"
)

// Condition reasons. They are CamelCase identifiers that tooling can switch on;
// the condition message carries the human explanation.
const (
	// ReasonReconciling means the operator is still acting on the latest spec.
	ReasonReconciling = "Reconciling"
	// ReasonAsExpected means the condition holds.
	ReasonAsExpected = "AsExpected"
	// ReasonNotReady is set on Ready when another condition is not True; the
	// message names it.
	ReasonNotReady = "NotReady"
	// ReasonWaitingForIstiod means nothing has programmed the waypoint Gateway
	// yet, usually because istiod is not running or ambient is not enabled.
	ReasonWaitingForIstiod = "WaitingForIstiod"
	// ReasonNoAddress means the Gateway is programmed but has no address yet.
	ReasonNoAddress = "NoAddress"
	// ReasonDeploymentUnavailable means the waypoint Deployment istiod created
	// is missing or not Available.
	ReasonDeploymentUnavailable = "DeploymentUnavailable"
	// ReasonInstallFailed, ReasonUpgradeFailed, ReasonRollbackFailed and
	// ReasonUninstallFailed carry a Helm error, verbatim and trimmed.
	ReasonInstallFailed   = "InstallFailed"
	ReasonUpgradeFailed   = "UpgradeFailed"
	ReasonRollbackFailed  = "RollbackFailed"
	ReasonUninstallFailed = "UninstallFailed"
	// ReasonUnlockFailed means a release stuck in pending-* could not be
	// marked failed; ReasonRepairFailed means drifted objects could not be
	// put back.
	ReasonUnlockFailed = "UnlockFailed"
	ReasonRepairFailed = "RepairFailed"
	// ReasonInvalidValues means the chart values could not be computed from
	// the spec, usually because spec.waypoint.values is not an object.
	ReasonInvalidValues = "InvalidValues"
	// ReasonInstalled, ReasonUpgraded, ReasonRolledBack, ReasonUnlocked,
	// ReasonUninstalled and ReasonDriftRepaired name the Helm action that
	// just succeeded.
	ReasonInstalled     = "Installed"
	ReasonUpgraded      = "Upgraded"
	ReasonRolledBack    = "RolledBack"
	ReasonUnlocked      = "Unlocked"
	ReasonUninstalled   = "Uninstalled"
	ReasonDriftRepaired = "DriftRepaired"
	// ReasonGatewayMissing means the waypoint Gateway the release renders
	// does not exist yet.
	ReasonGatewayMissing = "GatewayMissing"
	// ReasonObserveFailed means the operator could not read what the
	// condition is about (the release, the Gateway or its Deployment, a
	// namespace): the state is not known, not absent; the operator retries
	// and the message carries the error.
	ReasonObserveFailed = "ObserveFailed"
	// ReasonConflict means a label this gateway needs is owned by someone else.
	ReasonConflict = "Conflict"
	// ReasonInvalidPolicies means at least one policy has an error finding.
	ReasonInvalidPolicies = "InvalidPolicies"
	// ReasonSimulationFailed means the inputs could not be read or simulated.
	ReasonSimulationFailed = "SimulationFailed"
	// ReasonInvalidSelector means a label selector of the spec does not
	// parse; the message names the field.
	ReasonInvalidSelector = "InvalidSelector"
	// ReasonMeshConfigInvalid is the Event sent when Istio's mesh config
	// ConfigMap does not decode: istiod ignores it, and the report assumes
	// Istio's defaults (status.mesh.source says so).
	ReasonMeshConfigInvalid = "MeshConfigInvalid"
	// ReasonTooComplex means the simulation budget ran out on at least one
	// destination: the report is written, but those destinations' entries
	// are inexact (access unknown).
	ReasonTooComplex = "TooComplex"
)

// Finalizer is added to every EgressGateway so the operator can uninstall the
// waypoint release and remove enrollment labels before the object goes away.
const Finalizer = "egress.ambient.io/finalizer"
