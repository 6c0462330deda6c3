package enrollment

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Apply makes the plan's changes with one merge patch per object. obj
// returns an empty object of the target's kind and name for the patch.
func Apply(ctx context.Context, c client.Client, changes []Change, obj func(Target) client.Object) error {
	for _, ch := range changes {
		var label, annotation any // JSON null removes the key
		if ch.Set {
			label, annotation = ch.Waypoint, ch.Annotation
		}
		meta := map[string]any{
			"annotations": map[string]any{AnnotationEnrolledBy: annotation},
		}
		// On removal, leave a label someone changed since we set it.
		if ch.Set || ch.Target.Labels[LabelUseWaypoint] == ch.Waypoint {
			meta["labels"] = map[string]any{LabelUseWaypoint: label}
		}
		patch, err := json.Marshal(map[string]any{"metadata": meta})
		if err != nil {
			return err
		}
		target := obj(ch.Target)
		if err := c.Patch(ctx, target, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("labeling %s %s: %w", ch.Target.Kind, ch.Target.Name, err)
		}
	}
	return nil
}
