package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/ambient-egress/ambient-egress-operator/hack/crds"
)

// Cluster modes.
const (
	// modePlain is etcd and kube-apiserver alone: the operator installs the
	// waypoint Gateway, but nothing programs it.
	modePlain = "plain"
	// modeFull is hack/cluster: kwok nodes and the real istiod, which
	// programs the waypoint and runs its Pods on fake nodes.
	modeFull = "full"
)

// fullClusterBinaries lists what hack/cluster builds, so the demo can tell
// whether the full cluster is one command away or twenty minutes of
// building. The versions are hack/cluster's own defaults (or the same
// KWOK_VERSION and ISTIO_VERSION overrides it reads).
func (d *demo) fullClusterBinaries() ([]string, error) {
	script, err := os.ReadFile(filepath.Join(d.root, "hack", "cluster"))
	if err != nil {
		return nil, err
	}
	version := func(name string) (string, error) {
		if v := os.Getenv(name); v != "" {
			return v, nil
		}
		m := regexp.MustCompile(`(?m)^` + name + `=\$\{` + name + `:-([^}]+)\}`).FindSubmatch(script)
		if m == nil {
			return "", fmt.Errorf("no default %s in hack/cluster", name)
		}
		return string(m[1]), nil
	}
	kwok, err := version("KWOK_VERSION")
	if err != nil {
		return nil, err
	}
	istio, err := version("ISTIO_VERSION")
	if err != nil {
		return nil, err
	}
	k8s, err := d.k8sVersion()
	if err != nil {
		return nil, err
	}
	bins := []string{
		filepath.Join("bin", "e2e", "kwok-"+kwok, "kwok"),
		filepath.Join("bin", "e2e", "kwok-"+kwok, "kwokctl"),
		filepath.Join("bin", "e2e", "istio-"+istio, "pilot-discovery"),
	}
	for _, c := range []string{"etcd", "kube-apiserver", "kubectl", "kube-controller-manager", "kube-scheduler"} {
		bins = append(bins, filepath.Join("bin", "k8s", k8s, c))
	}
	return bins, nil
}

