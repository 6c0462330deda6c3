package controllers

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator/observe"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// Defaults of spec.observability.prometheus, as the CRD defaults them
// (a gateway stored before they existed may lack them).
const (
	defaultLookback        = 24 * time.Hour
	defaultRefreshInterval = 5 * time.Minute
)

// observedFirstRetry is the first retry after Prometheus failed; each
// failure in a row doubles it, up to the refresh interval.
const observedFirstRetry = 10 * time.Second

// maxObservedRows bounds status.observed.traffic (the CRD's maxItems).
const maxObservedRows = 100

// observedOutcome is what the observed-traffic phase found, for the status.
type observedOutcome struct {
	// status is status.observed to write; nil keeps the current one.
	status *egressv1alpha1.ObservedStatus
	// findings are the comparison's findings about status.simulation,
	// set with status; while status is nil the status keeps its own.
	findings []egressv1alpha1.Finding
	cond     *metav1.Condition
}

// observation is what one gateway last read from Prometheus, kept between
// reconciles so that new inputs are compared again without a query, and
// how its failures back off.
type observation struct {
	config   string
	at       time.Time
	traffic  *observe.Traffic
	failures int
	next     time.Time
	failCond *metav1.Condition
}

// observations holds each gateway's *observation.
type observations struct{ m sync.Map }

func (o *observations) get(key client.ObjectKey) *observation {
	if v, ok := o.m.Load(key); ok {
		return v.(*observation)
	}
	return nil
}

func (o *observations) put(key client.ObjectKey, ob *observation) { o.m.Store(key, ob) }
func (o *observations) forget(key client.ObjectKey)               { o.m.Delete(key) }

// reconcileObserved reads, at most once per refresh interval, the traffic
// Prometheus saw at the waypoint's destinations, and compares it with the
// current report. Prometheus never holds up anything: when it fails, the
// condition says so, status.observed keeps its last reading, and the phase
// retries with backoff.
func (r *EgressGatewayReconciler) reconcileObserved(ctx context.Context, s *scope) (ctrl.Result, error) {
	key := client.ObjectKeyFromObject(s.egw)
	spec := s.egw.Spec.Observability.Prometheus
	if spec == nil || s.egw.Spec.Simulation.Disabled {
		r.observations.forget(key)
		return ctrl.Result{}, nil
	}
	out := &observedOutcome{}
	s.observed = out
	sim := s.simulation
	if sim == nil || !s.simulationSince.IsZero() || s.prepared == nil || sim.InputsDigest != s.prepared.Digest {
		out.cond = observedCondition(metav1.ConditionUnknown, egressv1alpha1.ReasonReconciling, "waiting for the report of the current inputs")
		return ctrl.Result{}, nil
	}
	lookback, refresh := durationOf(spec.Lookback, defaultLookback), durationOf(spec.RefreshInterval, defaultRefreshInterval)
	config := fmt.Sprintf("%s|%v|%v|%s", spec.URL, spec.BearerTokenSecret, spec.CAConfigMap, lookback)
	now := time.Now()
	ob := r.observations.get(key)
	if ob != nil && ob.config != config {
		ob = nil // the spec changed: read again
	}
	// The status already describes this report, and the next reading is
	// not due: nothing to do (after a restart too, with nothing cached).
	if prev := s.original.Status.Observed; prev != nil && prev.InputsDigest == sim.InputsDigest && prev.Prometheus == spec.URL &&
		prev.Window.Duration == lookback && (ob == nil || !ob.at.After(prev.QueryTime.Time)) {
		if due := prev.QueryTime.Add(refresh); now.Before(due) {
			out.cond = observedFrom(prev, refresh)
			if ob != nil && ob.failCond != nil {
				out.cond = ob.failCond
			}
			return ctrl.Result{RequeueAfter: due.Sub(now)}, nil
		}
	}
	if ob != nil && ob.failCond != nil && now.Before(ob.next) {
		out.cond = ob.failCond
		return ctrl.Result{RequeueAfter: ob.next.Sub(now)}, nil
	}
	report, err := r.reportOf(ctx, s)
	if report == nil || err != nil {
		out.cond = observedCondition(metav1.ConditionUnknown, egressv1alpha1.ReasonReconciling, "waiting for the report of the current inputs")
		return ctrl.Result{}, err
	}
	if ob == nil || ob.traffic == nil || !now.Before(ob.at.Add(refresh)) {
		traffic, reason, err := r.queryPrometheus(ctx, s, spec, observe.Hosts(report), observe.DirectHosts(report), lookback, now)
		if err != nil {
			return r.observedFailed(s, key, config, ob, reason, err, refresh, now), nil
		}
		ob = &observation{config: config, at: now, traffic: &traffic}
		r.observations.put(key, ob)
	}
	c := observe.Compare(report, *ob.traffic, lookback)
	out.status = observedStatus(spec.URL, ob, lookback, sim.InputsDigest, c)
	out.findings = statusFindings(c.Findings)
	out.cond = observedFrom(out.status, refresh)
	return ctrl.Result{RequeueAfter: time.Until(ob.at.Add(refresh))}, nil
}

