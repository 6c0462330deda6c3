package helmrelease

import (
	"fmt"

	"helm.sh/helm/v3/pkg/release"
)

// Unlock marks a release stuck in pending-install, -upgrade or -rollback as
// failed, as Helm itself would have had it not stopped mid-action, so the
// next reconcile can roll it back or reinstall it. Only the leader runs
// actions, so a pending release is never one another action is still
// working on.
func (r *Runner) Unlock(namespace, name string) error {
	cfg, _, err := r.actionConfig(namespace)
	if err != nil {
		return err
	}
	last, err := cfg.Releases.Last(name)
	if err != nil {
		return fmt.Errorf("reading release %s/%s: %w", namespace, name, err)
	}
	if !last.Info.Status.IsPending() {
		return nil
	}
	last.SetStatus(release.StatusFailed, fmt.Sprintf("operator stopped during %s; marked failed to recover", last.Info.Status))
	if err := cfg.Releases.Update(last); err != nil {
		return fmt.Errorf("unlocking release %s/%s: %w", namespace, name, err)
	}
	return nil
}
