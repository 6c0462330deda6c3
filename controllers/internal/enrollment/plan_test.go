package enrollment

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

func TestNewPlan(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	self := Gateway{Name: "b", Created: t0.Add(time.Hour), Waypoint: "b-wp", EnrollNamespace: true}
	olderPeer := Gateway{Name: "a", Created: t0, Waypoint: "a-wp", EnrollNamespace: true}
	newerPeer := Gateway{Name: "c", Created: t0.Add(2 * time.Hour), Waypoint: "c-wp", EnrollNamespace: true}
	ns := func(label, annotation string) Target {
		t := Target{Kind: KindNamespace, Name: "ns", Labels: map[string]string{}, Annotations: map[string]string{}}
		if label != "" {
			t.Labels[LabelUseWaypoint] = label
		}
		if annotation != "" {
			t.Annotations[AnnotationEnrolledBy] = annotation
		}
		return t
	}
	for _, tc := range []struct {
		name         string
		in           Input
		wantSet      int
		wantRemove   int
		wantConflict string
	}{
		{"unlabeled namespace is labeled", Input{Self: self, Namespace: ns("", "")}, 1, 0, ""},
		{"already ours: nothing to do", Input{Self: self, Namespace: ns("b-wp", "b/b-wp")}, 0, 0, ""},
		{"ours with an old waypoint name is updated", Input{Self: self, Namespace: ns("old", "b/old")}, 1, 0, ""},
		{"set by a person to our waypoint: right, not ours", Input{Self: self, Namespace: ns("b-wp", "")}, 0, 0, ""},
		{"set by a person to another waypoint: conflict", Input{Self: self, Namespace: ns("x", "")}, 0, 0, "someone else"},
		{"older gateway owns it: conflict", Input{Self: self, Namespace: ns("a-wp", "a/a-wp"), Others: []Gateway{olderPeer}}, 0, 0, "EgressGateway a"},
		{"newer gateway owns it: take it", Input{Self: self, Namespace: ns("c-wp", "c/c-wp"), Others: []Gateway{newerPeer}}, 1, 0, ""},
		{"owner is gone: take it", Input{Self: self, Namespace: ns("a-wp", "a/a-wp")}, 1, 0, ""},
		{"deleting removes ours", Input{Self: self, Deleting: true, Namespace: ns("b-wp", "b/b-wp")}, 0, 1, ""},
		{"deleting leaves others'", Input{Self: self, Deleting: true, Namespace: ns("x", "")}, 0, 0, ""},
		{"enrollment turned off removes ours", Input{Self: Gateway{Name: "b", Waypoint: "b-wp"}, Namespace: ns("b-wp", "b/b-wp")}, 0, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(tc.in)
			var set, remove int
			for _, c := range p.Changes {
				if c.Set {
					set++
				} else {
					remove++
				}
			}
			if set != tc.wantSet || remove != tc.wantRemove {
				t.Errorf("changes = %+v, want %d set and %d removed", p.Changes, tc.wantSet, tc.wantRemove)
			}
			if tc.wantConflict == "" && len(p.Conflicts) > 0 || tc.wantConflict != "" && (len(p.Conflicts) != 1 || !strings.Contains(p.ConflictMessage(), tc.wantConflict)) {
				t.Errorf("conflicts = %+v, want one naming %q", p.Conflicts, tc.wantConflict)
			}
		})
	}
}

func TestNewPlanServiceEntries(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"egress": "yes"})
	self := Gateway{Name: "g", Waypoint: "wp", Selector: sel}
	in := Input{
		Self:      self,
		Namespace: Target{Kind: KindNamespace, Name: "ns"},
		ServiceEntries: []Target{
			{Kind: KindServiceEntry, Name: "selected", Labels: map[string]string{"egress": "yes"}},
			{Kind: KindServiceEntry, Name: "unselected-ours", Labels: map[string]string{LabelUseWaypoint: "wp"}, Annotations: map[string]string{AnnotationEnrolledBy: "g/wp"}},
			{Kind: KindServiceEntry, Name: "unselected", Labels: map[string]string{}},
		},
	}
	p := NewPlan(in)
	if len(p.Changes) != 2 || p.Changes[0].Target.Name != "selected" || !p.Changes[0].Set ||
		p.Changes[1].Target.Name != "unselected-ours" || p.Changes[1].Set {
		t.Errorf("changes = %+v, want selected set and unselected-ours removed", p.Changes)
	}
	if p.Wanted != 1 {
		t.Errorf("wanted = %d, want 1", p.Wanted)
	}
}
