//go:build dataplane

package dataplane

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// The topology. Pod and external addresses stay out of the service CIDR
// and the node address, which kube-router always lets through.
const (
	nodeName      = "dataplane-node"
	nodeIP        = "10.10.0.1" // the node's InternalIP and the API server's address
	apiserverPort = 6443
	serviceCIDR   = "10.96.0.0/16"
	// nodeOtherPort is a port on the node address that is not the API
	// server's: the lockdown allows only the API server's port.
	nodeOtherPort = 10250
	// extAllowed is in the CIDR configuration (c) allows; extOther in none.
	extAllowed = "203.0.113.10"
	extOther   = "198.51.100.10"
)

// podDef is one pod: a network namespace with a routed veth to the node,
// and the Pod object kube-router and the simulator see.
type podDef struct {
	key             string // network namespace suffix
	namespace, name string
	ip              string
	labels          map[string]string
	serviceAccount  string
	ports           []corev1.ContainerPort // each gets an echo server
}

func tcpPort(name string, p int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: p, Protocol: corev1.ProtocolTCP}
}

func udpPort(name string, p int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: p, Protocol: corev1.ProtocolUDP}
}

var podDefs = []podDef{
	{key: "src", namespace: "default", name: "src", ip: "10.244.0.10", serviceAccount: "default",
		labels: map[string]string{"app": "src"}},
	{key: "wp", namespace: "istio-egress", name: "waypoint", ip: "10.244.0.20", serviceAccount: "waypoint",
		labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "waypoint"},
		ports:  []corev1.ContainerPort{tcpPort("hbone", 15008), tcpPort("admin", 8080)}},
	{key: "app", namespace: "apps", name: "app", ip: "10.244.0.30", serviceAccount: "default",
		labels: map[string]string{"app": "incluster"},
		ports:  []corev1.ContainerPort{tcpPort("http", 8080)}},
	{key: "dns", namespace: "kube-system", name: "kube-dns", ip: "10.244.0.40", serviceAccount: "coredns",
		labels: map[string]string{"k8s-app": "kube-dns"},
		ports:  []corev1.ContainerPort{udpPort("dns", 53), tcpPort("dns-tcp", 53), tcpPort("metrics", 9153)}},
}

// env is one running data plane.
type env struct {
	prefix string
	work   string
	td     *teardown
	lis    *listeners

	node, src, ext netns

	k8sBin, kubeRouter string
	apiserver          *child
	client             kubernetes.Interface
}

// netnsName is a namespace of this run.
func (e *env) netns(suffix string) netns { return netns{name: e.prefix + suffix} }

// addNetns creates a namespace with lo up and registers its removal.
// Removing it frees every veth, route, iptables rule, ipset and conntrack
// entry inside; processes still in it are ours and are killed first.
func (e *env) addNetns(suffix string) (netns, error) {
	n := e.netns(suffix)
	if _, err := run("ip", "netns", "add", n.name); err != nil {
		return n, err
	}
	e.td.add("netns "+n.name, func() error {
		if out, err := run("ip", "netns", "pids", n.name); err == nil {
			for _, pid := range strings.Fields(out) {
				_, _ = run("kill", "-9", pid)
			}
		}
		_, err := run("ip", "netns", "del", n.name)
		return err
	})
	_, err := n.exec("ip", "link", "set", "lo", "up")
	return n, err
}

