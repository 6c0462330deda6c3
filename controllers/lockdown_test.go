package controllers_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/controllers/internal/testenv"
)

// ensureClusterDNS creates the kube-dns Service the lockdown discovers, as
// a cluster has it; envtest runs no DNS.
func ensureClusterDNS(t *testing.T) {
	t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"k8s-app": "kube-dns"},
		Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
		}}}
	if err := env.Client.Create(context.Background(), svc); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// lockdownPolicies lists the NetworkPolicies named name in the namespaces.
func lockdownPolicies(t *testing.T, name string, namespaces ...string) []string {
	t.Helper()
	var out []string
	for _, ns := range namespaces {
		np := &networkingv1.NetworkPolicy{}
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, np)
		switch {
		case err == nil:
			out = append(out, ns)
		case !apierrors.IsNotFound(err):
			t.Fatal(err)
		}
	}
	return out
}

func TestLockdown(t *testing.T) {
	ensureClusterDNS(t)
	ns := env.CreateNamespace(t, "lock-egress", nil).Name
	src := env.CreateNamespace(t, "lock-src", map[string]string{sourcesLabel: ns}).Name
	op := startOperatorIn(t, env.Config, []string{ns, src}, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		// The gateway's own namespace is selected too: it must never
		// be locked down.
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchExpressions: []egressv1alpha1.LabelSelectorRequirement{
			{Key: sourcesLabel, Operator: metav1.LabelSelectorOpIn, Values: []egressv1alpha1.LabelValue{egressv1alpha1.LabelValue(ns)}}}}
		e.Spec.Lockdown.Sources = &egressv1alpha1.LabelSelector{MatchExpressions: []egressv1alpha1.LabelSelectorRequirement{
			{Key: sourcesLabel, Operator: metav1.LabelSelectorOpIn, Values: []egressv1alpha1.LabelValue{egressv1alpha1.LabelValue(ns), "gateway"}}}}
		e.Spec.Lockdown.Mode = egressv1alpha1.LockdownEnforce
		e.Spec.Lockdown.AllowCIDRs = []egressv1alpha1.AllowedCIDR{{CIDR: "192.0.2.0/24", Reason: "partner VPN"}}
	})
	mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: ns}, `{"metadata":{"labels":{"`+sourcesLabel+`":"gateway"}}}`)
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	name := "egress-lockdown-waypoint"

	t.Run("Enforce writes one policy per source namespace, none beside the waypoint", func(t *testing.T) {
		c := env.WaitForCondition(t, key, egressv1alpha1.ConditionLockedDown, metav1.ConditionTrue)
		if !strings.Contains(c.Message, src) {
			t.Errorf("LockedDown message %q does not name %s", c.Message, src)
		}
		if got := lockdownPolicies(t, name, ns, src); !slices.Equal(got, []string{src}) {
			t.Fatalf("policies in %v, want only in %s", got, src)
		}
		np := &networkingv1.NetworkPolicy{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: src, Name: name}, np); err != nil {
			t.Fatal(err)
		}
		var hbone, dns, cidr, api bool
		for _, r := range np.Spec.Egress {
			for _, to := range r.To {
				switch {
				case to.PodSelector != nil && to.PodSelector.MatchLabels["gateway.networking.k8s.io/gateway-name"] == "waypoint":
					hbone = len(r.Ports) == 1 && r.Ports[0].Port.IntValue() == 15008
				case to.PodSelector != nil && to.PodSelector.MatchLabels["k8s-app"] == "kube-dns":
					dns = len(r.Ports) == 2
				case to.IPBlock != nil && to.IPBlock.CIDR == "192.0.2.0/24":
					cidr = true
				case to.IPBlock != nil:
					api = len(r.Ports) == 1
				}
			}
		}
		if !hbone || !dns || !cidr || !api {
			t.Errorf("policy egress lacks a rule (waypoint 15008 %v, DNS %v, allowCIDRs %v, API server %v): %+v", hbone, dns, cidr, api, np.Spec.Egress)
		}
		if st := getEGW(t, key).Status.Lockdown; st == nil || st.Mode != egressv1alpha1.LockdownEnforce || !slices.Equal(st.Namespaces, []string{src}) {
			t.Errorf("status.lockdown %+v", st)
		}
	})

	t.Run("a reconcile with nothing changed writes nothing", func(t *testing.T) {
		assertNoOpReconcileWritesNothing(t, op, ns)
	})

	other := env.CreateNamespace(t, "lock-new", nil).Name
	t.Run("a namespace newly selected is locked down", func(t *testing.T) {
		mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: other}, `{"metadata":{"labels":{"`+sourcesLabel+`":"`+ns+`"}}}`)
		testenv.Eventually(t, testenv.DefaultTimeout, "a policy in "+other, func(context.Context) (bool, error) {
			return len(lockdownPolicies(t, name, other)) == 1, nil
		})
	})

	t.Run("a moved DNS port is followed without a change to the gateway", func(t *testing.T) {
		// Quiet first, so that only the Service's change can start the
		// reconcile that follows it.
		settle(t, op)
		dns := client.ObjectKey{Namespace: "kube-system", Name: "kube-dns"}
		setTarget := func(port int) {
			mergePatch(t, "v1", "Service", dns, `{"spec":{"ports":[{"name":"dns","port":53,"protocol":"UDP","targetPort":`+strconv.Itoa(port)+
				`},{"name":"dns-tcp","port":53,"protocol":"TCP","targetPort":`+strconv.Itoa(port)+`}]}}`)
		}
		setTarget(5353)
		defer setTarget(53)
		testenv.Eventually(t, testenv.DefaultTimeout, "the policy on 5353", func(ctx context.Context) (bool, error) {
			np := &networkingv1.NetworkPolicy{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: src, Name: name}, np); err != nil {
				return false, err
			}
			for _, r := range np.Spec.Egress {
				for _, p := range r.Ports {
					if p.Port != nil && p.Port.IntValue() == 5353 {
						return true, nil
					}
				}
			}
			return false, nil
		})
	})

	foreign := env.CreateNamespace(t, "lock-foreign", nil).Name
	t.Run("a same-named policy someone else wrote is left alone", func(t *testing.T) {
		theirs := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: foreign, Name: name},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
		if err := env.Client.Create(context.Background(), theirs); err != nil {
			t.Fatal(err)
		}
		mergePatch(t, "v1", "Namespace", client.ObjectKey{Name: foreign}, `{"metadata":{"labels":{"`+sourcesLabel+`":"`+ns+`"}}}`)
		c := env.WaitForCondition(t, key, egressv1alpha1.ConditionLockedDown, metav1.ConditionFalse)
		if c.Reason != egressv1alpha1.ReasonConflict || !strings.Contains(c.Message, foreign+"/"+name) {
			t.Errorf("LockedDown %s: %s, want Conflict naming %s/%s", c.Reason, c.Message, foreign, name)
		}
		waitForEvent(t, ns, "waypoint", egressv1alpha1.ReasonConflict)
		got := &networkingv1.NetworkPolicy{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(theirs), got); err != nil {
			t.Fatal(err)
		}
		if len(got.Spec.Egress) != 0 || len(got.Labels) != 0 {
			t.Errorf("the foreign policy was changed: %+v", got)
		}
	})

	t.Run("Off removes what Enforce wrote, and nothing else", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Lockdown.Mode = egressv1alpha1.LockdownOff })
		testenv.Eventually(t, testenv.DefaultTimeout, "the policies pruned", func(context.Context) (bool, error) {
			e := getEGW(t, key)
			return slices.Equal(lockdownPolicies(t, name, src, other, foreign), []string{foreign}) &&
				meta.FindStatusCondition(e.Status.Conditions, egressv1alpha1.ConditionLockedDown) == nil && e.Status.Lockdown == nil, nil
		})
	})

	t.Run("Audit writes nothing and says what Enforce would", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Lockdown.Mode = egressv1alpha1.LockdownAudit })
		c := env.WaitForCondition(t, key, egressv1alpha1.ConditionLockedDown, metav1.ConditionFalse)
		if c.Reason != egressv1alpha1.ReasonAudit || !strings.Contains(c.Message, src) || !strings.Contains(c.Message, other) {
			t.Errorf("LockedDown %s: %s", c.Reason, c.Message)
		}
		if got := lockdownPolicies(t, name, src, other); len(got) != 0 {
			t.Errorf("Audit wrote policies in %v", got)
		}
	})

	t.Run("deleting the gateway removes its policies", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Lockdown.Mode = egressv1alpha1.LockdownEnforce })
		testenv.Eventually(t, testenv.DefaultTimeout, "policies written again", func(context.Context) (bool, error) {
			return len(lockdownPolicies(t, name, src, other)) == 2, nil
		})
		if err := env.Client.Delete(context.Background(), getEGW(t, key)); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, testenv.DefaultTimeout, "the gateway and its policies gone", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, key, &egressv1alpha1.EgressGateway{})
			return apierrors.IsNotFound(err) && len(lockdownPolicies(t, name, src, other)) == 0 &&
				len(lockdownPolicies(t, name, foreign)) == 1, client.IgnoreNotFound(err)
		})
	})
}

