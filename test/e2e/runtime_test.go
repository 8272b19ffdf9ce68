package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

// TestPodRuntime: pods run their containers, and kubectl's logs, exec, port-forward and cp work
// through each node's kubelet API.
func TestPodRuntime(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up", "--node-count", "2")
	manifest := filepath.Join(t.TempDir(), "pods.yaml")
	if err := os.WriteFile(manifest, []byte(runtimeManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("apply", "-f", manifest)
	c.mustKubectl("create", "deployment", "web", "--image=mcr.microsoft.com/azuredocs/aks-helloworld:v1", "--replicas=3")
	c.mustKubectl("wait", "--for=condition=Available", "deployment/web", "--timeout=60s")

	t.Run("helloworld answers on every pod IP", func(t *testing.T) {
		c := c.in(t)
		node := "minaks." + c.name + "." + c.nodes().Items[0].Metadata.Name
		for _, p := range c.pods("app=web") {
			got, err := netnstest.Fetch(node, net.JoinHostPort(p.ip, "80"), "GET / HTTP/1.0\r\n\r\n")
			if err != nil || !strings.Contains(got, "Welcome to Azure Kubernetes Service (AKS)") {
				t.Errorf("pod %s (%s): %.200q, %v", p.name, p.ip, got, err)
			}
		}
	})

	c.mustKubectl("wait", "--for=condition=Ready", "pod/files", "pod/env", "pod/dns-default", "pod/dns-none", "--timeout=60s")
	t.Run("logs", func(t *testing.T) {
		c := c.in(t)
		out := c.mustKubectl("logs", "files")
		for _, want := range []string{
			"config: from-configmap",
			"secret: s3cr3t",
			"token: eyJ",
			"ca: -----BEGIN CERTIFICATE-----",
			"namespace: default",
			"podname: files",
			"search default.svc.cluster.local svc.cluster.local cluster.local",
			"nameserver 10.0.0.10",
			"options ndots:5",
			"hosts: 10.244.",
			"hostname: files",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("logs of pod files lack %q:\n%s", want, out)
			}
		}
		if out := c.mustKubectl("logs", "env", "--tail=1"); strings.TrimSpace(out) != "MY_NODE="+c.podNode("env")+" FROM_CM=from-configmap KUBERNETES_SERVICE_HOST=10.0.0.1" {
			t.Errorf("env: %q", out)
		}
	})

	t.Run("init containers, dnsPolicy, logs -f", func(t *testing.T) {
		c := c.in(t)
		c.mustKubectl("wait", "--for=condition=Ready", "pod/init", "--timeout=60s")
		if out := c.mustKubectl("logs", "init", "-c", "main"); out != "prepared by init-1, then init-2\n" {
			t.Errorf("init containers: %q", out)
		}
		if out := c.mustKubectl("exec", "dns-default", "--", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver 168.63.129.16") || !strings.Contains(out, "internal.cloudapp.net") {
			t.Errorf("dnsPolicy Default: %q", out)
		}
		if out := c.mustKubectl("exec", "dns-none", "--", "cat", "/etc/resolv.conf"); out != "search example.internal\nnameserver 10.0.0.53\noptions ndots:2\n" {
			t.Errorf("dnsPolicy None: %q", out)
		}
		// A sidecar starts before the next init container and stops once the pod's containers
		// have exited: the pod completes.
		c.mustKubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/sidecar", "--timeout=60s")
		if out := c.mustKubectl("logs", "sidecar", "-c", "main"); out != "proxy up before init\n" {
			t.Errorf("sidecar: main logged %q", out)
		}
		if out := c.mustKubectl("get", "pod", "sidecar", "-o", "jsonpath={.status.initContainerStatuses[0].state.terminated.reason}"); out == "" {
			t.Errorf("sidecar: the pod completed, its sidecar did not stop")
		}
		// kubectl logs -f follows until the container exits.
		out := c.mustKubectl("logs", "-f", "counter")
		if out != "1\n2\n3\n" {
			t.Errorf("logs -f: %q", out)
		}
	})

	t.Run("exec -it", func(t *testing.T) {
		c := c.in(t)
		if _, err := exec.LookPath("script"); err != nil {
			t.Skip("needs script(1) for a terminal")
		}
		cmd := exec.Command("script", "-qec", fmt.Sprintf("%s --kubeconfig %s --context minaks-%s exec -it env -- sh -c 'tty; echo in-tty'", kubectlPath(), c.kubeconfig, c.name), "/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "in-tty") {
			t.Errorf("exec -it: %v, %q", err, out)
		}
	})

	t.Run("exec", func(t *testing.T) {
		c := c.in(t)
		if out := c.mustKubectl("exec", "env", "--", "sh", "-c", "echo $HOSTNAME; cat /etc/hostname"); out != "env\nenv\n" {
			t.Errorf("exec output %q", out)
		}
		out, err := c.kubectl("exec", "env", "--", "sh", "-c", "echo oops >&2; exit 3")
		var exit *exec.ExitError
		if !asExit(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(out, "oops") {
			t.Errorf("exit status: %v, %q", err, out)
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		c := c.in(t)
		cmd := exec.Command(kubectlPath(), "--kubeconfig", c.kubeconfig, "--context", "minaks-"+c.name, "port-forward", "deployment/web", "18089:80")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		eventually(t, 15*time.Second, "HTTP through port-forward", func() error {
			got, err := netnstest.Fetch("", "127.0.0.1:18089", "GET / HTTP/1.0\r\n\r\n")
			if err != nil || !strings.Contains(got, "Welcome to Azure Kubernetes Service") {
				return fmt.Errorf("%.100q, %v", got, err)
			}
			return nil
		})
	})

	t.Run("run -i attaches stdin", func(t *testing.T) {
		cmd := exec.Command(kubectlPath(), "--kubeconfig", c.kubeconfig, "--context", "minaks-"+c.name,
			"run", "interactive", "--image=busybox", "-i", "--rm", "--restart=Never", "--", "sh")
		cmd.Stdin = strings.NewReader("echo from-stdin; exit 5\n")
		out, err := cmd.Output()
		var exit *exec.ExitError
		if !asExit(err, &exit) || exit.ExitCode() != 5 || !strings.Contains(string(out), "from-stdin") {
			t.Errorf("kubectl run -i: %v, %q", err, out)
		}
	})

	t.Run("cp", func(t *testing.T) {
		c := c.in(t)
		dst := filepath.Join(t.TempDir(), "hostname")
		c.mustKubectl("cp", "env:/etc/hostname", dst)
		if b, err := os.ReadFile(dst); err != nil || string(b) != "env\n" {
			t.Errorf("copied %q, %v", b, err)
		}
	})

	t.Run("readiness follows the probe", func(t *testing.T) {
		c := c.in(t)
		c.mustKubectl("wait", "--for=jsonpath={.status.phase}=Running", "pod/probes", "--timeout=30s")
		if got := c.mustKubectl("get", "pod", "probes", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"); got != "False" {
			t.Errorf("Ready before the probe passes: %s", got)
		}
		c.mustKubectl("exec", "probes", "--", "touch", "/tmp/ready")
		c.mustKubectl("wait", "--for=condition=Ready", "pod/probes", "--timeout=20s")
		c.mustKubectl("exec", "probes", "--", "rm", "/tmp/ready")
		c.mustKubectl("wait", "--for=condition=Ready=false", "pod/probes", "--timeout=20s")
	})

	t.Run("a failing liveness probe restarts the container", func(t *testing.T) {
		c := c.in(t)
		// At least once: the container restarts again and again (with back-off) from its start.
		eventually(t, 40*time.Second, "a restart", func() error {
			out := c.mustKubectl("get", "pod", "liveness", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
			if n, err := strconv.Atoi(out); err != nil || n < 1 {
				return fmt.Errorf("restartCount %q", out)
			}
			return nil
		})
		if ev := c.mustKubectl("get", "events", "--field-selector", "involvedObject.name=liveness"); !strings.Contains(ev, "failed liveness probe, will be restarted") || !strings.Contains(ev, "Unhealthy") {
			t.Errorf("events:\n%s", ev)
		}
		if out := c.mustKubectl("logs", "liveness", "--previous"); !strings.Contains(out, "started") {
			t.Errorf("previous logs: %q", out)
		}
	})

	t.Run("the kubelet's stats and metrics", func(t *testing.T) {
		c := c.in(t)
		// A pod that holds 32 MiB in a string of awk's.
		c.mustKubectl("run", "hog", "--image=busybox", "--command", "--", "awk", `BEGIN{s=sprintf("%33554432s",""); print "held"; system("sleep 3600")}`)
		c.mustKubectl("wait", "--for=condition=Ready", "pod/hog", "--timeout=30s")
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(c.mustKubectl("logs", "hog"), "held") && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		node := c.mustKubectl("get", "pod", "hog", "-o", "jsonpath={.spec.nodeName}")
		raw := func(path string) string { return c.mustKubectl("get", "--raw", "/api/v1/nodes/"+node+"/proxy"+path) }
		var summary struct {
			Node struct {
				NodeName string
				Memory   struct{ WorkingSetBytes uint64 }
			}
			Pods []struct {
				PodRef     struct{ Name string }
				Containers []struct {
					Name   string
					CPU    struct{ UsageCoreNanoSeconds uint64 }
					Memory struct{ WorkingSetBytes uint64 }
				}
			}
		}
		if err := json.Unmarshal([]byte(raw("/stats/summary")), &summary); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range summary.Pods {
			if p.PodRef.Name == "hog" && len(p.Containers) == 1 {
				found = true
				if m := p.Containers[0].Memory.WorkingSetBytes; m < 32<<20 || m > 256<<20 || p.Containers[0].CPU.UsageCoreNanoSeconds == 0 {
					t.Errorf("hog's stats: %+v", p.Containers[0])
				}
			}
		}
		if !found || summary.Node.NodeName != node || summary.Node.Memory.WorkingSetBytes < 32<<20 {
			t.Errorf("summary of %s: %+v", node, summary)
		}
		if m := raw("/metrics/resource"); !regexp.MustCompile(`(?m)^container_memory_working_set_bytes\{container="hog",namespace="default",pod="hog"\} 3\.[0-9e+.]+ \d+$`).MatchString(m) {
			t.Errorf("/metrics/resource:\n%s", m)
		}
		if m := raw("/metrics"); !strings.Contains(m, `kubelet_node_name{node="`+node+`"} 1`) || !strings.Contains(m, "kubelet_running_pods ") {
			t.Errorf("/metrics:\n%s", m)
		}
		// The liveness pod's probe fails (it restarts); the kubelet counts each result.
		liveNode := c.mustKubectl("get", "pod", "liveness", "-o", "jsonpath={.spec.nodeName}")
		probes := c.mustKubectl("get", "--raw", "/api/v1/nodes/"+liveNode+"/proxy/metrics/probes")
		if !regexp.MustCompile(`prober_probe_total\{container="main",namespace="default",pod="liveness",pod_uid="[^"]+",probe_type="Liveness",result="failed"\} [1-9]`).MatchString(probes) {
			t.Errorf("/metrics/probes of %s:\n%s", liveNode, probes)
		}
	})

	t.Run("kubectl top and the HPA, through metrics-server", func(t *testing.T) {
		c := c.in(t)
		// AKS's add-on: two replicas in kube-system, serving metrics.k8s.io through the
		// aggregation layer.
		c.mustKubectl("-n", "kube-system", "rollout", "status", "deployment/metrics-server", "--timeout=120s")
		c.mustKubectl("wait", "--for=condition=Available", "apiservice/v1beta1.metrics.k8s.io", "--timeout=60s")
		// A pod that burns CPU up to its limit, 200m: 400 % of its 100m request.
		c.mustKubectl("create", "deployment", "burn", "--image=busybox", "--", "sh", "-c", "while :; do :; done")
		c.mustKubectl("set", "resources", "deployment/burn", "--requests=cpu=100m", "--limits=cpu=200m")
		c.mustKubectl("rollout", "status", "deployment/burn", "--timeout=60s")
		t.Cleanup(func() { c.kubectl("delete", "deployment/burn", "hpa/burn", "--ignore-not-found") })
		eventually(t, 90*time.Second, "kubectl top nodes and pods", func() error {
			nodes, err := c.kubectl("top", "nodes", "--no-headers")
			if err != nil || len(strings.Split(strings.TrimSpace(nodes), "\n")) != 2 {
				return fmt.Errorf("top nodes: %v: %s", err, nodes)
			}
			pods, err := c.kubectl("top", "pods", "--no-headers", "-l", "app=burn")
			// "burn-7d9c…   198m   1Mi": at its limit, not above it.
			f := strings.Fields(pods)
			if err != nil || len(f) != 3 || !strings.HasSuffix(f[2], "Mi") {
				return fmt.Errorf("top pods: %v: %s", err, pods)
			}
			if m, err := strconv.Atoi(strings.TrimSuffix(f[1], "m")); err != nil || m < 120 || m > 230 {
				return fmt.Errorf("burn uses %s of CPU, want about its 200m limit", f[1])
			}
			return nil
		})
		// The HorizontalPodAutoscaler reads the same API: 400 % of a 50 % target scales up.
		c.mustKubectl("autoscale", "deployment", "burn", "--cpu-percent=50", "--min=1", "--max=2")
		eventually(t, 120*time.Second, "the HPA scales burn to 2", func() error {
			out, err := c.kubectl("get", "deployment", "burn", "-o", "jsonpath={.spec.replicas}")
			if err != nil || out != "2" {
				hpa, _ := c.kubectl("get", "hpa", "burn")
				return fmt.Errorf("replicas %q (%v): %s", out, err, hpa)
			}
			return nil
		})
	})

	t.Run("built-in images carry their own tools, not the host's", func(t *testing.T) {
		c := c.in(t)
		c.mustKubectl("run", "tools", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--", "netexec", "--http-port=8080")
		c.mustKubectl("run", "bb", "--image=busybox", "--command", "--", "sleep", "3600")
		c.mustKubectl("expose", "deployment", "web", "--port=80", "--name=web-tools")
		c.mustKubectl("wait", "--for=condition=Ready", "pod/tools", "pod/bb", "--timeout=60s")
		// The tools root, whatever the host has: its os-release, no apt-get of the host.
		for _, pod := range []string{"tools", "bb"} {
			out := c.mustKubectl("exec", pod, "--", "sh", "-c", "cat /etc/os-release; test -e /usr/bin/apt-get && echo host root; for t in sh nc wget nslookup ip ping curl dig getent; do command -v $t >/dev/null || echo missing $t; done")
			if !strings.Contains(out, "minaks tools root") || strings.Contains(out, "host root") || strings.Contains(out, "missing") {
				t.Errorf("%s: %s", pod, out)
			}
		}
		// And they work: curl and wget to a Service, dig and nslookup of it, nc to a pod.
		ip := c.mustKubectl("get", "svc", "web-tools", "-o", "jsonpath={.spec.clusterIP}")
		web := c.pods("app=web")[0].ip
		// Until the tools pod's kube-proxy has the new Service's endpoints, its rules reject
		// connections to it, as on any cluster.
		eventually(t, 30*time.Second, "the tools pod's node serves web-tools", func() error {
			out, err := c.kubectl("exec", "tools", "--", "nc", "-z", "-w", "2", ip, "80")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
		for cmd, want := range map[string]string{
			"curl -sS -o /dev/null -w '%{http_code}' http://web-tools":                             "200",
			"wget -qO- http://web-tools | grep -c '<title>Welcome to Azure Kubernetes'":            "1",
			"dig +short web-tools.default.svc.cluster.local":                                       ip,
			"dig +notcp +noall +answer +search web-tools A | grep -c " + ip:                        "1",
			"nslookup web-tools.default.svc.cluster.local | grep -c " + ip:                         "1",
			"getent hosts web-tools | grep -c '^" + ip + " *web-tools.default.svc.cluster.local$'": "1",
			"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 " + web + " 80 | head -1":               "HTTP/1.0 200 OK",
			// A bare nc in sh is minaks's, with OpenBSD's -v and -z, as the upstream tests use it.
			"command -v nc": "/usr/bin/nc",
			"nc -v -z -w 2 " + web + " 80 2>&1 && echo open": "open",
		} {
			// The last line: kubectl 1.32 may log "Unknown stream id 1, discarding message" to
			// stderr before it when a WebSocket exec ends.
			out, err := c.kubectl("exec", "tools", "--", "sh", "-c", cmd)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if err != nil || lines[len(lines)-1] != want {
				t.Errorf("%s: %q (%v), want %q", cmd, out, err, want)
			}
		}
	})

	t.Run("a set-user-ID program gains root only where the container may gain privileges", func(t *testing.T) {
		c := c.in(t)
		// The upstream nonewprivs image: /usr/local/bin/nnp is set-user-ID root and prints the
		// effective user ID; each pod runs it as user 1000.
		var pods strings.Builder
		for name, ape := range map[string]string{"nnp-unset": "", "nnp-true": "allowPrivilegeEscalation: true", "nnp-false": "allowPrivilegeEscalation: false"} {
			fmt.Fprintf(&pods, `---
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  containers:
  - name: nnp
    image: registry.k8s.io/e2e-test-images/nonewprivs:1.3
    securityContext: {runAsUser: 1000, %s}
`, name, ape)
		}
		pods.WriteString(`---
apiVersion: v1
kind: Pod
metadata: {name: nnp-shell}
spec:
  containers:
  - name: shell
    image: registry.k8s.io/e2e-test-images/nonewprivs:1.3
    command: [sleep, "3600"]
    securityContext: {runAsUser: 1000}
`)
		c.kubectlApply(t, pods.String())
		c.mustKubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/nnp-unset", "pod/nnp-true", "pod/nnp-false", "--timeout=60s")
		for pod, want := range map[string]string{"nnp-unset": "Effective uid: 0\n", "nnp-true": "Effective uid: 0\n", "nnp-false": "Effective uid: 1000\n"} {
			if out := c.mustKubectl("logs", pod); out != want {
				t.Errorf("%s logged %q, want %q", pod, out, want)
			}
		}
		// The file is the image's, set-user-ID root; run under any other name it refuses.
		c.mustKubectl("wait", "--for=condition=Ready", "pod/nnp-shell", "--timeout=60s")
		if out := c.mustKubectl("exec", "nnp-shell", "--", "sh", "-c", "stat -c '%A %u' /usr/local/bin/nnp; id -u"); out != "-rwsr-sr-x 0\n1000\n" {
			t.Errorf("nnp's file and the shell's user: %q", out)
		}
		out, err := c.kubectl("exec", "nnp-shell", "--", "bash", "-c", "exec -a sh /usr/local/bin/nnp -c 'id -u'")
		var exit *exec.ExitError
		if !asExit(err, &exit) || exit.ExitCode() != 126 || !strings.Contains(out, "may not run set-user-ID") {
			t.Errorf("the set-user-ID copy run as sh: %v, %q", err, out)
		}
	})

	t.Run("an image that cannot be pulled", func(t *testing.T) {
		c := c.in(t)
		// A registry on loopback where nothing listens: the pull fails on the host.
		c.mustKubectl("run", "ghost", "--image=127.0.0.1:9/ghost:1")
		// ErrImagePull for a moment, then ImagePullBackOff carrying the failure until the next
		// attempt (10 s later), as the kubelet shows them.
		eventually(t, 30*time.Second, "ImagePullBackOff", func() error {
			out := c.mustKubectl("get", "pod", "ghost", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].state.waiting.message}")
			if !strings.HasPrefix(out, `ImagePullBackOff Back-off pulling image "127.0.0.1:9/ghost:1": ErrImagePull: Failed to pull image "127.0.0.1:9/ghost:1"`) || !strings.Contains(out, "connection refused") {
				return fmt.Errorf("%q", out)
			}
			return nil
		})
		if ev := c.mustKubectl("get", "events", "--field-selector", "involvedObject.name=ghost"); !strings.Contains(ev, `Back-off pulling image "127.0.0.1:9/ghost:1"`) || !strings.Contains(ev, "Error: ErrImagePull") {
			t.Errorf("events:\n%s", ev)
		}
		// Deleted while in back-off: it goes at once (a pull in flight is cancelled too:
		// TestPullSharedAndCancelled).
		start := time.Now()
		c.mustKubectl("delete", "pod", "ghost", "--wait=true")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("deleting a pod whose image cannot be pulled took %v", d)
		}
	})

	t.Run("graceful deletion", func(t *testing.T) {
		c := c.in(t)
		start := time.Now()
		c.mustKubectl("delete", "pod", "graceful", "--wait=true")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("a pod that exits on SIGTERM took %v to delete", d)
		}
		start = time.Now()
		c.mustKubectl("delete", "pod", "stubborn", "--grace-period=2", "--wait=true")
		if d := time.Since(start); d < 2*time.Second || d > 10*time.Second {
			t.Errorf("a pod that ignores SIGTERM with 2 s of grace took %v to delete", d)
		}
	})

	t.Run("hostNetwork pods run in their node's namespace", func(t *testing.T) {
		c := c.in(t)
		c.mustKubectl("wait", "--for=condition=Ready", "pod/hostnet", "--timeout=30s")
		nodeIP := c.mustKubectl("get", "pod", "hostnet", "-o", "jsonpath={.status.hostIP}")
		if ip := c.mustKubectl("get", "pod", "hostnet", "-o", "jsonpath={.status.podIP}"); ip != nodeIP {
			t.Errorf("podIP %s, want the node's %s", ip, nodeIP)
		}
		if got, err := netnstest.Fetch("", net.JoinHostPort(nodeIP, "18090"), "GET /hostname HTTP/1.0\r\n\r\n"); err != nil || !strings.Contains(got, "aks-nodepool1-") {
			t.Errorf("host → hostNetwork pod: %.200q, %v", got, err)
		}
	})

	t.Run("hostPort", func(t *testing.T) {
		c := c.in(t)
		c.mustKubectl("wait", "--for=condition=Ready", "pod/hostport", "--timeout=30s")
		nodeIP := c.mustKubectl("get", "pod", "hostport", "-o", "jsonpath={.status.hostIP}")
		got, err := netnstest.Fetch("", net.JoinHostPort(nodeIP, "18092"), "GET /hostname HTTP/1.0\r\n\r\n")
		if err != nil || !strings.HasSuffix(got, "\r\n\r\nhostport") {
			t.Errorf("host → node %s:18092: %.300q, %v", nodeIP, got, err)
		}
	})

	t.Run("lifecycle hooks", func(t *testing.T) {
		c := c.in(t)
		c.mustKubectl("wait", "--for=condition=Ready", "pod/hooks", "--timeout=30s")
		if out := c.mustKubectl("exec", "hooks", "--", "cat", "/tmp/poststart"); out != "ran\n" {
			t.Errorf("postStart: %q", out)
		}
	})

	// down leaves no container process behind.
	c.mustMinaks("down")
	if out, _ := exec.Command("pgrep", "-f", "minaks-container-init|sleep 3600").Output(); len(out) > 0 {
		t.Errorf("processes left: %s", out)
	}
}

// in is the cluster as seen by a subtest: its failures are the subtest's.
func (c *testCluster) in(t *testing.T) *testCluster {
	cc := *c
	cc.t = t
	return &cc
}

func (c *testCluster) podNode(name string) string {
	return c.mustKubectl("get", "pod", name, "-o", "jsonpath={.spec.nodeName}")
}

func asExit(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*target = e
	return ok
}

func kubectlPath() string {
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p
	}
	return "kubectl"
}

const runtimeManifest = `
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {greeting: from-configmap}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {password: s3cr3t}
---
apiVersion: v1
kind: Pod
metadata: {name: files}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c]
    args:
    - |
      echo "config: $(cat /config/greeting)"
      echo "secret: $(cat /secret/password)"
      echo "token: $(head -c 3 /var/run/secrets/kubernetes.io/serviceaccount/token)"
      echo "ca: $(head -n 1 /var/run/secrets/kubernetes.io/serviceaccount/ca.crt)"
      echo "namespace: $(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)"
      echo "podname: $(cat /info/name)"
      cat /etc/resolv.conf
      echo "hosts: $(tail -n 1 /etc/hosts)"
      echo "hostname: $(hostname)"
      exec sleep 3600
    volumeMounts:
    - {name: config, mountPath: /config}
    - {name: secret, mountPath: /secret, readOnly: true}
    - {name: info, mountPath: /info}
  volumes:
  - name: config
    configMap: {name: app-config}
  - name: secret
    secret: {secretName: app-secret}
  - name: info
    downwardAPI:
      items: [{path: name, fieldRef: {fieldPath: metadata.name}}]
---
apiVersion: v1
kind: Pod
metadata: {name: env}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'echo "MY_NODE=$MY_NODE FROM_CM=$FROM_CM KUBERNETES_SERVICE_HOST=$KUBERNETES_SERVICE_HOST"; exec sleep 3600']
    env:
    - name: MY_NODE
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - name: FROM_CM
      valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}
---
apiVersion: v1
kind: Pod
metadata: {name: probes}
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    readinessProbe:
      exec: {command: [cat, /tmp/ready]}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: liveness}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'echo started; exec sleep 3600']
    livenessProbe:
      exec: {command: [cat, /tmp/never]}
      periodSeconds: 1
      failureThreshold: 2
  terminationGracePeriodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: graceful}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'trap "echo bye; exit 0" TERM; while true; do sleep 0.2; done']
---
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  containers:
  - name: main
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=18090, --udp-port=18091]
    readinessProbe:
      httpGet: {path: /healthz, port: 18090}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: hostport}
spec:
  containers:
  - name: main
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{containerPort: 8080, hostPort: 18092}]
    readinessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: init}
spec:
  initContainers:
  - {name: init-1, image: busybox, command: [sh, -c, 'echo -n "prepared by init-1" > /work/msg'], volumeMounts: [{name: work, mountPath: /work}]}
  - {name: init-2, image: busybox, command: [sh, -c, 'echo ", then init-2" >> /work/msg'], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - {name: main, image: busybox, command: [sh, -c, 'cat /work/msg; exec sleep 3600'], volumeMounts: [{name: work, mountPath: /work}]}
  volumes: [{name: work, emptyDir: {}}]
---
apiVersion: v1
kind: Pod
metadata: {name: sidecar}
spec:
  restartPolicy: Never
  initContainers:
  - name: proxy
    image: busybox
    restartPolicy: Always
    command: [sh, -c, 'echo up > /work/up; exec sleep 3600']
    startupProbe: {exec: {command: [cat, /work/up]}, periodSeconds: 1}
    volumeMounts: [{name: work, mountPath: /work}]
  - {name: after, image: busybox, command: [sh, -c, 'echo "proxy $(cat /work/up) before init" > /work/seen'], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - {name: main, image: busybox, command: [sh, -c, 'cat /work/seen; sleep 2'], volumeMounts: [{name: work, mountPath: /work}]}
  volumes: [{name: work, emptyDir: {}}]
---
apiVersion: v1
kind: Pod
metadata: {name: dns-default}
spec:
  dnsPolicy: Default
  containers: [{name: main, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: dns-none}
spec:
  dnsPolicy: None
  dnsConfig: {nameservers: [10.0.0.53], searches: [example.internal], options: [{name: ndots, value: "2"}]}
  containers: [{name: main, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: counter}
spec:
  restartPolicy: Never
  containers: [{name: main, image: busybox, command: [sh, -c, 'for i in 1 2 3; do echo $i; sleep 1; done']}]
---
apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    lifecycle:
      postStart:
        exec: {command: [sh, -c, 'echo ran > /tmp/poststart']}
`