// reportOf is the report of the current inputs, as the simulation job
// that computed it keeps it; after a restart, that job runs again (once)
// and its end reconciles the gateway.
func (r *EgressGatewayReconciler) reportOf(ctx context.Context, s *scope) (*reach.Report, error) {
	in := s.prepared.Input
	in.Budget = r.simulationBudget()
	job, done, err := r.sims.result(ctx, client.ObjectKeyFromObject(s.egw), s.prepared, in, 0)
	if err != nil || !done {
		return nil, err
	}
	return job.report, nil
}

// queryPrometheus reads the traffic of hosts over lookback, within
// observe.DefaultQueryTimeout. reason says which kind of failure an error
// is.
func (r *EgressGatewayReconciler) queryPrometheus(ctx context.Context, s *scope, spec *egressv1alpha1.PrometheusSpec, hosts, direct []string, lookback time.Duration, now time.Time) (observe.Traffic, string, error) {
	endpoint := observe.Endpoint{URL: spec.URL}
	if ref := spec.BearerTokenSecret; ref != nil {
		var secret corev1.Secret
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.egw.Namespace, Name: ref.Name}, &secret); err != nil {
			return observe.Traffic{}, refReason(err), fmt.Errorf("spec.observability.prometheus.bearerTokenSecret: Secret %s: %w", ref.Name, err)
		}
		token, ok := secret.Data[ref.Key]
		if !ok || len(token) == 0 {
			return observe.Traffic{}, egressv1alpha1.ReasonInvalidPrometheus, fmt.Errorf("spec.observability.prometheus.bearerTokenSecret: Secret %s has no key %q", ref.Name, ref.Key)
		}
		endpoint.BearerToken = string(token)
	}
	if ref := spec.CAConfigMap; ref != nil {
		var cm corev1.ConfigMap
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.egw.Namespace, Name: ref.Name}, &cm); err != nil {
			return observe.Traffic{}, refReason(err), fmt.Errorf("spec.observability.prometheus.caConfigMap: ConfigMap %s: %w", ref.Name, err)
		}
		pem, ok := cm.Data[ref.Key]
		if !ok {
			return observe.Traffic{}, egressv1alpha1.ReasonInvalidPrometheus, fmt.Errorf("spec.observability.prometheus.caConfigMap: ConfigMap %s has no key %q", ref.Name, ref.Key)
		}
		endpoint.CAPEM = []byte(pem)
	}
	api, err := observe.NewAPI(endpoint)
	if err != nil {
		return observe.Traffic{}, egressv1alpha1.ReasonInvalidPrometheus, fmt.Errorf("spec.observability.prometheus: %w", err)
	}
	if len(hosts)+len(direct) == 0 {
		return observe.Traffic{}, "", nil // no destination: nothing to ask
	}
	ctx, cancel := context.WithTimeout(ctx, observe.DefaultQueryTimeout)
	defer cancel()
	traffic, err := observe.Observe(ctx, api, hosts, direct, lookback, now)
	if err != nil {
		return observe.Traffic{}, egressv1alpha1.ReasonPrometheusUnavailable, err
	}
	return traffic, "", nil
}

// refReason is InvalidPrometheus for a referenced object that is missing
// or forbidden, PrometheusUnavailable (retried) for the API server's own
// failures.
func refReason(err error) string {
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return egressv1alpha1.ReasonInvalidPrometheus
	}
	return egressv1alpha1.ReasonPrometheusUnavailable
}

// observedFailed records a failed reading and when to try again: each
// failure in a row doubles the wait, up to the refresh interval.
func (r *EgressGatewayReconciler) observedFailed(s *scope, key client.ObjectKey, config string, ob *observation, reason string, err error, refresh time.Duration, now time.Time) ctrl.Result {
	failures := 1
	next := &observation{config: config}
	if ob != nil {
		failures = ob.failures + 1
		next.at, next.traffic = ob.at, ob.traffic
	}
	wait := min(observedFirstRetry<<min(failures-1, 16), refresh)
	kept := "status.observed keeps no reading yet"
	if prev := s.original.Status.Observed; prev != nil {
		kept = "status.observed keeps the reading of " + prev.QueryTime.UTC().Format(time.RFC3339)
	}
	next.failures, next.next = failures, now.Add(wait)
	next.failCond = observedCondition(metav1.ConditionFalse, reason, fmt.Sprintf("%v; retrying in %s (failure %d in a row); %s", err, wait, failures, kept))
	r.observations.put(key, next)
	s.observed.cond = next.failCond
	if old := meta.FindStatusCondition(s.original.Status.Conditions, egressv1alpha1.ConditionObserved); old == nil || old.Reason != reason {
		r.Recorder.Eventf(s.egw, nil, corev1.EventTypeWarning, reason, "Observe", "%v", err)
	}
	return ctrl.Result{RequeueAfter: wait}
}

