package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

// TestServices: kube-proxy runs on every node as AKS's kube-proxy DaemonSet, and Services carry
// real packets from pods, nodes and the host.
func TestServices(t *testing.T) {
	for _, mode := range []string{"IPTABLES", "NFTABLES"} {
		t.Run(mode, func(t *testing.T) { testServices(t, mode) })
	}
}

func testServices(t *testing.T, mode string) {
	c := newTestCluster(t)
	c.mustMinaks("up", "--kube-proxy-config", `{"mode":"`+mode+`"}`)

	// up returned: kube-proxy is ready on every node.
	if out := c.mustKubectl("-n", "kube-system", "get", "ds", "kube-proxy", "-o", "jsonpath={.status.numberReady}/{.status.desiredNumberScheduled}"); out != "3/3" {
		t.Fatalf("kube-proxy DaemonSet ready %s, want 3/3", out)
	}
	manifest := filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(manifest, []byte(servicesManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("apply", "-f", manifest)
	c.mustKubectl("wait", "--for=condition=Available", "deployment/echo", "--timeout=60s")
	c.mustKubectl("wait", "--for=condition=Ready", "pod", "-l", "app=echo", "--timeout=60s")
	c.mustKubectl("wait", "--for=condition=Ready", "pod/client", "pod/lonely", "pod/lingering", "--timeout=60s")

	nodes := c.nodes()
	nodeIP := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(c.mustKubectl("get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}`)), "\n") {
		name, ip, _ := strings.Cut(line, " ")
		nodeIP[name] = ip
	}
	nodeNS := func(node string) string { return "minaks." + c.name + "." + node }
	podNS := func(p podInfo) string { return "minaks." + c.name + ".pod-" + p.uid }
	client := c.pods("role=client")[0]
	echo := c.pods("app=echo")
	echoNames := map[string]string{} // pod name → node
	for _, p := range echo {
		echoNames[p.name] = p.node
	}
	clusterIP := func(svc string) string {
		return c.mustKubectl("get", "svc", svc, "-o", "jsonpath={.spec.clusterIP}")
	}
	nodePort := func(svc string, i int) string {
		return c.mustKubectl("get", "svc", svc, "-o", fmt.Sprintf("jsonpath={.spec.ports[%d].nodePort}", i))
	}
	// hostname asks agnhost netexec behind addr which pod it is, over HTTP.
	hostname := func(ns, addr string) (string, error) {
		out, err := netnstest.Fetch(ns, addr, "GET /hostname HTTP/1.0\r\n\r\n")
		if err != nil {
			return "", err
		}
		_, body, ok := strings.Cut(out, "\r\n\r\n")
		if !ok || body == "" {
			return "", fmt.Errorf("no HTTP answer: %q", out)
		}
		return body, nil
	}
	// spread asks n times and returns the set of pods that answered.
	spread := func(t *testing.T, ns, addr string, n int) map[string]bool {
		t.Helper()
		seen := map[string]bool{}
		for range n {
			name, err := hostname(ns, addr)
			if err != nil {
				t.Fatalf("from %s to %s: %v", ns, addr, err)
			}
			seen[name] = true
		}
		return seen
	}

	ip := clusterIP("echo")
	t.Run("ClusterIP from pods and nodes, named target port, every endpoint", func(t *testing.T) {
		for _, from := range []string{podNS(client), nodeNS(nodes.Items[0].Metadata.Name)} {
			seen := map[string]bool{}
			// The last pod's endpoint may be a sync (up to kube-proxy's minSyncPeriod) behind.
			eventually(t, 10*time.Second, "every endpoint answering from "+from, func() error {
				for name := range spread(t, from, net.JoinHostPort(ip, "80"), 20) {
					if _, ok := echoNames[name]; !ok {
						t.Fatalf("answer from %q, not an echo pod", name)
					}
					seen[name] = true
				}
				if len(seen) != len(echo) {
					return fmt.Errorf("%d of %d endpoints answered: %v", len(seen), len(echo), seen)
				}
				return nil
			})
		}
	})

	t.Run("UDP ClusterIP", func(t *testing.T) {
		got, err := udpAsk(podNS(client), net.JoinHostPort(ip, "81"), "hostname")
		if _, ok := echoNames[got]; err != nil || !ok {
			t.Errorf("UDP: %q, %v", got, err)
		}
	})

	t.Run("NodePort on every node from host, node and pod", func(t *testing.T) {
		port := nodePort("echo", 0)
		for _, n := range nodes.Items {
			addr := net.JoinHostPort(nodeIP[n.Metadata.Name], port)
			for _, from := range []string{"", nodeNS(nodes.Items[1].Metadata.Name), podNS(client)} {
				if name, err := hostname(from, addr); err != nil || echoNames[name] == "" {
					t.Errorf("from %q to %s: %q, %v", from, addr, name, err)
				}
			}
		}
	})

	t.Run("sessionAffinity ClientIP keeps a client on one pod", func(t *testing.T) {
		seen := spread(t, podNS(client), net.JoinHostPort(clusterIP("sticky"), "80"), 15)
		if len(seen) != 1 {
			t.Errorf("ClientIP affinity: answers from %v", seen)
		}
	})

	t.Run("internalTrafficPolicy Local: only the client's node's endpoints", func(t *testing.T) {
		addr := net.JoinHostPort(clusterIP("local-only"), "80")
		for _, n := range nodes.Items {
			var local []string
			for name, node := range echoNames {
				if node == n.Metadata.Name {
					local = append(local, name)
				}
			}
			name, err := hostname(nodeNS(n.Metadata.Name), addr)
			switch {
			case len(local) == 0 && err == nil:
				t.Errorf("node %s has no local endpoint but %s answered", n.Metadata.Name, name)
			case len(local) > 0 && (err != nil || !slices.Contains(local, name)):
				t.Errorf("node %s: answer %q, %v; local endpoints %v", n.Metadata.Name, name, err, local)
			}
		}
	})

	t.Run("externalTrafficPolicy Local: local endpoints, client IP kept, health check node port", func(t *testing.T) {
		port := nodePort("etp-local", 0)
		hcPort := c.mustKubectl("get", "svc", "etp-local", "-o", "jsonpath={.spec.healthCheckNodePort}")
		for _, n := range nodes.Items {
			var local []string
			for name, node := range echoNames {
				if node == n.Metadata.Name {
					local = append(local, name)
				}
			}
			addr := net.JoinHostPort(nodeIP[n.Metadata.Name], port)
			out, err := netnstest.Fetch("", addr, "GET /clientip HTTP/1.0\r\n\r\n")
			if len(local) == 0 {
				if err == nil {
					t.Errorf("node %s without a local endpoint answered: %q", n.Metadata.Name, out)
				}
			} else if err != nil || !strings.Contains(out, "\r\n\r\n") {
				t.Errorf("node %s: %q, %v", n.Metadata.Name, out, err)
			} else if _, body, _ := strings.Cut(out, "\r\n\r\n"); !strings.HasPrefix(body, hostSourceTo(t, nodeIP[n.Metadata.Name])+":") {
				t.Errorf("node %s: the pod saw client %q, want the host's address", n.Metadata.Name, body)
			}
			code, body := httpGet(t, "http://"+net.JoinHostPort(nodeIP[n.Metadata.Name], hcPort)+"/healthz")
			want := http.StatusServiceUnavailable
			if len(local) > 0 {
				want = http.StatusOK
			}
			if code != want || !strings.Contains(body, fmt.Sprintf(`"localEndpoints": %d`, len(local))) {
				t.Errorf("node %s health check node port: %d %q, want %d with %d local endpoints", n.Metadata.Name, code, body, want, len(local))
			}
		}
	})

	t.Run("hairpin: a pod reaches itself through its Service", func(t *testing.T) {
		lonely := c.pods("app=lonely")[0]
		if name, err := hostname(podNS(lonely), net.JoinHostPort(clusterIP("lonely"), "80")); err != nil || name != "lonely" {
			t.Errorf("hairpin: %q, %v", name, err)
		}
	})

	t.Run("kubernetes Service from a pod with its service account token", func(t *testing.T) {
		out := c.mustKubectl("exec", "client", "--", "sh", "-c",
			`curl -sS --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt -H "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/default/pods/client`)
		if !strings.Contains(out, `"name": "client"`) {
			t.Errorf("in-cluster API call: %.300s", out)
		}
		// The endpoint the API server advertises: its address in the VNet, not loopback.
		if ep := c.mustKubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes", "-o", "jsonpath={.items[0].endpoints[*].addresses[*]}"); ep != "10.224.0.2" {
			t.Errorf("kubernetes Service endpoints %q, want 10.224.0.2", ep)
		}
	})

	t.Run("UDP: a gone endpoint's conntrack entries are cleared", func(t *testing.T) {
		// One socket, so one conntrack entry, bound to the first pod that answers.
		var conn net.Conn
		if err := netns.Do(podNS(client), func() (err error) {
			conn, err = net.Dial("udp", net.JoinHostPort(ip, "81"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ask := func() (string, error) {
			buf := make([]byte, 512)
			if _, err := io.WriteString(conn, "hostname"); err != nil {
				return "", err
			}
			_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := conn.Read(buf)
			return string(buf[:n]), err
		}
		var first string
		eventually(t, 10*time.Second, "a UDP answer", func() (err error) {
			first, err = ask()
			return err
		})
		c.mustKubectl("delete", "pod", first, "--wait=false")
		eventually(t, 30*time.Second, "another pod answering on the same socket", func() error {
			got, err := ask()
			if err != nil || got == first {
				return fmt.Errorf("answer %q, %v", got, err)
			}
			return nil
		})
	})

	t.Run("endpoints follow pods: scale down, the Service forgets them", func(t *testing.T) {
		c.mustKubectl("scale", "deployment/echo", "--replicas=1")
		eventually(t, 30*time.Second, "one endpoint left", func() error {
			seen := map[string]bool{}
			for range 10 {
				name, err := hostname(podNS(client), net.JoinHostPort(ip, "80"))
				if err != nil {
					return err // a stopped pod's endpoint not yet gone
				}
				seen[name] = true
			}
			if len(seen) != 1 {
				return fmt.Errorf("answers from %v", seen)
			}
			return nil
		})
	})

	t.Run("a terminating endpoint serves while there is no other", func(t *testing.T) {
		c.mustKubectl("delete", "pod", "lingering", "--wait=false")
		eventually(t, 20*time.Second, "the endpoint terminating", func() error {
			out := c.mustKubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=lingering", "-o", "jsonpath={.items[0].endpoints[0].conditions}")
			if !strings.Contains(out, `"terminating":true`) || !strings.Contains(out, `"serving":true`) {
				return fmt.Errorf("conditions %s", out)
			}
			return nil
		})
		// Not ready any more, but serving and the only one: kube-proxy still sends to it.
		eventually(t, 10*time.Second, "the terminating pod answering", func() error {
			name, err := hostname(podNS(client), net.JoinHostPort(clusterIP("lingering"), "80"))
			if err == nil && name != "lingering" {
				err = fmt.Errorf("answer from %q", name)
			}
			return err
		})
	})

	t.Run("a node's shell sees the node's rules", func(t *testing.T) {
		// iptables in minaks exec is the nodes' backend, whatever the host's default.
		out := c.mustMinaks("exec", nodes.Items[0].Metadata.Name, "--", "iptables-save", "-t", "nat")
		want := []string{"IP-MASQ-AGENT"}
		if mode == "IPTABLES" {
			want = append(want, "KUBE-SERVICES", "default/echo:http")
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("iptables-save on the node lacks %q:\n%s", w, out)
			}
		}
	})

	t.Run("a killed kube-proxy is restarted and its rules come back", func(t *testing.T) {
		node := nodes.Items[0].Metadata.Name
		flush := exec.Command("ip", "netns", "exec", nodeNS(node), "iptables-legacy", "-t", "nat", "-F", "KUBE-SERVICES")
		if mode == "NFTABLES" {
			flush = exec.Command("ip", "netns", "exec", nodeNS(node), "nft", "flush", "chain", "ip", "kube-proxy", "services")
		}
		// Any sync writes KUBE-SERVICES whole: let the scale-down's pods go first.
		eventually(t, 60*time.Second, "the scaled-down pods gone", func() error {
			if n := len(c.pods("app=echo")); n != 1 {
				return fmt.Errorf("%d pods", n)
			}
			return nil
		})
		time.Sleep(time.Second)
		if out, err := flush.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", flush, err, out)
		}
		// What the services chain holds: a rule per Service port, or nftables's lookup in its map.
		rules, rule := exec.Command("ip", "netns", "exec", nodeNS(node), "iptables-legacy", "-t", "nat", "-S", "KUBE-SERVICES"), "default/echo"
		if mode == "NFTABLES" {
			rules, rule = exec.Command("ip", "netns", "exec", nodeNS(node), "nft", "list", "chain", "ip", "kube-proxy", "services"), "@service-ips"
		}
		if out, err := rules.CombinedOutput(); err != nil || strings.Contains(string(out), rule) {
			t.Fatalf("%v after the flush: %v\n%s", rules, err, out)
		}
		// Only a full sync, as at start, writes them again.
		pid, err := netnstest.PID(nodeNS(node), "kube-proxy")
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "kube-proxy back, its rules too", func() error {
			rules := exec.Command(rules.Args[0], rules.Args[1:]...)
			if out, err := rules.CombinedOutput(); err != nil || !strings.Contains(string(out), rule) {
				return fmt.Errorf("%v: %v\n%s", rules, err, out)
			}
			_, err := hostname(nodeNS(node), net.JoinHostPort(ip, "80"))
			return err
		})
		if out := c.mustKubectl("-n", "kube-system", "get", "pods", "-l", "component=kube-proxy", "--field-selector", "spec.nodeName="+node, "-o", "jsonpath={.items[0].status.containerStatuses[0].restartCount}"); out == "0" {
			t.Error("restartCount still 0")
		}
	})

	c.mustMinaks("down")
	if out, err := exec.Command("pgrep", "-x", "kube-proxy").Output(); err == nil {
		t.Errorf("kube-proxy processes left after down: %s", out)
	}
}

// udpAsk sends msg to addr over UDP from inside ns and returns the first reply.
func udpAsk(ns, addr, msg string) (string, error) {
	var reply string
	err := netns.Do(ns, func() error {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		buf := make([]byte, 1500)
		for range 5 { // UDP: ask again when a datagram is lost
			if _, err := io.WriteString(conn, msg); err != nil {
				return err
			}
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, err := conn.Read(buf)
			if err == nil {
				reply = string(buf[:n])
				return nil
			}
		}
		return fmt.Errorf("no UDP answer from %s", addr)
	})
	return reply, err
}

// httpGet does a GET from the host and returns the status code and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// hostSourceTo is the source address of the host's connections to ip.
func hostSourceTo(t *testing.T, ip string) string {
	t.Helper()
	out, err := exec.Command("ip", "-j", "route", "get", ip).Output()
	if err != nil {
		t.Fatal(err)
	}
	var r []struct {
		PrefSrc string `json:"prefsrc"`
	}
	if err := json.Unmarshal(out, &r); err != nil || len(r) == 0 {
		t.Fatalf("ip route get: %s, %v", out, err)
	}
	return r[0].PrefSrc
}

const servicesManifest = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 4
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080, --udp-port=8081]
        ports:
        - {name: http, containerPort: 8080}
        - {name: udp, containerPort: 8081, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  type: NodePort
  selector: {app: echo}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: udp, port: 81, targetPort: udp, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: echo}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: local-only}
spec:
  selector: {app: echo}
  internalTrafficPolicy: Local
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: etp-local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: lonely, labels: {app: lonely}}
spec:
  hostname: lonely
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
---
apiVersion: v1
kind: Service
metadata: {name: lonely}
spec:
  selector: {app: lonely}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: lingering, labels: {app: lingering}}
spec:
  terminationGracePeriodSeconds: 120
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    lifecycle: {preStop: {exec: {command: [sleep, "120"]}}}
---
apiVersion: v1
kind: Service
metadata: {name: lingering}
spec:
  selector: {app: lingering}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  containers:
  - name: shell
    image: curlimages/curl
    command: [sleep, "3600"]
`
