package helmrelease

import (
	"fmt"

	"helm.sh/helm/v3/pkg/action"
)

// Rollback makes a new revision of the release that repeats revision to,
// usually the last deployed one after an upgrade failed.
func (r *Runner) Rollback(namespace, name string, to int) error {
	cfg, tail, err := r.actionConfig(namespace)
	if err != nil {
		return err
	}
	rollback := action.NewRollback(cfg)
	rollback.Version = to
	rollback.MaxHistory = MaxHistory
	if err := rollback.Run(name); err != nil {
		return failed(fmt.Errorf("rolling release %s/%s back to revision %d: %w", namespace, name, to, err), tail)
	}
	return nil
}
