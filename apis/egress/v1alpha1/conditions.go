package v1alpha1

// Condition types written to EgressGateway status.conditions. Ready is derived
// from the others in one place, so a user can wait on it alone.
const (
	// ConditionReady is True when every other condition is True.
	ConditionReady = "Ready"
	// ConditionWaypointReady is True when istiod has programmed the waypoint
	// Gateway with an address and its Deployment is Available.
	ConditionWaypointReady = "WaypointReady"
	// ConditionEnrolled is True when the namespace, or every selected
	// ServiceEntry, carries the istio.io/use-waypoint label for this gateway.
	ConditionEnrolled = "Enrolled"
	// ConditionPoliciesValid is True when no AuthorizationPolicy that applies
	// to this gateway has an error-level finding.
	ConditionPoliciesValid = "PoliciesValid"
	// ConditionSimulated is True when status.simulation describes the current
	// inputs.
	ConditionSimulated = "Simulated"
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
	// ReasonConflict means a label this gateway needs is owned by someone else.
	ReasonConflict = "Conflict"
	// ReasonInvalidPolicies means at least one policy has an error finding.
	ReasonInvalidPolicies = "InvalidPolicies"
	// ReasonSimulationDisabled means spec.simulation.disabled is true.
	ReasonSimulationDisabled = "SimulationDisabled"
	// ReasonSimulationFailed means the inputs could not be read or simulated.
	ReasonSimulationFailed = "SimulationFailed"
)

// Finalizer is added to every EgressGateway so the operator can uninstall the
// waypoint release and remove enrollment labels before the object goes away.
const Finalizer = "egress.ambient.io/finalizer"