// addVethPod creates a namespace joined to the node by a routed veth: the
// addresses /32 on its eth0, a default route via 169.254.1.1, which a
// permanent neighbor entry points at the node side (Calico's layout; no
// bridge, so traffic crosses the node's FORWARD chain where kube-router
// hooks in), and a /32 route per address on the node.
func (e *env) addVethPod(suffix string, addrs ...string) (netns, error) {
	n, err := e.addNetns(suffix)
	if err != nil {
		return n, err
	}
	host := "v-" + suffix
	if _, err := run("ip", "link", "add", host, "netns", e.node.name, "type", "veth", "peer", "name", "eth0", "netns", n.name); err != nil {
		return n, err
	}
	if _, err := e.node.exec("ip", "link", "set", host, "up"); err != nil {
		return n, err
	}
	if _, err := n.exec("ip", "link", "set", "eth0", "up"); err != nil {
		return n, err
	}
	for _, a := range addrs {
		if _, err := n.exec("ip", "addr", "add", a+"/32", "dev", "eth0"); err != nil {
			return n, err
		}
		if _, err := e.node.exec("ip", "route", "add", a+"/32", "dev", host); err != nil {
			return n, err
		}
	}
	mac, err := e.node.exec("cat", "/sys/class/net/"+host+"/address")
	if err != nil {
		return n, err
	}
	for _, args := range [][]string{
		{"ip", "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link"},
		{"ip", "neigh", "replace", "169.254.1.1", "lladdr", strings.TrimSpace(mac), "dev", "eth0", "nud", "permanent"},
		{"ip", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0"},
	} {
		if _, err := n.exec(args...); err != nil {
			return n, err
		}
	}
	return n, nil
}

// topology builds the node, pod and external namespaces and starts the
// echo servers.
func (e *env) topology() error {
	var err error
	if e.node, err = e.addNetns("node"); err != nil {
		return err
	}
	// No dummy module on every kernel: the node address sits on lo.
	if _, err := e.node.exec("ip", "addr", "add", nodeIP+"/32", "dev", "lo"); err != nil {
		return err
	}
	// kube-router REJECTs with icmp-port-unreachable; the kernel's ICMP
	// rate limit would turn rapid rejects into silent drops (timeouts).
	if _, err := e.node.exec("sysctl", "-qw", "net.ipv4.ip_forward=1",
		"net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000"); err != nil {
		return err
	}
	for _, p := range podDefs {
		n, err := e.addVethPod(p.key, p.ip)
		if err != nil {
			return err
		}
		if p.key == "src" {
			e.src = n
		}
		for _, cp := range p.ports {
			if err := e.lis.listen(n, strings.ToLower(string(cp.Protocol)), fmt.Sprintf("0.0.0.0:%d", cp.ContainerPort)); err != nil {
				return fmt.Errorf("pod %s: %w", p.name, err)
			}
		}
	}
	if e.ext, err = e.addVethPod("ext", extAllowed, extOther); err != nil {
		return err
	}
	// UDP servers bind each address: a reply from a socket bound to
	// 0.0.0.0 leaves from the interface's first address, which the
	// client's connected socket would drop.
	for _, addr := range []string{"0.0.0.0:443", "0.0.0.0:80"} {
		if err := e.lis.listen(e.ext, "tcp", addr); err != nil {
			return fmt.Errorf("external: %w", err)
		}
	}
	for _, ip := range []string{extAllowed, extOther} {
		if err := e.lis.listen(e.ext, "udp", ip+":53"); err != nil {
			return fmt.Errorf("external: %w", err)
		}
	}
	return e.lis.listen(e.node, "tcp", fmt.Sprintf("%s:%d", nodeIP, nodeOtherPort))
}

// start runs a program inside the node namespace and registers its stop.
func (e *env) start(name string, env []string, args ...string) (*child, error) {
	c, err := startChild(e.node, name, filepath.Join(e.work, name+".log"), env, args...)
	if err != nil {
		return nil, err
	}
	e.td.add("stop "+name, func() error { return c.stop(10 * time.Second) })
	return c, nil
}

// controlPlane starts etcd and kube-apiserver inside the node namespace
// and connects the client through it.
func (e *env) controlPlane(ctx context.Context) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	keyPath := filepath.Join(e.work, "sa.key")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	token := hex.EncodeToString(tok)
	tokens := filepath.Join(e.work, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return err
	}
	server := fmt.Sprintf("https://%s:%d", nodeIP, apiserverPort)
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: dataplane
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: %q}
contexts:
- name: dataplane
  context: {cluster: dataplane, user: admin}
