package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/xds"
	"github.com/ambient-egress/ambient-egress-operator/simulator/envoyrbac"
	"github.com/ambient-egress/ambient-egress-operator/simulator/verify"
)

// VerifyOptions turn on the check of each report against the RBAC istiod
// generates for the waypoint. The operator reads that configuration from
// istiod's plaintext xDS port, presenting itself as a waypoint pod, as
// istioctl's proxy-status does from inside the mesh: it needs no
// Kubernetes permission beyond reading pods, only a network path to istiod.
type VerifyOptions struct {
	// XDSAddress is istiod's plaintext xDS address
	// (istiod.istio-system.svc:15010); empty turns verification off.
	XDSAddress string
	// ClusterID is istiod's cluster ID; xds.DefaultClusterID when empty.
	ClusterID string
	// Timeout bounds one check: reading istiod's configuration and
	// comparing; DefaultVerifyTimeout when zero.
	Timeout time.Duration
	// Settle is how long after a report's inputs changed a disagreement
	// is taken for istiod not having pushed them yet, and checked again;
	// DefaultVerifySettle when zero.
	Settle time.Duration
	// Interval is how often the same inputs are checked again (istiod may
	// have been upgraded); DefaultVerifyInterval when zero.
	Interval time.Duration
	// Retry is how soon a check that could not read istiod runs again;
	// DefaultVerifyRetry when zero.
	Retry time.Duration
}

// Defaults of VerifyOptions.
const (
	DefaultVerifyTimeout  = 15 * time.Second
	DefaultVerifySettle   = 20 * time.Second
	DefaultVerifyInterval = time.Hour
	DefaultVerifyRetry    = 30 * time.Second
)

// youngRecheck is how soon a disagreement within the settle period is
// checked again.
const youngRecheck = 3 * time.Second

// recheckDisagreement is how soon inputs the check disagreed with are
// checked again, when Interval is longer.
const recheckDisagreement = 5 * time.Minute

// verifyMaxRequests bounds the requests one check compares: about 0.2 s
// of CPU at the adversarial shape's cost (BenchmarkCheckWide); egressctl
// verify, run by a person, defaults to four times as many.
const verifyMaxRequests = 50_000

// maxVerificationExamples is how many disagreements the status quotes.
const maxVerificationExamples = 10

// verificationOutcome is what the verification phase found, for the status.
type verificationOutcome struct {
	// status is status.verification to write; nil keeps the current one.
	status *egressv1alpha1.VerificationStatus
	// cond is the Verified condition.
	cond *metav1.Condition
}

// verifyAttempt is a check that did not give a status yet (istiod out of
// reach, or a disagreement to confirm), and when to try again: reconciles
// in between reuse its condition instead of asking istiod each time.
type verifyAttempt struct {
	digest string
	next   time.Time
	cond   *metav1.Condition
}

