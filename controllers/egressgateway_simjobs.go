package controllers

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/metrics"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/reporting"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// simulationGrace is how long a reconcile waits for its simulation before
// leaving it to run in the background. Nearly every simulation finishes
// within it, so the common case writes the status once, as a synchronous
// simulation would; a slow one no longer holds the gateway's other phases'
// status, nor a worker, while it runs.
const simulationGrace = 250 * time.Millisecond

// simJobs runs simulations in the background, one at a time per gateway,
// keyed by the digest of their inputs: a reconcile starts one, or picks up
// the result of the one for the same inputs, and a finished job enqueues its
// gateway through done. It is a manager Runnable: when the manager stops,
// every running simulation is canceled and the runnable returns only once
// they have ended.
type simJobs struct {
	mu   sync.Mutex
	jobs map[types.NamespacedName]*simJob
	// builders keep, per gateway, what the last simulation computed, so
	// the next one recomputes only the destinations whose inputs changed
	// (a policy edit: its ServiceEntry's). A replaced job may still be
	// ending when the next starts: each builder is used under its lock.
	builders map[types.NamespacedName]*gatewayBuilder
	stopped  bool
	stop     chan struct{}
	wg       sync.WaitGroup
	// done receives the gateway of each finished job.
	done chan event.GenericEvent
}

// gatewayBuilder is one gateway's reach.Builder, which is not safe for
// concurrent use.
type gatewayBuilder struct {
	mu sync.Mutex
	b  reach.Builder
}

// simJob is one simulation of one gateway's inputs.
type simJob struct {
	digest   string
	cancel   context.CancelFunc
	finished chan struct{}
	// Set before finished is closed.
	report  *reach.Report
	err     error
	started time.Time
	took    time.Duration
}

func newSimJobs() *simJobs {
	return &simJobs{jobs: map[types.NamespacedName]*simJob{}, builders: map[types.NamespacedName]*gatewayBuilder{}, stop: make(chan struct{}), done: make(chan event.GenericEvent, 1024)}
}

// Start waits for the manager to stop, then cancels every job and waits for
// them.
func (j *simJobs) Start(ctx context.Context) error {
	<-ctx.Done()
	j.mu.Lock()
	j.stopped = true
	close(j.stop)
	for _, job := range j.jobs {
		job.cancel()
	}
	j.mu.Unlock()
	j.wg.Wait()
	return nil
}

// result returns the report of gw's inputs with the given digest, waiting at
// most grace (or until ctx is done) for it. A job for other inputs is
// canceled and replaced. ok is false while the simulation still runs.
func (j *simJobs) result(ctx context.Context, gw types.NamespacedName, prepared *reporting.Prepared, in reach.Input, grace time.Duration) (job *simJob, ok bool, err error) {
	job, err = j.start(gw, prepared, in)
	if err != nil {
		return nil, false, err
	}
	select {
	case <-job.finished:
		return job, true, job.err
	default:
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-job.finished:
	case <-timer.C:
		return job, false, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	// The finished job stays until inputs change: a reconcile that reads
	// a cached status older than the one just written asks again for the
	// same digest, and gets the same report (and so writes nothing new)
	// instead of simulating again.
	return job, true, job.err
}

// start returns the job for gw's digest, starting it when there is none.
func (j *simJobs) start(gw types.NamespacedName, prepared *reporting.Prepared, in reach.Input) (*simJob, error) {
	digest := prepared.Digest
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stopped {
		return nil, context.Canceled
	}
	if job, ok := j.jobs[gw]; ok {
		if job.digest == digest {
			return job, nil
		}
		job.cancel() // its inputs are outdated
	}
	builder, ok := j.builders[gw]
	if !ok {
		builder = &gatewayBuilder{}
		j.builders[gw] = builder
	}
	ctx, cancel := context.WithCancel(context.Background())
	job := &simJob{digest: digest, cancel: cancel, finished: make(chan struct{}), started: time.Now()}
	j.jobs[gw] = job
	j.wg.Add(1)
	metrics.SimulationsRunning.Inc()
	go func() {
		defer j.wg.Done()
		defer metrics.SimulationsRunning.Dec() // after the gateway is queued again, if it is
		defer cancel()
		builder.mu.Lock()
		job.report, _, job.err = builder.b.BuildContext(ctx, in)
		builder.mu.Unlock()
		job.took = time.Since(job.started)
		close(job.finished)
		if ctx.Err() != nil {
			return // canceled: replaced, forgotten or stopping
		}
		gwObj := &egressv1alpha1.EgressGateway{}
		gwObj.Namespace, gwObj.Name = gw.Namespace, gw.Name
		select {
		case j.done <- event.GenericEvent{Object: gwObj}:
		case <-ctx.Done():
		case <-j.stop:
		}
	}()
	return job, nil
}

// forget cancels gw's job, if any: the gateway is going away or no longer
// simulates.
func (j *simJobs) forget(gw types.NamespacedName) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if job, ok := j.jobs[gw]; ok {
		job.cancel()
		delete(j.jobs, gw)
	}
	delete(j.builders, gw)
}
