// Package enrollment decides which objects carry the istio.io/use-waypoint
// label for an EgressGateway (a pure plan) and applies that plan.
package enrollment

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

const (
	// LabelUseWaypoint binds a namespace or a ServiceEntry to a waypoint.
	LabelUseWaypoint = "istio.io/use-waypoint"
	// AnnotationEnrolledBy records that the operator set LabelUseWaypoint on
	// an object, as "<EgressGateway name>/<waypoint name>", so it removes
	// exactly what it added and nothing a person set.
	AnnotationEnrolledBy = "egress.ambient.io/enrolled-by"
)

// Kind is the kind of object a plan labels.
type Kind string

const (
	// KindNamespace is the EgressGateway's namespace.
	KindNamespace Kind = "Namespace"
	// KindServiceEntry is a ServiceEntry in that namespace.
	KindServiceEntry Kind = "ServiceEntry"
)

// Target is an object that may carry the label.
type Target struct {
	Kind        Kind
	Name        string
	Labels      map[string]string
	Annotations map[string]string
}

// Gateway is an EgressGateway as enrollment sees it.
type Gateway struct {
	Name     string
	Created  time.Time
	Waypoint string
	// EnrollNamespace is spec.enrollNamespace.
	EnrollNamespace bool
	// Selector selects ServiceEntries; nil selects none.
	Selector labels.Selector
}

// Input is everything a plan depends on.
type Input struct {
	// Self is the EgressGateway being reconciled.
	Self Gateway
	// Deleting is true when Self is being deleted: the plan then removes
	// everything Self added.
	Deleting bool
	// Namespace is Self's namespace.
	Namespace Target
	// ServiceEntries are the ServiceEntries of the namespace.
	ServiceEntries []Target
	// Others are the other EgressGateways of the namespace that are not
	// being deleted.
	Others []Gateway
}

// Change is one label to set or remove.
type Change struct {
	Target Target
	// Set is true to set the label to Waypoint and record Self in the
	// annotation; false removes both.
	Set      bool
	Waypoint string
	// Annotation is the AnnotationEnrolledBy value to write when Set.
	Annotation string
}

// Conflict is an object Self wants to label that someone else owns.
type Conflict struct {
	Target Target
	// Owner says who owns the label, for the condition message.
	Owner string
}

// Plan is what to change, what is already right and what Self may not take.
type Plan struct {
	Changes   []Change
	Conflicts []Conflict
	// Wanted is the number of objects Self wants labeled.
	Wanted int
}

// NewPlan computes the plan for in. It is pure.
func NewPlan(in Input) Plan {
	var p Plan
	consider := func(t Target, wanted bool, wantedBy func(Gateway) bool) {
		owner, ownerWaypoint := parseEnrolledBy(t.Annotations[AnnotationEnrolledBy])
		current := t.Labels[LabelUseWaypoint]
		if !wanted {
			if owner == in.Self.Name {
				p.Changes = append(p.Changes, Change{Target: t, Set: false, Waypoint: ownerWaypoint})
			}
			return
		}
		p.Wanted++
		set := Change{Target: t, Set: true, Waypoint: in.Self.Waypoint, Annotation: in.Self.Name + "/" + in.Self.Waypoint}
		switch {
		case owner == in.Self.Name:
			if current != in.Self.Waypoint || ownerWaypoint != in.Self.Waypoint {
				p.Changes = append(p.Changes, set)
			}
		case owner != "":
			if o, ok := find(in.Others, owner); ok && wantedBy(o) && older(o, in.Self) {
				p.Conflicts = append(p.Conflicts, Conflict{Target: t,
					Owner: fmt.Sprintf("EgressGateway %s (waypoint %s), which is older", o.Name, current)})
				return
			}
			p.Changes = append(p.Changes, set) // the owner is gone, no longer wants it, or is newer
		case current == "":
			p.Changes = append(p.Changes, set)
		case current != in.Self.Waypoint:
			p.Conflicts = append(p.Conflicts, Conflict{Target: t,
				Owner: fmt.Sprintf("someone else: it is labeled %s=%s", LabelUseWaypoint, current)})
		}
		// current == Self's waypoint, set by a person: right already, and not ours to remove.
	}
	consider(in.Namespace, in.Self.EnrollNamespace && !in.Deleting, func(g Gateway) bool { return g.EnrollNamespace })
	for _, se := range in.ServiceEntries {
		wanted := !in.Deleting && in.Self.Selector != nil && in.Self.Selector.Matches(labels.Set(se.Labels))
		consider(se, wanted, func(g Gateway) bool { return g.Selector != nil && g.Selector.Matches(labels.Set(se.Labels)) })
	}
	return p
}

// ConflictMessage describes the conflicts for a condition, naming each
// object and its owner, and what to change.
func (p Plan) ConflictMessage() string {
	parts := make([]string, 0, len(p.Conflicts))
	for _, c := range p.Conflicts {
		parts = append(parts, fmt.Sprintf("%s %s is enrolled by %s", c.Target.Kind, c.Target.Name, c.Owner))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ") + "; remove that label or the other EgressGateway's enrollment, or set enrollNamespace: false on this one"
}

func parseEnrolledBy(v string) (owner, waypoint string) {
	owner, waypoint, _ = strings.Cut(v, "/")
	return owner, waypoint
}

func find(gs []Gateway, name string) (Gateway, bool) {
	for _, g := range gs {
		if g.Name == name {
			return g, true
		}
	}
	return Gateway{}, false
}

// older reports whether a was created before b; names break ties, so two
// gateways always agree on which one wins.
func older(a, b Gateway) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.Before(b.Created)
	}
	return a.Name < b.Name
}
