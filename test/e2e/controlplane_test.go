// Package e2e holds the end-to-end tests: they run the built minaks binary as root, start real
// clusters in state directories of their own, talk to them with kubectl, and check that nothing
// is left behind.
package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

func TestControlPlaneLifecycle(t *testing.T) {
	c := newTestCluster(t)
	out := c.mustMinaks("up")
	for _, step := range []string{"✓ Starting control plane", "✓ Starting controllers", "✓ Writing kubeconfig"} {
		if !strings.Contains(out, step) {
			t.Errorf("up output lacks %q:\n%s", step, out)
		}
	}

	if ns := c.mustKubectl("get", "ns", "-o", "name"); !strings.Contains(ns, "namespace/kube-system") {
		t.Fatalf("kube-system missing:\n%s", ns)
	}
	if v := c.mustKubectl("version", "-o", "json"); !strings.Contains(v, `"gitVersion": "v1.37.2"`) {
		t.Errorf("server version is not v1.37.2:\n%s", v)
	}

	// The controller-manager turns a Deployment into a ReplicaSet and Pods, which the scheduler
	// binds and the nodes run.
	c.mustKubectl("create", "deployment", "web", "--image=registry.k8s.io/pause:3.10", "--replicas=2")
	eventually(t, 60*time.Second, "ReplicaSet and 2 running Pods", func() error {
		rs, _ := c.kubectl("get", "rs", "-l", "app=web", "-o", "name")
		pods, _ := c.kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}")
		if !strings.HasPrefix(rs, "replicaset.apps/web-") || pods != "Running Running" {
			return fmt.Errorf("rs %q, pod phases %q", rs, pods)
		}
		return nil
	})
	// The service-account controllers run: every namespace gets its default ServiceAccount.
	c.mustKubectl("get", "serviceaccount", "default", "-n", "kube-system")

	// `minaks kubectl` is the upstream kubectl pointed at the cluster.
	if out := c.mustMinaks("kubectl", "--", "get", "deploy", "web", "-o", "name"); strings.TrimSpace(out) != "deployment.apps/web" {
		t.Errorf("minaks kubectl: %q", out)
	}

	status := c.mustMinaks("status")
	for _, want := range []string{"running (pid", "kube-apiserver", "ready", "kube-controller-manager", "kube-scheduler", "10.244.0.0/16", "3 of 3 Ready", "Memory:", "  daemon ", "  kube-proxy ×3 ", "  coredns ×2 "} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if list, _ := c.minaks("list"); !strings.Contains(list, c.name) {
		t.Errorf("list lacks %s:\n%s", c.name, list)
	}

	t.Run("security", func(t *testing.T) {
		pids := c.daemonPIDs()
		if len(pids) != 1 {
			t.Fatalf("daemons: %v", pids)
		}
		port := c.apiPort()
		// etcd has no TCP listener; the API server listens on loopback only.
		if got, want := listeners(t, pids[0]), []string{fmt.Sprintf("127.0.0.1:%d", port)}; !slices.Equal(got, want) {
			t.Errorf("daemon listens on %v, want only %v", got, want)
		}
		// Anonymous requests are refused.
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/api/v1/namespaces", port))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous request: %d, want 401", resp.StatusCode)
		}
		// Keys, kubeconfigs and sockets are root's only; the state directory is 0700.
		dir := filepath.Join(c.stateDir, c.name)
		checkMode(t, dir, 0o700)
		checkMode(t, c.kubeconfig, 0o600)
		for _, pattern := range []string{"pki/*.key", "*.kubeconfig", "kubeconfig", "etcd.sock", "daemon.sock", "cluster.json"} {
			files, _ := filepath.Glob(filepath.Join(dir, pattern))
			if len(files) == 0 {
				t.Errorf("no files match %s", pattern)
			}
			for _, f := range files {
				checkMode(t, f, 0o600)
			}
		}
	})

	out = c.mustMinaks("down")
	if !strings.Contains(out, "Deleted cluster") {
		t.Errorf("down: %s", out)
	}
	c.assertGone()
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if st.Mode().Perm() != want {
		t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
	}
}

func TestUpTwiceDownTwice(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up")
	pids := c.daemonPIDs()
	out := c.mustMinaks("up")
	if !strings.Contains(out, "already running") {
		t.Errorf("second up: %s", out)
	}
	if again := c.daemonPIDs(); !slices.Equal(pids, again) || len(pids) != 1 {
		t.Errorf("daemons %v after the second up, want %v", again, pids)
	}
	c.mustKubectl("get", "ns", "kube-system")
	c.mustMinaks("down")
	c.assertGone()
	if out := c.mustMinaks("down"); !strings.Contains(out, "nothing to do") {
		t.Errorf("second down: %s", out)
	}
}

func TestDownAfterKill9(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up")
	pids := c.daemonPIDs()
	if len(pids) != 1 {
		t.Fatalf("daemons: %v", pids)
	}
	killDaemon(t, c, pids[0])
	if out := c.mustMinaks("status"); !strings.Contains(out, "stopped") {
		t.Errorf("status after kill -9: %s", out)
	}
	c.mustMinaks("down")
	c.assertGone()
}

