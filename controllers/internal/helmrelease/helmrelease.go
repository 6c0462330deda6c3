// Package helmrelease is the operator's one door into Helm: it loads the
// chart, reads release state from the Secrets in a namespace, and runs one
// small Helm action per file (install, upgrade, unlock, rollback, uninstall,
// plus drift repair, which makes no new revision).
package helmrelease

import (
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/client-go/rest"
)

// MaxHistory bounds the revisions kept per release, so the release Secrets
// of a long-lived gateway do not grow without end.
const MaxHistory = 5

// Runner runs Helm actions for the chart it was made with, against the API
// server its rest.Config reaches.
type Runner struct {
	chart  *chart.Chart
	getter *restClientGetter
	log    logr.Logger
}

// NewRunner returns a Runner that installs chrt with the identity of cfg,
// usually the manager's own rest.Config.
func NewRunner(cfg *rest.Config, chrt *chart.Chart, log logr.Logger) (*Runner, error) {
	g, err := newRESTClientGetter(cfg)
	if err != nil {
		return nil, err
	}
	return &Runner{chart: chrt, getter: g, log: log}, nil
}

// ChartVersion is the version of the chart this Runner installs.
func (r *Runner) ChartVersion() string {
	return r.chart.Metadata.Version
}

// Request names one release and the values to make it with.
type Request struct {
	// Namespace holds the release Secrets and the rendered objects.
	Namespace string
	// Name is the release name.
	Name string
	// Values are the chart values.
	Values map[string]any
	// Owner is added as controlling owner reference to every rendered object.
	Owner OwnerRef
}

// actionConfig returns Helm's action configuration for namespace, with
// release Secrets stored there.
func (r *Runner) actionConfig(namespace string) (*action.Configuration, *logTail, error) {
	cfg := new(action.Configuration)
	tail := &logTail{}
	debug := func(format string, v ...any) {
		line := fmt.Sprintf(format, v...)
		r.log.V(2).Info(line)
		tail.add(line)
	}
	if err := cfg.Init(r.getter.forNamespace(namespace), namespace, "secret", debug); err != nil {
		return nil, nil, fmt.Errorf("initializing Helm for namespace %s: %w", namespace, err)
	}
	return cfg, tail, nil
}

// maxMessage bounds a Helm error in a condition message and Event note.
const maxMessage = 1024

// Message trims err for a condition message or Event note, keeping Helm's
// own wording.
func Message(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if len(msg) > maxMessage {
		msg = msg[:maxMessage-3] + "..."
	}
	return msg
}
