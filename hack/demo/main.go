// Command demo is what `make demo` runs (through hack/demo.sh): the seed
// scenario end to end on a local cluster, its lockdown of direct egress,
// then its TLS-origination variant.
//
// It starts a cluster on 127.0.0.1 — the kwok + istiod cluster of
// hack/cluster when its binaries are built, otherwise etcd and
// kube-apiserver alone (its own "apiserver" subcommand, through envtest) —
// runs the manager built from this tree against it, applies
// config/samples/seed/, waits for the EgressGateway's conditions, prints the
// live report and the conditions, locks direct egress down and prints the
// report and the NetworkPolicy, applies the TLS variant and prints the
// report again. Whatever happens, also on Ctrl-C, it stops everything it
// started before it exits.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ambient-egress/ambient-egress-operator/simulator/lockdown"
)

// demo holds what one run started and where.
type demo struct {
	// root is the repository root, work its bin/demo directory.
	root, work string
	// manager and egressctl are the binaries built from this tree.
	managerBin, egressctl string
	// k8s is the directory with kubectl, etcd and kube-apiserver.
	k8s        string
	mode       string
	kubeconfig string
	client     client.Client

	// namespace and name are the seed's EgressGateway.
	namespace, name string

	apiserver, manager *child
	clusterStarted     bool
	failed             bool
}

func logf(format string, args ...any) {
	fmt.Printf("demo: "+format+"\n", args...)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "apiserver" {
		if err := serveAPIServer(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "apiserver: %v\n", err)
			os.Exit(1)
		}
		return
	}
	// controller-runtime's client logs nothing the demo needs; without a
	// logger it would print a warning with a stack trace after 30 seconds.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(run())
}

// run is the whole demo; it returns the exit code: 0 done, 1 failed, 130
// interrupted.
func run() int {
	// Signals stay caught until the end, so a second Ctrl-C cannot cut the
	// teardown short.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		logf("%v", err)
		return 1
	}
	d := &demo{
		root: root, work: filepath.Join(root, "bin", "demo"),
		managerBin: filepath.Join(root, "bin", "manager"), egressctl: filepath.Join(root, "bin", "egressctl"),
		namespace: "istio-egress", name: "waypoint",
	}
	err = d.run(ctx)
	interrupted := ctx.Err() != nil
	switch {
	case interrupted:
		fmt.Println()
		logf("interrupted: stopping everything it started")
	case err != nil:
		logf("FAILED: %v", err)
		logf("stopping everything it started")
	default:
		logf("done: stopping everything it started")
	}
	d.teardown()
	switch {
	case interrupted:
		return 130
	case err != nil, d.failed:
		return 1
	}
	return 0
}

// run starts the cluster and the manager and shows both scenarios.
func (d *demo) run(ctx context.Context) error {
	if err := os.MkdirAll(d.work, 0o755); err != nil {
		return err
	}
	var err error
	if d.mode, err = d.chooseMode(); err != nil {
		return err
	}
	if d.mode == modeFull {
		if err := d.startFull(ctx); err != nil {
			return err
		}
	} else if err := d.startPlain(ctx); err != nil {
		return err
	}
	// The manager, kubectl and egressctl all read it.
	if err := os.Setenv("KUBECONFIG", d.kubeconfig); err != nil {
		return err
	}
	if err := d.connect(); err != nil {
		return err
	}
	if err := d.startManager(ctx); err != nil {
		return err
	}
	if err := d.seed(ctx); err != nil {
		return err
	}
	if err := d.lockdown(ctx); err != nil {
		return err
	}
	return d.tlsVariant(ctx)
}

// connect builds the client the demo reads the EgressGateway with.
func (d *demo) connect() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", d.kubeconfig)
	if err != nil {
		return err
	}
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return err
	}
	d.client, err = client.New(cfg, client.Options{Scheme: s})
	return err
}