// k8sVersion is the Kubernetes version hack/controlplane.sh builds.
func (d *demo) k8sVersion() (string, error) {
	out, err := exec.Command("go", "-C", filepath.Join(d.root, "hack", "controlplane"),
		"list", "-m", "-f", "{{.Version}}", "k8s.io/kubernetes").Output()
	if err != nil {
		return "", fmt.Errorf("reading the Kubernetes version of hack/controlplane: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// chooseMode picks the full cluster when asked to (DEMO_CLUSTER=full) or
// when every binary it needs is already built and no other hack/cluster is
// running; otherwise the plain API server, with a note on what the user
// misses and how to get it.
func (d *demo) chooseMode() (string, error) {
	want := os.Getenv("DEMO_CLUSTER")
	switch want {
	case modePlain:
		logf("DEMO_CLUSTER=plain: using etcd and kube-apiserver only")
		return modePlain, nil
	case modeFull, "", "auto":
	default:
		return "", fmt.Errorf("DEMO_CLUSTER=%q: use plain, full or auto (the default)", want)
	}
	if d.clusterRunning() {
		if want == modeFull {
			return "", errors.New("a hack/cluster cluster is already running (make e2e?); stop it with 'hack/cluster down' or use DEMO_CLUSTER=plain")
		}
		logf("note: a hack/cluster cluster is already running (make e2e?), so the demo uses the plain API server")
		d.explainPlain()
		return modePlain, nil
	}
	if want == modeFull {
		logf("DEMO_CLUSTER=full: kwok nodes and the real istiod (hack/cluster builds what is missing: up to ~20 minutes, once)")
		return modeFull, nil
	}
	bins, err := d.fullClusterBinaries()
	if err != nil {
		logf("note: cannot tell which cluster binaries are built (%v)", err)
		d.explainPlain()
		return modePlain, nil
	}
	var missing []string
	for _, b := range bins {
		if fi, err := os.Stat(filepath.Join(d.root, b)); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, filepath.Base(b))
		}
	}
	if len(missing) > 0 {
		logf("note: the kwok + istiod cluster is not built here (no %s under bin/)", strings.Join(missing, ", "))
		d.explainPlain()
		return modePlain, nil
	}
	logf("the kwok + istiod cluster's binaries are built: using kwok nodes and the real istiod (DEMO_CLUSTER=plain for the API server alone)")
	return modeFull, nil
}

// explainPlain tells the user what plain mode cannot show.
func (d *demo) explainPlain() {
	logf("      plain mode runs etcd + kube-apiserver only: the operator installs the waypoint and")
	logf("      computes the report, but no istiod programs the waypoint, so WaypointReady stays False.")
	logf("      To see a real waypoint become ready, run 'make e2e' once (it builds kwok and istiod,")
	logf("      ~20 minutes cold) or 'DEMO_CLUSTER=full make demo'; later demos then use that cluster.")
}

// clusterRunning reports whether hack/cluster has a cluster up.
func (d *demo) clusterRunning() bool {
	_, err := os.Stat(filepath.Join(d.root, "bin", "e2e", "state", "istiod.pid"))
	return err == nil
}

// controlPlane builds or reuses etcd, kube-apiserver and kubectl and
// returns their directory.
func (d *demo) controlPlane(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(d.root, "hack", "controlplane.sh"))
	cmd.Dir = d.root
	cmd.Stderr = os.Stdout // its progress lines
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/controlplane.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// startPlain runs this program's apiserver subcommand (envtest) in its own
// process group and waits for its kubeconfig.
func (d *demo) startPlain(ctx context.Context) error {
	var err error
	if d.k8s, err = d.controlPlane(ctx); err != nil {
		return err
	}
	crdPaths, err := crds.Paths(ctx, d.root)
	if err != nil {
		return err
	}
	// One per run, so two demos in one tree do not share it.
	d.kubeconfig = filepath.Join(d.work, fmt.Sprintf("kubeconfig-%d", os.Getpid()))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"apiserver", "-assets", d.k8s, "-kubeconfig", d.kubeconfig}
	for _, c := range crdPaths {
		args = append(args, "-crd", c)
	}
	logf("starting etcd and kube-apiserver on 127.0.0.1 and installing our, Istio's and Gateway API's CRDs")
	start := time.Now()
	d.apiserver, err = startChild("kube-apiserver and etcd", filepath.Join(d.work, "apiserver.log"), exec.Command(self, args...))
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(d.kubeconfig); err == nil {
			break
		}
		if d.apiserver.exited() {
			return fmt.Errorf("the API server exited (%v); its log:\n%s", d.apiserver.err, d.apiserver.tail(20))
		}
		if time.Since(start) > 3*time.Minute {
			return fmt.Errorf("the API server was not up after 3 minutes; its log:\n%s", d.apiserver.tail(20))
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", d.kubeconfig)
	if err != nil {
		return err
	}
	logf("API server up on %s in %.1fs", cfg.Host, time.Since(start).Seconds())
	return nil
}

// stopPlain stops the API server subcommand, which stops etcd and
// kube-apiserver and removes their data.
func (d *demo) stopPlain() {
	if d.apiserver == nil {
		return
	}
	logf("stopping kube-apiserver and etcd")
	d.apiserver.stop(45 * time.Second)
}

// startFull brings hack/cluster up. It runs in the demo's process group, so
// a Ctrl-C reaches it directly; stopFull cleans up whatever it got to.
func (d *demo) startFull(ctx context.Context) error {
	// hack/cluster builds (or reuses) the control plane in bin/k8s/<version>/
	// and writes bin/e2e/kubeconfig.
	version, err := d.k8sVersion()
	if err != nil {
		return err
	}
	d.k8s = filepath.Join(d.root, "bin", "k8s", version)
	d.kubeconfig = filepath.Join(d.root, "bin", "e2e", "kubeconfig")
	d.clusterStarted = true
	cmd := exec.CommandContext(ctx, filepath.Join(d.root, "hack", "cluster"), "up")
	cmd.Dir = d.root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("hack/cluster up: %w", err)
	}
	logf("cluster up in %.1fs", time.Since(start).Seconds())
	return nil
}

// stopFull brings hack/cluster down: istiod, kwok, the control plane and
// their state.
func (d *demo) stopFull() {
	if !d.clusterStarted {
		return
	}
	cmd := exec.Command(filepath.Join(d.root, "hack", "cluster"), "down")
	cmd.Dir = d.root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	if err := cmd.Run(); err != nil {
		logf("hack/cluster down: %v", err)
		d.failed = true
	}
}
