package upgradeable

import (
	"context"
	"errors"
	"testing"

	"github.com/go-logr/logr"
	apiv2 "github.com/operator-framework/api/pkg/operators/v2"
	"github.com/operator-framework/operator-lib/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// recorder is a conditions.Condition that remembers what was set.
type recorder struct {
	sets []metav1.Condition
	fail bool
}

func (r *recorder) Get(context.Context) (*metav1.Condition, error) {
	if len(r.sets) == 0 {
		return nil, errors.New("not set")
	}
	return &r.sets[len(r.sets)-1], nil
}

func (r *recorder) Set(_ context.Context, status metav1.ConditionStatus, opts ...conditions.Option) error {
	c := metav1.Condition{Type: apiv2.Upgradeable, Status: status}
	for _, o := range opts {
		o(&c)
	}
	r.sets = append(r.sets, c)
	if r.fail {
		return errors.New("conflict")
	}
	return nil
}

// factory hands out one recorder, as OLM's OperatorCondition would be.
type factory struct{ cond conditions.Condition }

func (f factory) NewCondition(apiv2.ConditionType) (conditions.Condition, error) { return f.cond, nil }
func (f factory) GetNamespacedName() (*types.NamespacedName, error) {
	return &types.NamespacedName{Namespace: "operators", Name: "ambient-egress-operator.v0.1.0"}, nil
}

func TestGateKeepsUpgradeableFalseWhileActionsRun(t *testing.T) {
	type step struct {
		begin   bool
		release string
		want    metav1.ConditionStatus
		message string
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"one action", []step{
			{true, "ns/a", metav1.ConditionFalse, "Helm actions in flight on ns/a; upgrading now could leave them pending"},
			{false, "ns/a", metav1.ConditionTrue, "no Helm action is in flight"},
		}},
		{"overlapping releases", []step{
			{true, "ns/b", metav1.ConditionFalse, "Helm actions in flight on ns/b; upgrading now could leave them pending"},
			{true, "ns/a", metav1.ConditionFalse, "Helm actions in flight on ns/a, ns/b; upgrading now could leave them pending"},
			{false, "ns/b", metav1.ConditionFalse, "Helm actions in flight on ns/a; upgrading now could leave them pending"},
			{false, "ns/a", metav1.ConditionTrue, "no Helm action is in flight"},
		}},
		{"same release twice", []step{
			{true, "ns/a", metav1.ConditionFalse, ""},
			{true, "ns/a", metav1.ConditionFalse, ""},
			{false, "ns/a", metav1.ConditionFalse, ""},
			{false, "ns/a", metav1.ConditionTrue, ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			g := New(factory{rec}, logr.Discard())
			for i, s := range tc.steps {
				if s.begin {
					g.Begin(context.Background(), s.release)
				} else {
					g.End(context.Background(), s.release)
				}
				got := rec.sets[len(rec.sets)-1]
				if got.Status != s.want || (s.message != "" && got.Message != s.message) {
					t.Fatalf("step %d: Upgradeable=%s %q, want %s %q", i, got.Status, got.Message, s.want, s.message)
				}
			}
		})
	}
}

func TestGateSurvivesWriteErrors(t *testing.T) {
	rec := &recorder{fail: true}
	g := New(factory{rec}, logr.Discard())
	g.Begin(context.Background(), "ns/a")
	g.End(context.Background(), "ns/a")
	if len(rec.sets) != 2 {
		t.Fatalf("want both writes attempted despite errors, got %d", len(rec.sets))
	}
}

// TestGateOutsideOLM checks that without OLM's OPERATOR_CONDITION_NAME the
// gate is a silent no-op, so a manager run by hand or in tests works.
func TestGateOutsideOLM(t *testing.T) {
	t.Setenv("OPERATOR_CONDITION_NAME", "")
	g := New(conditions.InClusterFactory{}, logr.Discard())
	g.Begin(context.Background(), "ns/a")
	g.End(context.Background(), "ns/a")
	var nilGate *Gate
	nilGate.Begin(context.Background(), "ns/a") // a reconciler without a gate
}
