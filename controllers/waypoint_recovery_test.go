package controllers_test

import (
	"context"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/helmrelease"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/waypoint"
)

// releaseStore is the Helm storage of namespace's release Secrets, as the
// operator's own Helm sees it.
func releaseStore(t *testing.T, ns string) *storage.Storage {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return storage.Init(driver.NewSecrets(cs.CoreV1().Secrets(ns)))
}

// leaveReleasePending stores revision of release name in status, as an
// operator that died in the middle of a Helm action leaves it. After the
// first revision, it repeats the previous revision's manifest.
func leaveReleasePending(t *testing.T, ns, name string, revision int, status release.Status) {
	t.Helper()
	chrt, err := helmrelease.LoadChart(waypoint.Chart(), testVersion)
	if err != nil {
		t.Fatal(err)
	}
	rel := &release.Release{
		Name: name, Namespace: ns, Version: revision, Chart: chrt, Config: map[string]any{},
		Info: &release.Info{Status: status, Description: "the operator stopped here"},
	}
	store := releaseStore(t, ns)
	if revision > 1 {
		prev, err := store.Get(name, revision-1)
		if err != nil {
			t.Fatal(err)
		}
		rel.Manifest, rel.Config = prev.Manifest, map[string]any{"replicas": "being changed"}
	}
	if err := store.Create(rel); err != nil {
		t.Fatal(err)
	}
}

func TestPendingInstallIsRecovered(t *testing.T) {
	ns := env.CreateNamespace(t, "pending", nil).Name
	leaveReleasePending(t, ns, "egw-waypoint", 1, release.StatusPendingInstall)
	unlocks, uninstalls, installs := helmActions(t, "unlock", "success"), helmActions(t, "uninstall", "success"), helmActions(t, "install", "success")
	startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint")

	if got := helmActions(t, "unlock", "success") - unlocks; got != 1 {
		t.Errorf("%v unlocks, want 1", got)
	}
	if got := helmActions(t, "uninstall", "success") - uninstalls; got != 1 {
		t.Errorf("%v uninstalls of the never-deployed release, want 1", got)
	}
	if got := helmActions(t, "install", "success") - installs; got != 1 {
		t.Errorf("%v installs, want 1", got)
	}
	last, err := releaseStore(t, ns).Last("egw-waypoint")
	if err != nil || last.Info.Status != release.StatusDeployed {
		t.Fatalf("last release = %v, %v; want deployed", last, err)
	}
	waitForEvent(t, ns, key.Name, egressv1alpha1.ReasonUnlocked)
	waitForEvent(t, ns, key.Name, egressv1alpha1.ReasonInstalled)
}

func TestPendingUpgradeIsRolledBack(t *testing.T) {
	ns := env.CreateNamespace(t, "pending-upgrade", nil).Name
	op := startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint")
	op.stop(t)
	leaveReleasePending(t, ns, "egw-waypoint", 2, release.StatusPendingUpgrade)
	rollbacks := helmActions(t, "rollback", "success")

	startOperator(t, ns, controllers.Options{})
	waitForRelease(t, key, 3, "deployed")
	env.WaitForCondition(t, key, egressv1alpha1.ConditionReady, metav1.ConditionTrue)
	if got := helmActions(t, "rollback", "success") - rollbacks; got != 1 {
		t.Errorf("%v rollbacks, want 1", got)
	}
}