// observedStatus is status.observed for a comparison.
func observedStatus(url string, ob *observation, lookback time.Duration, digest string, c *observe.Comparison) *egressv1alpha1.ObservedStatus {
	st := &egressv1alpha1.ObservedStatus{Prometheus: url, QueryTime: metav1.NewTime(ob.at.Truncate(time.Second)),
		Window: metav1.Duration{Duration: lookback}, InputsDigest: digest}
	var notes []string
	for i, row := range c.Rows {
		if i == maxObservedRows {
			notes = append(notes, fmt.Sprintf("%d more rows (egressctl observe prints them all)", len(c.Rows)-i))
			break
		}
		t := egressv1alpha1.ObservedTraffic{Via: row.Via, Group: row.Group, Sources: row.Sources, Destination: row.Host, Access: egressv1alpha1.Access(row.Access),
			Requests: row.Requests, Denied: row.Denied, Connections: row.Connections}
		if !row.LastSeen.IsZero() {
			t.LastSeen = &metav1.Time{Time: row.LastSeen}
		}
		st.Traffic = append(st.Traffic, t)
	}
	if ob.traffic.Truncated {
		notes = append(notes, fmt.Sprintf("a query answered its limit of %d series: the busiest are shown", observe.MaxSeries))
	}
	if ob.traffic.Dropped > 0 {
		notes = append(notes, fmt.Sprintf("%d series with labels not shaped as Istio writes them were left out", ob.traffic.Dropped))
	}
	for _, code := range observe.Codes {
		if n := c.Omitted[code]; n > 0 {
			notes = append(notes, fmt.Sprintf("%d more %s findings", n, code))
		}
	}
	if len(notes) > 0 {
		st.Truncated = notes[0]
		for _, n := range notes[1:] {
			st.Truncated += "; " + n
		}
	}
	return st
}

// statusFindings are the comparison's findings as the status shows them.
func statusFindings(fs []reach.Finding) []egressv1alpha1.Finding {
	out := make([]egressv1alpha1.Finding, 0, len(fs))
	for _, f := range fs {
		out = append(out, egressv1alpha1.Finding{Severity: egressv1alpha1.Severity(f.Severity), Code: f.Code, Object: f.Object,
			Message: f.Message, Field: f.Field, Fix: f.Fix})
	}
	return out
}

// observedFindings are the observed-traffic findings about sim: the ones
// computed in this pass, else those the status already has for it.
func (s *scope) observedFindings(sim *egressv1alpha1.SimulationStatus) []egressv1alpha1.Finding {
	if o := s.observed; o != nil && o.status != nil {
		return o.findings
	}
	prev := s.original.Status.Simulation
	if prev == nil || prev.InputsDigest != sim.InputsDigest {
		return nil
	}
	var out []egressv1alpha1.Finding
	for _, f := range prev.Findings {
		if slices.Contains(observe.Codes, f.Code) {
			out = append(out, f)
		}
	}
	return out
}

// observedFrom is the Observed condition of a reading.
func observedFrom(st *egressv1alpha1.ObservedStatus, refresh time.Duration) *metav1.Condition {
	var requests, denied, connections int64
	for _, t := range st.Traffic {
		requests, denied, connections = requests+t.Requests, denied+t.Denied, connections+t.Connections
	}
	return observedCondition(metav1.ConditionTrue, egressv1alpha1.ReasonQueried, fmt.Sprintf(
		"read %s at %s: %s, %d requests (%d denied) and %d connections over the last %s; next reading in %s",
		st.Prometheus, st.QueryTime.UTC().Format(time.RFC3339), count(len(st.Traffic), "source group and host", "source groups and hosts"),
		requests, denied, connections, observe.Window(st.Window.Duration), refresh))
}

func observedCondition(status metav1.ConditionStatus, reason, message string) *metav1.Condition {
	return condition(egressv1alpha1.ConditionObserved, status, reason, message)
}

func durationOf(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return durationOr(d.Duration, def)
}
