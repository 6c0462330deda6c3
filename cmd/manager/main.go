// Command manager runs the ambient-egress-operator: the EgressGateway
// controller, its health probes and its metrics endpoint.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/controllers"
	"github.com/ambient-egress/ambient-egress-operator/simulator"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var (
		metricsAddr   string
		probeAddr     string
		secureMetrics bool
		enableHTTP2   bool
		leaderElect   bool
		mesh          controllers.MeshOverrides
		istio         controllers.IstioOverrides
		istioNS       string
		watch         string
		concurrency   int
		budget        = reach.DefaultBudget
		verifyOpts    controllers.VerifyOptions
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address the metrics endpoint binds to; \"0\" turns it off.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, allowing only authenticated and authorized scrapers.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Allow HTTP/2 on the metrics server (off by default: CVE-2023-44487, CVE-2023-39325).")
	flag.BoolVar(&leaderElect, "leader-elect", true, "Run only while holding the leader lease, so replicas never act twice.")
	flag.StringVar(&istioNS, "istio-namespace", controllers.DefaultIstioNamespace, "Namespace of istiod and its mesh config ConfigMap (istio, or istio-<revision> for spec.waypoint.revision), from which the operator reads trustDomain, trustDomainAliases and rootNamespace.")
	flag.StringVar(&mesh.RootNamespace, "root-namespace", "", "Overrides meshConfig.rootNamespace: the namespace whose ServiceEntries, DestinationRules and AuthorizationPolicies apply to every EgressGateway. Empty reads it from the mesh config.")
	flag.StringVar(&mesh.TrustDomain, "trust-domain", "", "Overrides meshConfig.trustDomain, the trust domain of the sources' principals. Empty reads it from the mesh config.")
	flag.Func("trust-domain-aliases", "Overrides meshConfig.trustDomainAliases (comma-separated; given empty, no aliases). Unset reads them from the mesh config.", func(v string) error {
		mesh.TrustDomainAliases = []string{}
		for a := range strings.SplitSeq(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				mesh.TrustDomainAliases = append(mesh.TrustDomainAliases, a)
			}
		}
		return nil
	})
	flag.Func("istio-version", "Overrides the version of istiod read from its Deployment (app.kubernetes.io/version label or image tag), e.g. 1.29.1: which wildcard destinations can be served. Unset reads it from the Deployment.", func(v string) error {
		parsed, err := simulator.ParseIstioVersion(v)
		istio.Version = parsed
		return err
	})
	flag.Func("istio-wildcard-tls", "Overrides whether istiod runs with "+simulator.WildcardTLSFlag+"=true (true or false), which TLS ports of wildcard destinations need. Unset reads it from istiod's Deployment.", func(v string) error {
		on, err := strconv.ParseBool(v)
		istio.WildcardTLS = &on
		return err
	})
	flag.StringVar(&watch, "watch-namespaces", os.Getenv("WATCH_NAMESPACE"), "Comma-separated namespaces whose EgressGateways, and the Istio objects beside them, the operator watches (the root namespace, --root-namespace or else --istio-namespace, is added); empty watches all. ServiceAccounts are read in every namespace, as simulation sources. Defaults to $WATCH_NAMESPACE.")
	flag.IntVar(&concurrency, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles, "EgressGateways reconciled at once; a slow one (a Helm action, a simulation at its budget) holds one worker only.")
	flag.Int64Var(&budget.Work, "simulation-max-work", reach.DefaultBudget.Work, "Simulation budget: cube operations per destination; past it the destination is reported inexactly (Simulated=False/TooComplex).")
	flag.DurationVar(&budget.PerDestination, "simulation-destination-timeout", reach.DefaultBudget.PerDestination, "Simulation budget: time per destination.")
	flag.DurationVar(&budget.Total, "simulation-timeout", controllers.DefaultSimulationTimeout, "Simulation budget: time for one gateway's whole report; past it the destinations left are reported inexactly.")
	flag.StringVar(&verifyOpts.XDSAddress, "verify-xds-address", "", "istiod's plaintext xDS address (e.g. istiod.istio-system.svc:15010). Set, the operator checks each report against the RBAC istiod generates for the waypoint (condition Verified, finding ModelDisagrees); empty turns the check off.")
	flag.StringVar(&verifyOpts.ClusterID, "verify-cluster-id", "", "istiod's cluster ID (its CLUSTER_ID), presented when reading the waypoint's configuration; empty is Istio's default, Kubernetes.")
	flag.DurationVar(&verifyOpts.Interval, "verify-interval", controllers.DefaultVerifyInterval, "How often a report whose inputs did not change is checked again against istiod (an upgraded istiod may generate other RBAC).")
	flag.DurationVar(&verifyOpts.Timeout, "verify-timeout", controllers.DefaultVerifyTimeout, "Time for one check: reading istiod's configuration for the waypoint and comparing.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")

	root := mesh.RootNamespace
	if root == "" {
		root = istioNS // Istio's charts render meshConfig.rootNamespace as Istio's own namespace
	}
	namespaces, err := watchNamespaces(watch, root)
	if err != nil {
		setupLog.Error(err, "invalid --watch-namespaces")
		os.Exit(1)
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 newScheme(),
		Metrics:                metricsOptions(metricsAddr, secureMetrics, enableHTTP2),
		WebhookServer:          webhook.NewServer(webhook.Options{TLSOpts: tlsOptions(enableHTTP2)}),
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "ambient-egress-operator.egress.ambient.io",
		// The process exits as soon as the manager stops, so the lease can
		// be given up on the way out: an upgrade's new Pod leads at once
		// instead of waiting out the lease (15 s).
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controllers.CacheOptions(istioNS, namespaces...),
		// Reconciles honor their context (the simulation included), so
		// a stop does not need controller-runtime's 30 s default.
		GracefulShutdownTimeout: ptr.To(5 * time.Second),
	})
	if err != nil {
		setupLog.Error(err, "creating manager")
		os.Exit(1)
	}
	reconciler, err := controllers.NewEgressGatewayReconciler(mgr, controllers.Options{Version: version, Mesh: mesh, Istio: istio,
		IstioNamespace: istioNS, WatchNamespaces: namespaces, SimulationBudget: budget, MaxConcurrentReconciles: concurrency,
		Verify: verifyOpts})
	if err != nil {
		setupLog.Error(err, "creating controller", "controller", "EgressGateway")
		os.Exit(1)
	}
	if err := reconciler.SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "setting up controller", "controller", "EgressGateway")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "adding health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "adding readiness check")
		os.Exit(1)
	}
	setupLog.Info("starting manager", "version", version)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "running manager")
		os.Exit(1)
	}
}