// TestLockdownCIDRAdmission: the API server refuses every range the
// operator could not parse (isCIDR is netip.ParsePrefix, which the operator
// uses), and IPv4-mapped IPv6 ranges besides. An unparsable range stored
// under an earlier CRD is still LockedDown=False/InvalidLockdown, as
// lockdown.Policy refuses it (TestPolicy).
func TestLockdownCIDRAdmission(t *testing.T) {
	ns := env.CreateNamespace(t, "lock-cidr", nil).Name
	for _, tc := range []struct {
		cidr  string
		admit bool
	}{
		{"192.0.2.0/24", true}, {"0.0.0.0/0", true}, {"2001:db8::/32", true}, {"::/0", true},
		{"300.0.0.0/8", false}, {"10.0.0.1/33", false}, {"10.0.0/8", false}, {"2001:db8::/129", false},
		{"not-a-cidr", false}, {"192.0.2.0", false}, {"", false},
		{"10.0.0.1/8", true}, {"2001:::1/64", false}, {"1:2:3/64", false}, {"::ffff:192.0.2.0/120", false}, {"fe80::1%eth0/64", false},
	} {
		egw := newEgressGateway(ns, "g"+strconv.Itoa(len(tc.cidr))+strings.NewReplacer(".", "-", ":", "-", "/", "-", "%", "-").Replace(tc.cidr), func(e *egressv1alpha1.EgressGateway) {
			e.Spec.Lockdown.AllowCIDRs = []egressv1alpha1.AllowedCIDR{{CIDR: tc.cidr, Reason: "test"}}
		})
		egw.Name = strings.Trim(strings.ToLower(egw.Name), "-")
		err := env.Client.Create(context.Background(), egw)
		if tc.admit && err != nil {
			t.Errorf("%q refused: %v", tc.cidr, err)
		}
		if !tc.admit && (err == nil || !strings.Contains(err.Error(), "cidr")) {
			t.Errorf("%q: error %v, want a refusal naming cidr", tc.cidr, err)
		}
	}
}