// reconcileVerification checks the current report against the listeners
// istiod generates for one of the waypoint's pods, once per inputs digest
// (and again every Interval), when the operator runs with an xDS address.
// It never fails the reconcile: what it cannot do is its condition.
func (r *EgressGatewayReconciler) reconcileVerification(ctx context.Context, s *scope) (ctrl.Result, error) {
	key := client.ObjectKeyFromObject(s.egw)
	if r.Verify.XDSAddress == "" || s.egw.Spec.Simulation.Disabled {
		r.verifyAttempts.Delete(key)
		return ctrl.Result{}, nil
	}
	out := &verificationOutcome{}
	s.verification = out
	sim := s.simulation
	if sim == nil || !s.simulationSince.IsZero() || s.prepared == nil || sim.InputsDigest != s.prepared.Digest {
		out.cond = verifiedCondition(metav1.ConditionUnknown, egressv1alpha1.ReasonVerifying, "waiting for the report of the current inputs")
		return ctrl.Result{}, nil
	}
	now := time.Now()
	if res, ok := r.verificationCurrent(s.original.Status.Verification, sim.InputsDigest, now, out); ok {
		return res, nil
	}
	if v, ok := r.verifyAttempts.Load(key); ok {
		if a := v.(verifyAttempt); a.digest == sim.InputsDigest && now.Before(a.next) {
			out.cond = a.cond
			return ctrl.Result{RequeueAfter: a.next.Sub(now)}, nil
		}
	}
	// The cache may hold a status older than the one written last: read
	// it fresh before asking istiod again.
	fresh := &egressv1alpha1.EgressGateway{}
	if err := r.APIReader.Get(ctx, key, fresh); err == nil {
		if res, ok := r.verificationCurrent(fresh.Status.Verification, sim.InputsDigest, now, out); ok {
			return res, nil
		}
	}
	pod, err := r.waypointPod(ctx, s)
	if err == nil && pod == nil {
		out.cond = verifiedCondition(metav1.ConditionUnknown, egressv1alpha1.ReasonVerifying, fmt.Sprintf(
			"waiting for a running pod of waypoint %s with an IP: istiod generates a waypoint's configuration for its pods", s.gatewayName))
		r.verifyAttempts.Store(key, verifyAttempt{digest: sim.InputsDigest, next: now.Add(r.verifyRetry()), cond: out.cond})
		return ctrl.Result{RequeueAfter: r.verifyRetry()}, nil
	}
	var st *egressv1alpha1.VerificationStatus
	if err == nil {
		// While istiod is out of reach for every gateway, one worker
		// finds it out per retry period, not every gateway's.
		if err = r.istiodOutage.active(now); err == nil {
			st, err = r.verify(ctx, s, pod)
			r.istiodOutage.record(err, now.Add(r.verifyRetry()))
		}
	}
	if err != nil {
		out.cond = verifiedCondition(metav1.ConditionUnknown, egressv1alpha1.ReasonIstiodUnreachable,
			fmt.Sprintf("could not read istiod's configuration for the waypoint at %s, retrying in %s: %v", r.Verify.XDSAddress, r.verifyRetry(), err))
		r.verifyAttempts.Store(key, verifyAttempt{digest: sim.InputsDigest, next: now.Add(r.verifyRetry()), cond: out.cond})
		r.warnVerification(s, out.cond)
		return ctrl.Result{RequeueAfter: r.verifyRetry()}, nil
	}
	if st.Disagreements > 0 && sim.LastRunTime != nil {
		// istiod takes in a change some time after the report does:
		// a disagreement on inputs this young is asked again before it
		// is believed.
		// istiod usually pushes within a second or two: look again
		// soon, and believe a disagreement only once the settle
		// period is over.
		if settled := sim.LastRunTime.Add(r.verifySettle()); now.Before(settled) {
			out.cond = verifiedCondition(metav1.ConditionUnknown, egressv1alpha1.ReasonVerifying, fmt.Sprintf(
				"istiod's configuration disagrees on %d requests; checking again until %s, in case istiod has not taken in the latest change yet",
				st.Disagreements, settled.UTC().Format(time.RFC3339)))
			next := now.Add(youngRecheck)
			if settled.Before(next) {
				next = settled
			}
			r.verifyAttempts.Store(key, verifyAttempt{digest: sim.InputsDigest, next: next, cond: out.cond})
			return ctrl.Result{RequeueAfter: next.Sub(now)}, nil
		}
	}
	r.verifyAttempts.Delete(key)
	out.status, out.cond = st, verifiedFrom(st)
	r.warnVerification(s, out.cond)
	if st.Disagreements+st.NotCompared > 0 {
		return ctrl.Result{RequeueAfter: min(r.verifyInterval(), recheckDisagreement)}, nil
	}
	return ctrl.Result{RequeueAfter: r.verifyInterval()}, nil
}

// verificationCurrent sets out's condition from prev and reports true when
// prev checked digest and the next check is not due yet.
func (r *EgressGatewayReconciler) verificationCurrent(prev *egressv1alpha1.VerificationStatus, digest string, now time.Time, out *verificationOutcome) (ctrl.Result, bool) {
	if prev == nil || prev.InputsDigest != digest {
		return ctrl.Result{}, false
	}
	every := r.verifyInterval()
	if prev.Disagreements+prev.NotCompared > 0 {
		every = min(every, recheckDisagreement) // istiod may have caught up late
	}
	due := prev.LastRunTime.Add(every)
	if !now.Before(due) {
		return ctrl.Result{}, false
	}
	out.status, out.cond = prev, verifiedFrom(prev)
	return ctrl.Result{RequeueAfter: due.Sub(now)}, true
}

// verify reads the waypoint's listeners from istiod and compares the
// report's inputs with their RBAC filters, within the timeout.
func (r *EgressGatewayReconciler) verify(ctx context.Context, s *scope, pod *corev1.Pod) (*egressv1alpha1.VerificationStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, r.verifyTimeout())
	defer cancel()
	w := xds.Waypoint{Pod: pod, Gateway: s.gatewayName, ClusterID: r.Verify.ClusterID}
	if v := s.istio.Version; v.Major != 0 {
		w.IstioVersion = fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	}
	listeners, err := xds.Listeners(ctx, r.Verify.XDSAddress, w)
	if err != nil {
		return nil, err
	}
	chains, err := envoyrbac.ChainsFromListeners(listeners)
	if err != nil {
		return nil, err
	}
	res, err := verify.Check(ctx, s.prepared.Input, chains, verify.Options{MaxListed: maxVerificationExamples, MaxRequests: verifyMaxRequests})
	if err != nil {
		return nil, fmt.Errorf("comparing: %w", err)
	}
	st := &egressv1alpha1.VerificationStatus{
		InputsDigest: s.prepared.Digest, LastRunTime: metav1.NewTime(time.Now().Truncate(time.Second)),
		Pod: pod.Namespace + "/" + pod.Name, Compared: int32(res.Compared), DestinationPorts: int32(res.DestinationPorts),
		Disagreements: int32(res.DisagreementCount), NotCompared: int32(res.NotComparedCount), Truncated: res.Truncated,
	}
	for _, e := range slices.Concat(res.Disagreements, res.NotCompared) {
		if len(st.Examples) == maxVerificationExamples {
			break
		}
		st.Examples = append(st.Examples, e)
	}
	return st, nil
}