// newScheme registers every API the manager reads or writes.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(egressv1alpha1.AddToScheme(s))
	utilruntime.Must(istionetworkingv1.AddToScheme(s))
	utilruntime.Must(istiosecurityv1.AddToScheme(s))
	utilruntime.Must(istiotelemetryv1.AddToScheme(s))
	utilruntime.Must(gatewayv1.Install(s))
	return s
}

// metricsOptions serves controller-runtime's registry; when secure, scrapers
// must present a token the API server authenticates and authorizes.
func metricsOptions(addr string, secure, http2 bool) metricsserver.Options {
	o := metricsserver.Options{BindAddress: addr, SecureServing: secure, TLSOpts: tlsOptions(http2)}
	if secure {
		o.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return o
}

// tlsOptions turns HTTP/2 off unless asked for, against the HTTP/2 rapid
// reset and stream cancellation attacks.
func tlsOptions(http2 bool) []func(*tls.Config) {
	if http2 {
		return nil
	}
	return []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
}

// watchNamespaces parses --watch-namespaces into the namespaces to cache,
// with the root namespace added; nil means every namespace.
func watchNamespaces(flagValue, root string) ([]string, error) {
	if strings.TrimSpace(flagValue) == "" {
		return nil, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, ns := range append(strings.Split(flagValue, ","), root) {
		ns = strings.TrimSpace(ns)
		if ns == "" || seen[ns] {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("namespace %q: %s", ns, strings.Join(errs, "; "))
		}
		seen[ns] = true
		out = append(out, ns)
	}
	return out, nil
}