// TestLockdownInTheReport: the status shows what the sources reach
// directly, before and after the lockdown, and names a NetworkPolicy that
// defeats it.
func TestLockdownInTheReport(t *testing.T) {
	ensureClusterDNS(t)
	ns := env.CreateNamespace(t, "lockrep-egress", nil).Name
	src := env.CreateNamespace(t, "lockrep-src", map[string]string{sourcesLabel: ns}).Name
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "app"}}
	if err := env.Client.Create(context.Background(), sa); err != nil {
		t.Fatal(err)
	}
	startOperatorIn(t, env.Config, []string{ns, src}, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns)}}
	})
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	// directRow waits for the any-other-host row of src to have access,
	// and for the summary and findings that go with it.
	directRow := func(t *testing.T, access string, direct int32, finding string) *egressv1alpha1.EgressGateway {
		t.Helper()
		var last *egressv1alpha1.EgressGateway
		testenv.Eventually(t, testenv.DefaultTimeout, "direct egress of "+src+" "+access, func(context.Context) (bool, error) {
			last = getEGW(t, key)
			sim := last.Status.Simulation
			if sim == nil || sim.Summary.DirectEgress != direct {
				return false, nil
			}
			row := slices.IndexFunc(sim.Direct, func(d egressv1alpha1.DirectEgressEntry) bool {
				return d.Destination == "*" && slices.Contains(d.Sources, src+"/*") && d.Access == access
			})
			return row >= 0 && (finding == "" || slices.ContainsFunc(sim.Findings, func(f egressv1alpha1.Finding) bool { return f.Code == finding })), nil
		})
		return last
	}

	t.Run("without lockdown the sources reach any host directly", func(t *testing.T) {
		directRow(t, "direct", 1, "DirectEgressOpen")
	})
	t.Run("Enforce blocks them, the API server aside", func(t *testing.T) {
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Lockdown.Mode = egressv1alpha1.LockdownEnforce })
		e := directRow(t, "blocked", 0, "")
		i := slices.IndexFunc(e.Status.Simulation.Direct, func(d egressv1alpha1.DirectEgressEntry) bool { return d.Destination == "*" })
		if want := src + "/egress-lockdown-waypoint"; !strings.Contains(e.Status.Simulation.Direct[i].Reason, want) {
			t.Errorf("reason %q does not name %s", e.Status.Simulation.Direct[i].Reason, want)
		}
	})
	t.Run("a user's allow-all policy defeats it, and is named", func(t *testing.T) {
		open := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "allow-all-egress"},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{}}}}
		if err := env.Client.Create(context.Background(), open); err != nil {
			t.Fatal(err)
		}
		e := directRow(t, "direct", 1, "LockdownDefeated")
		f := e.Status.Simulation.Findings[slices.IndexFunc(e.Status.Simulation.Findings, func(f egressv1alpha1.Finding) bool { return f.Code == "LockdownDefeated" })]
		if f.Object != "NetworkPolicy "+src+"/allow-all-egress" {
			t.Errorf("LockdownDefeated names %q", f.Object)
		}
	})
}