// waypointPod is the running waypoint pod with an IP, first by name, or
// nil when none runs; read around the cache (which drops pods' status).
// istiod generates the configuration of a proxy it can tie to a pod.
func (r *EgressGatewayReconciler) waypointPod(ctx context.Context, s *scope) (*corev1.Pod, error) {
	var pods corev1.PodList
	if err := r.APIReader.List(ctx, &pods, client.InNamespace(s.egw.Namespace), client.MatchingLabels{gatewayNameLabel: s.gatewayName}); err != nil {
		return nil, fmt.Errorf("listing the waypoint's pods: %w", err)
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for i, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.DeletionTimestamp.IsZero() {
			return &pods.Items[i], nil
		}
	}
	return nil, nil
}

// verifiedFrom is the Verified condition a verification status gives.
func verifiedFrom(st *egressv1alpha1.VerificationStatus) *metav1.Condition {
	what := fmt.Sprintf("%s on %s, against istiod's configuration for %s",
		count(st.Compared, "request", "requests"), count(st.DestinationPorts, "destination port", "destination ports"), st.Pod)
	if st.Truncated {
		what += " (stopped at the request budget: egressctl verify --max-requests checks more)"
	}
	if st.Disagreements+st.NotCompared == 0 {
		return verifiedCondition(metav1.ConditionTrue, egressv1alpha1.ReasonAgrees, "the report agrees with the waypoint's RBAC on "+what)
	}
	msg := fmt.Sprintf("the report disagrees with the waypoint's RBAC on %d and could not compare %d of %s", st.Disagreements, st.NotCompared, what)
	if len(st.Examples) > 0 {
		msg += "; first: " + st.Examples[0]
	}
	return verifiedCondition(metav1.ConditionFalse, egressv1alpha1.ReasonModelDisagrees, msg)
}

func verifiedCondition(status metav1.ConditionStatus, reason, message string) *metav1.Condition {
	return condition(egressv1alpha1.ConditionVerified, status, reason, message)
}

// warnVerification sends a Warning Event when Verified turns to a
// disagreement or to istiod out of reach.
func (r *EgressGatewayReconciler) warnVerification(s *scope, c *metav1.Condition) {
	if c.Reason != egressv1alpha1.ReasonModelDisagrees && c.Reason != egressv1alpha1.ReasonIstiodUnreachable {
		return
	}
	if old := meta.FindStatusCondition(s.original.Status.Conditions, c.Type); old != nil && old.Reason == c.Reason && old.Message == c.Message {
		return
	}
	r.Recorder.Eventf(s.egw, nil, corev1.EventTypeWarning, c.Reason, "Verify", "%s", c.Message)
}

// modelDisagrees is the ModelDisagrees finding v gives the report of
// digest: none unless v checked that report and found it wrong somewhere.
func modelDisagrees(digest string, v *egressv1alpha1.VerificationStatus, egw *egressv1alpha1.EgressGateway) []egressv1alpha1.Finding {
	if v == nil || v.InputsDigest != digest || v.Disagreements+v.NotCompared == 0 {
		return nil
	}
	msg := fmt.Sprintf("the report answers %d of %d requests differently from the RBAC istiod generated for waypoint pod %s (and could not compare %d): its verdicts for them are wrong",
		v.Disagreements, v.Compared, v.Pod, v.NotCompared)
	if len(v.Examples) > 0 {
		msg += "; first: " + v.Examples[0]
	}
	return []egressv1alpha1.Finding{{
		Severity: egressv1alpha1.SeverityWarning, Code: verify.CodeModelDisagrees,
		Object: "EgressGateway " + egw.Namespace + "/" + egw.Name, Field: "status.verification", Message: msg,
		Fix: "trust the waypoint's behavior over the report for these requests; run egressctl verify on the same objects with the waypoint's config dump to list every one, and report them to the operator's maintainers",
	}}
}

func (r *EgressGatewayReconciler) verifyTimeout() time.Duration {
	return durationOr(r.Verify.Timeout, DefaultVerifyTimeout)
}

func (r *EgressGatewayReconciler) verifySettle() time.Duration {
	return durationOr(r.Verify.Settle, DefaultVerifySettle)
}

func (r *EgressGatewayReconciler) verifyInterval() time.Duration {
	return durationOr(r.Verify.Interval, DefaultVerifyInterval)
}

func (r *EgressGatewayReconciler) verifyRetry() time.Duration {
	return durationOr(r.Verify.Retry, DefaultVerifyRetry)
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// outage remembers that istiod could not be reached at all (no connection,
// or no answer in time), until a time: checks of other gateways in that
// window say so at once instead of each waiting out the timeout.
type outage struct {
	mu    sync.Mutex
	until time.Time
	err   error
}

// active is the outage's error while it lasts.
func (o *outage) active(now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now.Before(o.until) {
		return o.err
	}
	return nil
}

// record starts an outage until then when err says istiod was not reached.
func (o *outage) record(err error, until time.Time) {
	if !unreachable(err) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.until, o.err = until, err
}

// unreachable reports whether err means istiod did not answer at all, as
// opposed to an answer this gateway's check could not use.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}