current-context: dataplane
`, server, token)
	if err := os.WriteFile(filepath.Join(e.work, "kubeconfig"), []byte(kubeconfig), 0o600); err != nil {
		return err
	}

	etcd, err := e.start("etcd", nil, filepath.Join(e.k8sBin, "etcd"),
		"--data-dir", filepath.Join(e.work, "etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "default=http://127.0.0.1:2380", "--unsafe-no-fsync")
	if err != nil {
		return err
	}
	// ServiceAccount admission is off: no kube-controller-manager creates
	// the namespaces' "default" ServiceAccounts, and the pods need no token.
	e.apiserver, err = e.start("kube-apiserver", nil, filepath.Join(e.k8sBin, "kube-apiserver"),
		"--etcd-servers", "http://127.0.0.1:2379",
		"--bind-address", "0.0.0.0", "--advertise-address", nodeIP, "--secure-port", fmt.Sprint(apiserverPort),
		"--cert-dir", filepath.Join(e.work, "certs"), "--token-auth-file", tokens,
		"--authorization-mode", "RBAC", "--service-cluster-ip-range", serviceCIDR,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", keyPath, "--service-account-signing-key-file", keyPath,
		"--disable-admission-plugins", "ServiceAccount", "--allow-privileged=true")
	if err != nil {
		return err
	}
	cfg := &rest.Config{
		Host:            server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		// The API server listens inside the node namespace only.
		Dial:  e.node.dial,
		QPS:   100,
		Burst: 200,
	}
	if e.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	// Ready is /readyz answering; a child that exits ends the wait at once.
	var last error
	err = wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, last = e.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx); last == nil {
			return true, nil
		}
		for _, c := range []*child{etcd, e.apiserver} {
			if c.exited() {
				return false, fmt.Errorf("%s exited:\n%s", c.name, c.tail(20))
			}
		}
		return false, nil
	})
	if wait.Interrupted(err) {
		return fmt.Errorf("kube-apiserver not ready after 90s (%v):\n%s", last, e.apiserver.tail(20))
	}
	return err
}

// objects creates the Node, Namespaces, ServiceAccount, Pods (their
// status patched as a kubelet would: Running, podIP, hostIP) and the
// kube-dns Service.
func (e *env) objects(ctx context.Context) error {
	c := e.client
	node, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: nodeName, Labels: map[string]string{"kubernetes.io/hostname": nodeName}}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: nodeIP}, {Type: corev1.NodeHostName, Address: nodeName}}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "Dataplane"}}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return err
	}

	// default and kube-system are the API server's own.
	def, err := getRetry(ctx, func() (*corev1.Namespace, error) {
		return c.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	})
	if err != nil {
		return err
	}
	if def.Labels == nil {
		def.Labels = map[string]string{}
	}
	def.Labels["istio.io/dataplane-mode"] = "ambient"
	if _, err := c.CoreV1().Namespaces().Update(ctx, def, metav1.UpdateOptions{}); err != nil {
		return err
	}
	for _, ns := range []string{"istio-egress", "apps"} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if _, err := getRetry(ctx, func() (*corev1.Namespace, error) {
		return c.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	}); err != nil {
		return err
	}
	if _, err := c.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}

	for _, p := range podDefs {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: p.namespace, Labels: p.labels},
			Spec: corev1.PodSpec{
				NodeName:                     nodeName,
				ServiceAccountName:           p.serviceAccount,
				AutomountServiceAccountToken: ptr.To(false),
				Containers:                   []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10", Ports: p.ports}},
			},
		}
		created, err := c.CoreV1().Pods(p.namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		created.Status = corev1.PodStatus{
			Phase:   corev1.PodRunning,
			HostIP:  nodeIP,
			HostIPs: []corev1.HostIP{{IP: nodeIP}},
			PodIP:   p.ip,
			PodIPs:  []corev1.PodIP{{IP: p.ip}},
		}
		if _, err := c.CoreV1().Pods(p.namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	_, err = c.CoreV1().Services("kube-system").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"k8s-app": "kube-dns"},
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
				{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)},
			},
		},
	}, metav1.CreateOptions{})
	return err
}

// getRetry retries a read until the API server's bootstrap has made the
// object, for up to 30 seconds.
func getRetry[T any](ctx context.Context, get func() (T, error)) (T, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := get()
		if err == nil || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// apiServerSlices waits for the API server to publish the kubernetes
// Service's EndpointSlice and returns the slices.
func (e *env) apiServerSlices(ctx context.Context) ([]discoveryv1.EndpointSlice, error) {
	return getRetry(ctx, func() ([]discoveryv1.EndpointSlice, error) {
		l, err := e.client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
		if err != nil {
			return nil, err
		}
		if len(l.Items) == 0 {
			return nil, errors.New("the API server has published no EndpointSlice for the kubernetes Service")
		}
		return l.Items, nil
	})
}

// kubeRouterStart runs kube-router's network policy controller alone
// inside the node namespace, and waits until it has hooked the source
// pod's traffic.
func (e *env) kubeRouterStart(ctx context.Context) error {
	kr, err := e.start("kube-router", []string{"NODE_NAME=" + nodeName}, e.kubeRouter,
		"--kubeconfig", filepath.Join(e.work, "kubeconfig"), "--hostname-override", nodeName,
		// the firewall only: the router (BGP, CNI config in /etc/cni/net.d,
		// /etc/iproute2/rt_tables) and the service proxy (IPVS) stay off
		"--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
		"--service-cluster-ip-range", serviceCIDR,
		"--health-port", "0", "--metrics-port", "0", "--v", "1")
	if err != nil {
		return err
	}
	want := "-s " + podDefs[0].ip + "/32"
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := e.node.exec("iptables", "-S", "KUBE-ROUTER-FORWARD")
		if strings.Contains(out, want) {
			return nil
		}
		if kr.exited() {
			return fmt.Errorf("kube-router exited:\n%s", kr.tail(30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-router set up no chain for the source pod in 60s:\n%s", kr.tail(30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// podIP parses a pod's status.podIP.
func podIP(p *corev1.Pod) netip.Addr {
	a, err := netip.ParseAddr(p.Status.PodIP)
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// buildEgressctl builds cmd/egressctl from this tree.
func buildEgressctl(out string) error {
	cmd := exec.Command("go", "build", "-o", out, "./cmd/egressctl")
	cmd.Dir = filepath.Join("..", "..")
	// It dies with the test (a test killed by its timeout runs no clean-up).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/egressctl: %w\n%s", err, b)
	}
	return nil
}
