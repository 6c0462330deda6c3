package helmrelease

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
)

// Upgrade makes a new revision of req's release from the chart and req's
// values, replacing (not reusing) the values of the last revision.
func (r *Runner) Upgrade(ctx context.Context, req Request) (*release.Release, error) {
	cfg, tail, err := r.actionConfig(req.Namespace)
	if err != nil {
		return nil, err
	}
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = req.Namespace
	upgrade.MaxHistory = MaxHistory
	upgrade.PostRenderer = ownerRefPostRenderer{owner: req.Owner}
	upgrade.DisableOpenAPIValidation = true
	rel, err := upgrade.RunWithContext(ctx, req.Name, r.chart, req.Values)
	if err != nil {
		return rel, failed(fmt.Errorf("upgrading release %s/%s: %w", req.Namespace, req.Name, err), tail)
	}
	return rel, nil
}