func TestDownWithoutStateDir(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up")
	// The state is lost (say, a wiped /var/lib): down still finds the daemon by name.
	if err := os.RemoveAll(filepath.Join(c.stateDir, c.name)); err != nil {
		t.Fatal(err)
	}
	c.mustMinaks("down")
	c.assertGone()
}

func TestRestartKeepsData(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up", "--network-plugin", "kubenet")
	port := c.apiPort()
	c.mustKubectl("create", "configmap", "keep", "--from-literal=k=v")

	if out := c.mustMinaks("stop"); !strings.Contains(out, "Stopped") {
		t.Errorf("stop: %s", out)
	}
	if p := c.daemonPIDs(); len(p) > 0 {
		t.Fatalf("daemon still running after stop: %v", p)
	}
	if out := c.mustMinaks("status"); !strings.Contains(out, "stopped") {
		t.Errorf("status after stop: %s", out)
	}

	// Different flags on an existing cluster are refused, naming what differs, and change nothing.
	out, err := c.minaks("up", "--network-plugin", "azure")
	if err == nil || !strings.Contains(out, "networkPlugin") || !strings.Contains(out, "minaks down") {
		t.Errorf("up with another definition: err %v\n%s", err, out)
	}
	if p := c.daemonPIDs(); len(p) > 0 {
		t.Errorf("refused up started a daemon: %v", p)
	}

	out = c.mustMinaks("up")
	if !strings.Contains(out, "existing cluster") {
		t.Errorf("restart: %s", out)
	}
	if got := c.apiPort(); got != port {
		t.Errorf("API port moved from %d to %d", port, got)
	}
	if v := c.mustKubectl("get", "configmap", "keep", "-o", "jsonpath={.data.k}"); v != "v" {
		t.Errorf("configmap after restart: %q", v)
	}
	if s := c.mustMinaks("status"); !strings.Contains(s, "kubenet") {
		t.Errorf("restarted cluster lost its definition:\n%s", s)
	}
}