// TestPodsDecideDirectRows: a NetworkPolicy that selects pods by label
// leaves the report "depends" until the operator sees the pods; then each
// service account gets its own verdict, and a pod out of the mesh in a
// locked-down namespace is named.
func TestPodsDecideDirectRows(t *testing.T) {
	ensureClusterDNS(t)
	ns := env.CreateNamespace(t, "pods-egress", nil).Name
	src := env.CreateNamespace(t, "pods-src", map[string]string{sourcesLabel: ns}).Name
	for _, name := range []string{"web", "batch"} {
		if err := env.Client.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	deny := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "batch-no-egress"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "batch"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}}
	if err := env.Client.Create(context.Background(), deny); err != nil {
		t.Fatal(err)
	}
	startOperatorIn(t, env.Config, []string{ns, src}, controllers.Options{})
	egw := newEgressGateway(ns, "waypoint", func(e *egressv1alpha1.EgressGateway) {
		e.Spec.Simulation.Sources = &egressv1alpha1.LabelSelector{MatchLabels: map[string]egressv1alpha1.LabelValue{sourcesLabel: egressv1alpha1.LabelValue(ns)}}
	})
	if err := env.Client.Create(context.Background(), egw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(egw)
	access := func(e *egressv1alpha1.EgressGateway, source string) string {
		if e.Status.Simulation == nil {
			return ""
		}
		for _, d := range e.Status.Simulation.Direct {
			if d.Destination == "*" && slices.Contains(d.Sources, source) {
				return d.Access
			}
		}
		return ""
	}
	waitAccess := func(t *testing.T, want map[string]string) *egressv1alpha1.EgressGateway {
		t.Helper()
		var e *egressv1alpha1.EgressGateway
		testenv.Eventually(t, testenv.DefaultTimeout, "direct rows "+strconv.Quote(strings.Join(slices.Sorted(maps.Keys(want)), ",")), func(context.Context) (bool, error) {
			e = getEGW(t, key)
			for src, a := range want {
				if access(e, src) != a {
					return false, nil
				}
			}
			return true, nil
		})
		return e
	}
	t.Run("without pods the label selector leaves it open", func(t *testing.T) {
		waitAccess(t, map[string]string{src + "/*": "depends"})
	})
	pod := func(name, sa string, labels map[string]string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: name, Labels: labels},
			Spec: corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "c", Image: "example.com/app"}}}}
		if err := env.Client.Create(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("the pods tell the accounts apart", func(t *testing.T) {
		pod("web-1", "web", map[string]string{"app": "web"})
		pod("batch-1", "batch", map[string]string{"app": "batch"})
		waitAccess(t, map[string]string{src + "/web": "direct", src + "/batch": "blocked"})
	})
	t.Run("a pod out of the mesh under lockdown is named", func(t *testing.T) {
		pod("legacy-1", "web", map[string]string{"app": "web", "istio.io/dataplane-mode": "none"})
		updateEGW(t, key, func(e *egressv1alpha1.EgressGateway) { e.Spec.Lockdown.Mode = egressv1alpha1.LockdownAudit })
		testenv.Eventually(t, testenv.DefaultTimeout, "OptedOutPods", func(context.Context) (bool, error) {
			sim := getEGW(t, key).Status.Simulation
			return sim != nil && slices.ContainsFunc(sim.Findings, func(f egressv1alpha1.Finding) bool {
				return f.Code == "OptedOutPods" && f.Object == "ServiceAccount "+src+"/web"
			}), nil
		})
	})
}