func TestFailedUpgradeRollsBackAndSaysWhy(t *testing.T) {
	ns := env.CreateNamespace(t, "failed", nil).Name
	op := startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint")
	upgradeFailures := helmActions(t, "upgrade", "failure")

	// A label key the API server rejects, through the values escape hatch.
	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Waypoint.Values = &apiextensionsv1.JSON{Raw: []byte(`{"gateway":{"labels":{"bad key!":"x"}}}`)}
	})
	got := waitForRelease(t, key, 3, "deployed") // 2 failed, 3 rolled back to 1
	c := meta.FindStatusCondition(got.Status.Conditions, egressv1alpha1.ConditionReleased)
	if c.Status != metav1.ConditionFalse || c.Reason != egressv1alpha1.ReasonRolledBack || !strings.Contains(c.Message, "bad key!") {
		t.Errorf("Released = %s %s: %q; want False RolledBack naming the rejected label", c.Status, c.Reason, c.Message)
	}
	ready := env.WaitForCondition(t, key, egressv1alpha1.ConditionReady, metav1.ConditionFalse)
	if !strings.Contains(ready.Message, "bad key!") {
		t.Errorf("Ready message does not say why: %q", ready.Message)
	}
	waitForEvent(t, ns, key.Name, egressv1alpha1.ReasonUpgradeFailed)
	// The failure Event quotes the end of Helm's log beside its error.
	var events eventsv1.EventList
	if err := env.Client.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Reason == egressv1alpha1.ReasonUpgradeFailed && (!strings.Contains(e.Note, "bad key!") || !strings.Contains(e.Note, "Helm's last log lines: ")) {
			t.Errorf("UpgradeFailed Event note %q: want Helm's error and the end of its log", e.Note)
		}
	}
	gw := &gatewayv1.Gateway{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "waypoint"}, gw); err != nil {
		t.Fatalf("the previous waypoint is gone: %v", err)
	}
	if _, bad := gw.Labels["bad key!"]; bad || gw.Spec.Listeners[0].Port != 15008 {
		t.Errorf("Gateway is not the previous waypoint: %v", gw.Labels)
	}
	settle(t, op)
	if got := helmActions(t, "upgrade", "failure") - upgradeFailures; got != 1 {
		t.Errorf("%v failed upgrades, want 1: the same bad values must not be retried in a loop", got)
	}
	if got := getEGW(t, key).Status.Waypoint.Release.Revision; got != 3 {
		t.Errorf("revision = %d, want 3", got)
	}

	// Fixing the spec makes the release right again.
	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Waypoint.Values = &apiextensionsv1.JSON{Raw: []byte(`{"gateway":{"labels":{"team":"payments"}}}`)}
	})
	waitForRelease(t, key, 4, "deployed")
	env.WaitForCondition(t, key, egressv1alpha1.ConditionReady, metav1.ConditionTrue)
}

func TestManagerRestartResumes(t *testing.T) {
	ns := env.CreateNamespace(t, "restart", nil).Name
	op := startOperator(t, ns, controllers.Options{})
	key, _ := installed(t, ns, "waypoint", func(e *egressv1alpha1.EgressGateway) { e.Spec.Waypoint.Replicas = ptr.To[int32](2) })
	op.stop(t)

	// A restart with nothing changed takes no Helm action.
	actions := helmActions(t, "", "")
	op = startOperator(t, ns, controllers.Options{})
	settle(t, op)
	if got := helmActions(t, "", "") - actions; got != 0 {
		t.Errorf("%v Helm actions after a restart with nothing changed, want 0", got)
	}
	op.stop(t)

	// A spec change made while the operator was down is applied once, and a
	// new operator version upgrades the release once.
	updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Waypoint.Replicas = ptr.To[int32](3) })
	op = startOperator(t, ns, controllers.Options{Version: "1.0.1"})
	got := waitForRelease(t, key, 2, "deployed")
	if got.Status.Waypoint.Release.ChartVersion != "1.0.1" {
		t.Errorf("chart version = %s, want 1.0.1", got.Status.Waypoint.Release.ChartVersion)
	}
	env.WaitForCondition(t, key, egressv1alpha1.ConditionReady, metav1.ConditionTrue)
	settle(t, op)
	if got := getEGW(t, key).Status.Waypoint.Release.Revision; got != 2 {
		t.Errorf("revision = %d, want 2", got)
	}
}

// waitForEvent waits for an Event with reason about EgressGateway name.
func waitForEvent(t *testing.T, ns, name, reason string) {
	t.Helper()
	testenv.Eventually(t, testenv.DefaultTimeout, "Event "+reason, func(ctx context.Context) (bool, error) {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.Reason == reason && e.Regarding.Name == name && e.Regarding.Kind == "EgressGateway" {
				return true, nil
			}
		}
		return false, nil
	})
}