func TestBadFlagsChangeNothing(t *testing.T) {
	c := newTestCluster(t)
	if err := os.WriteFile(c.kubeconfig, []byte("apiVersion: v1\nkind: Config\ncurrent-context: other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := fmt.Sprint(busy.Addr().(*net.TCPAddr).Port)
	type badFlags struct {
		args []string
		want string
	}
	var kernel []badFlags
	if !netstack.HasIPVS() {
		// Like this VM's: IPVS mode is refused before anything is made.
		kernel = append(kernel, badFlags{[]string{"--kube-proxy-config", `{"mode":"IPVS"}`}, "mode IPVS needs the kernel's IPVS"})
	}
	for _, tc := range append([]badFlags{
		{[]string{"--api-port", busyPort}, "--api-port=" + busyPort + ": the port is in use"},
		{[]string{"--pod-cidr", "10.224.0.0/16"}, "--pod-cidr=10.224.0.0/16"},
		{[]string{"--network-plugin", "flannel"}, "--network-plugin=flannel"},
		{[]string{"--service-cidr", "10.1.0.0/16", "--dns-service-ip", "10.1.0.1"}, "--dns-service-ip=10.1.0.1"},
		{[]string{"--max-pods", "300"}, "--max-pods=300"},
		{[]string{"--kube-proxy-config", `{"mode":"FAST"}`}, "--kube-proxy-config"},
		{[]string{"--node-count", "-1"}, "--node-count=-1"},
		{[]string{"--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"--enable-app-routing-istio"}, "--enable-app-routing-istio=true: the application routing Gateway API implementation requires the managed Gateway API installation"},
		{[]string{"--app-routing-default-nginx-controller", "Internal"}, "--app-routing-default-nginx-controller=Internal: needs --enable-app-routing"},
	}, kernel...) {
		out, err := c.minaks("up", tc.args...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("up %v: err %v, output lacks %q:\n%s", tc.args, err, tc.want, out)
		}
	}
	if _, err := os.Stat(c.stateDir); !os.IsNotExist(err) {
		t.Errorf("state directory created by refused up: %v", err)
	}
	if b, _ := os.ReadFile(c.kubeconfig); string(b) != "apiVersion: v1\nkind: Config\ncurrent-context: other\n" {
		t.Errorf("kubeconfig changed:\n%s", b)
	}
	if p := c.daemonPIDs(); len(p) > 0 {
		t.Errorf("daemon started: %v", p)
	}
}

func TestTwoClusters(t *testing.T) {
	a, b := newTestCluster(t), newTestCluster(t)
	b.kubeconfig = a.kubeconfig // both contexts in one file, as a user would have them
	a.mustMinaks("up")
	// Both use AKS's node subnet: the host routes it to the cluster started last, as the
	// kubeconfig's current context is; the second's up says so.
	if out := b.mustMinaks("up"); !strings.Contains(out, fmt.Sprintf("now routes the node subnet 10.224.0.0/16 to this cluster instead of cluster %q", a.name)) {
		t.Errorf("second cluster's up does not say it took the host route over:\n%s", out)
	}
	hostReaches := func(c *testCluster, text string) {
		t.Helper()
		node := c.nodes().Items[0].Metadata.Name
		netnstest.Serve(t, "minaks."+c.name+"."+node, "10.224.0.4:7001", netnstest.Text(text))
		eventually(t, 30*time.Second, "host reaches cluster "+text+"'s node", func() error {
			got, err := netnstest.Fetch("", "10.224.0.4:7001", "")
			if err != nil || got != text {
				return fmt.Errorf("%q, %v", got, err)
			}
			return nil
		})
	}
	hostReaches(b, "b")
	tookOver := time.Now()
	if a.apiPort() == b.apiPort() {
		t.Fatalf("both clusters on port %d", a.apiPort())
	}
	// Both reach beyond the host, although only b's subnet is routed by it: replies find their
	// cluster by its fabric's edge address.
	lan, lanIP, lanGateway := makeLANHost(t, b.name)
	lanAddr := netip.AddrPortFrom(lanIP, 80).String()
	netnstest.Serve(t, lan, lanAddr, netnstest.RemoteIP)
	for _, c := range []*testCluster{a, b} {
		node := "minaks." + c.name + "." + c.nodes().Items[0].Metadata.Name
		if saw, err := netnstest.Fetch(node, lanAddr, ""); err != nil || saw != lanGateway.String() {
			t.Errorf("cluster %s: node → LAN host: seen from %q (%v), want the host's %s", c.name, saw, err, lanGateway)
		}
	}
	// The API server reaches cluster a's kubelets although the host routes the subnet to b:
	// its cluster egress goes through a's fabric.
	a.mustKubectl("run", "hello", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hello from $HOSTNAME; sleep 3600")
	a.mustKubectl("wait", "--for=condition=Ready", "pod/hello", "--timeout=60s")
	if out := a.mustKubectl("exec", "hello", "--", "hostname"); out != "hello\n" {
		t.Errorf("exec in cluster a: %q", out)
	}
	b.mustKubectl("run", "hello", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hello from $HOSTNAME; sleep 3600")
	b.mustKubectl("wait", "--for=condition=Ready", "pod/hello", "--timeout=60s")
	if out := b.mustKubectl("logs", "hello"); out != "hello from hello\n" {
		t.Errorf("logs from cluster b: %q", out)
	}
	if out := b.mustKubectl("exec", "hello", "--", "hostname"); out != "hello\n" {
		t.Errorf("exec in cluster b: %q", out)
	}
	a.mustKubectl("create", "namespace", "only-in-a")
	if out, err := b.kubectl("get", "namespace", "only-in-a"); err == nil {
		t.Errorf("namespace of cluster a visible in b:\n%s", out)
	}
	time.Sleep(time.Until(tookOver.Add(fabricResyncOfDaemon))) // a's resync leaves the route with b
	if got, err := netnstest.Fetch("", "10.224.0.4:7001", ""); err != nil || got != "b" {
		t.Errorf("after a's resync the host reaches %q (%v), want cluster b", got, err)
	}
	b.mustMinaks("down")
	b.assertGone()
	// a is untouched by b's down, and takes the host route of the node subnet back.
	a.mustKubectl("get", "ns", "kube-system")
	if len(a.daemonPIDs()) != 1 {
		t.Error("cluster a's daemon is gone")
	}
	hostReaches(a, "a")
}

// fabricResyncOfDaemon is a little more than the daemon's fabric resync period (10 s).
const fabricResyncOfDaemon = 11 * time.Second

func TestForeground(t *testing.T) {
	c := newTestCluster(t)
	cmd := exec.Command(minaksBin, "up", "--foreground", "--name", c.name, "--state-dir", c.stateDir, "--kubeconfig", c.kubeconfig, "--image-source", "builtin")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	eventually(t, 60*time.Second, "foreground cluster ready", func() error {
		if !strings.Contains(out.String(), "Running in the foreground") {
			return fmt.Errorf("output so far:\n%s", out.String())
		}
		return nil
	})
	c.mustKubectl("get", "ns", "kube-system")
	if s := c.mustMinaks("status"); !strings.Contains(s, "running") {
		t.Errorf("status of a foreground cluster:\n%s", s)
	}
	// Ctrl-C (here SIGTERM) stops the cluster and keeps its state.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("foreground up exited with %v:\n%s", err, out.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("foreground up did not stop")
	}
	if p := c.daemonPIDs(); len(p) > 0 {
		t.Errorf("daemon left after the foreground up stopped: %v", p)
	}
	if s := c.mustMinaks("status"); !strings.Contains(s, "stopped") {
		t.Errorf("status after stopping:\n%s", s)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writing process and a reading test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// killDaemon kills a daemon with SIGKILL and waits until it is gone.
func killDaemon(t *testing.T, c *testCluster, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "daemon gone", func() error {
		if p := c.daemonPIDs(); len(p) > 0 {
			return fmt.Errorf("still running: %v", p)
		}
		return nil
	})
}
