package helmrelease

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
)

// Install makes the first revision of req's release. It does not wait for
// the rendered objects to become ready: readiness is the controller's to
// observe, not Helm's.
func (r *Runner) Install(ctx context.Context, req Request) (*release.Release, error) {
	cfg, tail, err := r.actionConfig(req.Namespace)
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(cfg)
	install.ReleaseName = req.Name
	install.Namespace = req.Namespace
	install.PostRenderer = ownerRefPostRenderer{owner: req.Owner}
	install.DisableOpenAPIValidation = true // the API server validates; Helm's copy of the schema may lag
	rel, err := install.RunWithContext(ctx, r.chart, req.Values)
	if err != nil {
		return rel, failed(fmt.Errorf("installing release %s/%s: %w", req.Namespace, req.Name, err), tail)
	}
	return rel, nil
}
