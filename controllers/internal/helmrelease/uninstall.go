package helmrelease

import (
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// Uninstall deletes the release's objects and all its Secrets. A release
// that is already gone is not an error.
func (r *Runner) Uninstall(namespace, name string) error {
	cfg, tail, err := r.actionConfig(namespace)
	if err != nil {
		return err
	}
	uninstall := action.NewUninstall(cfg)
	uninstall.KeepHistory = false
	if _, err := uninstall.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return failed(fmt.Errorf("uninstalling release %s/%s: %w", namespace, name, err), tail)
	}
	return nil
}
