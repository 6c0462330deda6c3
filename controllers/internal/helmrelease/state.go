package helmrelease

import (
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// State is where a release stands against what the controller wants.
type State string

const (
	// StateAbsent means there is no release: install it.
	StateAbsent State = "Absent"
	// StateInSync means the last release is deployed from the wanted chart
	// version and values: call no Helm action at all.
	StateInSync State = "InSync"
	// StateOutOfSync means the last release is deployed, but from another
	// chart version or other values: upgrade it.
	StateOutOfSync State = "OutOfSync"
	// StateLocked means the last release is pending-install, -upgrade or
	// -rollback, as left by an operator that stopped mid-action: unlock it.
	StateLocked State = "Locked"
	// StateFailed means the last release failed: roll back to the last
	// deployed revision, or uninstall when there is none.
	StateFailed State = "Failed"
	// StateDrifted means the release is in sync but a rendered object was
	// deleted or changed by hand: repair it.
	StateDrifted State = "Drifted"
)

// Observed is what the release storage says about one release.
type Observed struct {
	// Last is the newest revision, nil when the release is absent.
	Last *release.Release
	// LastDeployed is the newest deployed revision, nil when none is.
	LastDeployed *release.Release
	// ChartVersion and ValuesDigest describe Last.
	ChartVersion string
	ValuesDigest string
}

// Observe reads the release's history from its Secrets. It calls no Helm
// action: this is one List of the release Secrets.
func (r *Runner) Observe(namespace, name string, digest func(map[string]any) string) (Observed, error) {
	cfg, _, err := r.actionConfig(namespace)
	if err != nil {
		return Observed{}, err
	}
	history, err := cfg.Releases.History(name)
	if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return Observed{}, fmt.Errorf("reading release %s/%s: %w", namespace, name, err)
	}
	var o Observed
	for _, rel := range history {
		if o.Last == nil || rel.Version > o.Last.Version {
			o.Last = rel
		}
		if rel.Info != nil && rel.Info.Status == release.StatusDeployed &&
			(o.LastDeployed == nil || rel.Version > o.LastDeployed.Version) {
			o.LastDeployed = rel
		}
	}
	if o.Last != nil {
		if o.Last.Chart != nil && o.Last.Chart.Metadata != nil {
			o.ChartVersion = o.Last.Chart.Metadata.Version
		}
		o.ValuesDigest = digest(o.Last.Config)
	}
	return o, nil
}

// Status is Helm's status of the last revision, empty when absent.
func (o Observed) Status() release.Status {
	if o.Last == nil || o.Last.Info == nil {
		return ""
	}
	return o.Last.Info.Status
}

// Revision is the last revision, 0 when absent.
func (o Observed) Revision() int {
	if o.Last == nil {
		return 0
	}
	return o.Last.Version
}

// DetermineState names the release's state against the wanted chart version
// and values digest. drifted says whether the objects of the last release
// still match it; it is only consulted when everything else is in sync.
func DetermineState(o Observed, chartVersion, valuesDigest string, drifted bool) State {
	switch {
	case o.Last == nil || o.Status() == release.StatusUninstalled:
		return StateAbsent
	case o.Status().IsPending():
		return StateLocked
	case o.Status() != release.StatusDeployed:
		return StateFailed
	case o.ChartVersion != chartVersion || o.ValuesDigest != valuesDigest:
		return StateOutOfSync
	case drifted:
		return StateDrifted
	default:
		return StateInSync
	}
}