// startManager runs bin/manager against the cluster, every listener on
// 127.0.0.1, and waits until it is ready.
func (d *demo) startManager(ctx context.Context) error {
	metrics, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	probe, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	args := []string{"--leader-elect=false", "--metrics-bind-address=" + metrics, "--health-probe-bind-address=" + probe}
	logf("starting the manager built from this tree: bin/manager %s", strings.Join(args, " "))
	d.manager, err = startChild("the manager", filepath.Join(d.work, "manager.log"), exec.Command(d.managerBin, args...))
	if err != nil {
		return err
	}
	start := time.Now()
	probes := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := probes.Get("http://" + probe + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if d.manager.exited() {
			return fmt.Errorf("the manager exited (%v); its log:\n%s", d.manager.err, d.manager.tail(20))
		}
		if time.Since(start) > time.Minute {
			return fmt.Errorf("the manager was not ready after a minute; its log:\n%s", d.manager.tail(20))
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	logf("manager ready in %.1fs (metrics https://%s, probes http://%s, log %s)",
		time.Since(start).Seconds(), metrics, probe, d.rel(d.manager.log))
	return nil
}

// seed applies the seed scenario, waits for the report (and, on the full
// cluster, for istiod to make the waypoint ready) and prints it.
func (d *demo) seed(ctx context.Context) error {
	fmt.Println()
	logf("applying the seed scenario (config/samples/seed/)")
	if err := d.show(ctx, "kubectl", "apply", "--server-side", "-f", "config/samples/seed/"); err != nil {
		return err
	}
	want := []string{"Simulated"}
	if d.mode == modeFull {
		want = append(want, "WaypointReady")
	}
	logf("waiting for %s=True on EgressGateway %s/%s", strings.Join(want, "=True and "), d.namespace, d.name)
	err := d.waitFor(ctx, "the seed's conditions", 3*time.Minute, func(s gatewayState) (bool, error) {
		for _, t := range want {
			if !s.isTrue(t) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	fmt.Println()
	if err := d.show(ctx, "kubectl", "get", "egw", "-n", d.namespace); err != nil {
		return err
	}
	if d.mode == modeFull {
		if err := d.show(ctx, "kubectl", "get", "gateway,deployment,pods", "-n", d.namespace); err != nil {
			return err
		}
	}
	if err := d.report(ctx, "who can reach what, as the operator reports it in the EgressGateway's status:"); err != nil {
		return err
	}
	if d.mode == modePlain {
		logf("WaypointReady is False: in plain mode no istiod programs the waypoint ('DEMO_CLUSTER=full make demo' shows it ready).")
		fmt.Println()
	}
	return nil
}

// lockdown turns the seed's lockdown on: default/* reached any other host
// directly, and after Enforce it is blocked by the NetworkPolicy the
// operator writes, which the demo then prints.
func (d *demo) lockdown(ctx context.Context) error {
	logf("the report's DIRECT EGRESS row: default/* reaches any other host directly, bypassing the waypoint")
	logf("(ztunnel passes a destination without a ServiceEntry straight through). Lock it down:")
	logf("the demo cluster runs no DNS, so first the kube-dns Service a cluster has, which the lockdown discovers")
	dns := filepath.Join(d.work, "kube-dns.yaml")
	if err := os.WriteFile(dns, []byte(kubeDNS), 0o644); err != nil {
		return err
	}
	if err := d.show(ctx, "kubectl", "apply", "--server-side", "-f", dns); err != nil {
		return err
	}
	if err := d.show(ctx, "kubectl", "apply", "--server-side", "-f", "config/samples/seed-lockdown/10-egressgateway.yaml"); err != nil {
		return err
	}
	logf("waiting for LockedDown=True and the report to show default/* blocked")
	err := d.waitFor(ctx, "the lockdown", 2*time.Minute, func(s gatewayState) (bool, error) {
		if !s.isTrue("LockedDown") || !s.isTrue("Simulated") {
			return false, nil
		}
		access, err := d.directAccess(ctx, "default/*")
		return access == "blocked", err
	})
	if err != nil {
		return err
	}
	fmt.Println()
	if err := d.report(ctx, "the report now (DIRECT EGRESS: blocked by the lockdown policy):"); err != nil {
		return err
	}
	if err := d.show(ctx, "kubectl", "get", "networkpolicy", "egress-lockdown-waypoint", "-n", "default", "-o", "yaml"); err != nil {
		return err
	}
	logf("default's pods now reach only DNS, the waypoint on 15008, the API server and other pods; httpbin.org")
	logf("still works through the waypoint, any other host does not")
	return nil
}

// kubeDNS is the cluster DNS Service as kubeadm and kind create it.
const kubeDNS = `apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
`

// directAccess reads the live report's access of source to any other
// host.
func (d *demo) directAccess(ctx context.Context, source string) (string, error) {
	out, err := exec.CommandContext(ctx, d.egressctl, "report", "-n", d.namespace, d.name, "-o", "json").Output()
	if err != nil {
		return "", fmt.Errorf("bin/egressctl report -o json: %w", err)
	}
	var r struct {
		Direct []struct {
			Destination string   `json:"destination"`
			Sources     []string `json:"sources"`
			Access      string   `json:"access"`
		} `json:"direct"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return "", fmt.Errorf("bin/egressctl report -o json: %w", err)
	}
	for _, e := range r.Direct {
		if e.Destination == "*" && slices.Contains(e.Sources, source) {
			return e.Access, nil
		}
	}
	return "", nil
}

// tlsVariant applies the seed's TLS-origination variant and waits for the
// report to show it.
func (d *demo) tlsVariant(ctx context.Context) error {
	before, err := readGateway(ctx, d.client, d.namespace, d.name)
	if err != nil {
		return err
	}
	logf("the TLS-origination variant: the EgressGateway declares httpbin.org in spec.destinations, port 80")
	logf("sent on to 443 with TLS originated by the waypoint; the operator writes the ServiceEntry and")
	logf("DestinationRule, so the seed's own ServiceEntry goes first (config/samples/seed-tls/)")
	if err := d.show(ctx, "kubectl", "delete", "serviceentry", "httpbin.org", "-n", d.namespace); err != nil {
		return err
	}
	if err := d.show(ctx, "kubectl", "apply", "--server-side", "-f", "config/samples/seed-tls/"); err != nil {
		return err
	}
	logf("waiting for the report to show TLS origination to port 443")
	var tls *tlsOrigination
	err = d.waitFor(ctx, "the TLS variant's report", 2*time.Minute, func(s gatewayState) (bool, error) {
		if s.inputsDigest == before.inputsDigest || !s.isTrue("Simulated") {
			return false, nil
		}
		var err error
		tls, err = d.reportTLS(ctx, "httpbin.org", 80)
		return tls != nil && tls.Port == 443, err
	})
	if err != nil {
		return err
	}
	fmt.Println()
	if err := d.report(ctx, "the report now (TLS ORIGINATION column):"); err != nil {
		return err
	}
	if err := d.show(ctx, "kubectl", "get", "serviceentry,destinationrule", "-n", d.namespace, "-L", lockdown.LabelGateway); err != nil {
		return err
	}
	logf("httpbin.org:80 now leaves the waypoint as TLS (%s) to port %d, through the objects the operator owns", tls.Mode, tls.Port)
	return nil
}

// tlsOrigination is the part of the report's JSON contract (egressctl
// report -o json) the demo checks.
type tlsOrigination struct {
	Mode string `json:"mode"`
	Port int    `json:"port"`
}

// reportTLS reads the live report as JSON and returns the TLS origination
// of host:port, nil when there is none.
func (d *demo) reportTLS(ctx context.Context, host string, port int) (*tlsOrigination, error) {
	out, err := exec.CommandContext(ctx, d.egressctl, "report", "-n", d.namespace, d.name, "-o", "json").Output()
	if err != nil {
		return nil, fmt.Errorf("bin/egressctl report -o json: %w", err)
	}
	var r struct {
		Destinations []struct {
			Host           string          `json:"host"`
			Port           int             `json:"port"`
			TLSOrigination *tlsOrigination `json:"tlsOrigination"`
		} `json:"destinations"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("bin/egressctl report -o json: %w", err)
	}
	for _, dest := range r.Destinations {
		if dest.Host == host && dest.Port == port {
			return dest.TLSOrigination, nil
		}
	}
	return nil, nil
}

// report prints the live report, as the operator keeps it in the
// EgressGateway's status, with egressctl report: the report tables, then the
// conditions.
func (d *demo) report(ctx context.Context, title string) error {
	logf("%s", title)
	return d.show(ctx, "egressctl", "report", "-n", d.namespace, d.name)
}

// show prints a command line as a user would type it, then runs it with its
// output on the terminal. "kubectl" and "egressctl" name the binaries the
// demo uses.
func (d *demo) show(ctx context.Context, name string, args ...string) error {
	path, shown := name, name
	switch name {
	case "kubectl":
		path, shown = d.kubectlPath(), "kubectl"
	case "egressctl":
		path, shown = d.egressctl, "bin/egressctl"
	}
	fmt.Printf("$ %s %s\n", shown, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = d.root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", shown, strings.Join(args, " "), err)
	}
	fmt.Println()
	return nil
}

func (d *demo) kubectlPath() string { return filepath.Join(d.k8s, "kubectl") }

// rel shows path relative to the repository root.
func (d *demo) rel(path string) string {
	if r, err := filepath.Rel(d.root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// teardown stops the manager, then the cluster, and removes the plain
// cluster's kubeconfig.
func (d *demo) teardown() {
	if d.manager != nil {
		logf("stopping the manager")
		d.manager.stop(20 * time.Second)
	}
	switch d.mode {
	case modePlain:
		d.stopPlain()
		if err := os.Remove(d.kubeconfig); err != nil && !errors.Is(err, os.ErrNotExist) {
			logf("%v", err)
		}
	case modeFull:
		d.stopFull()
	}
}
