package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

// policyEngine is a --network-policy flavour and the behaviour of its engine that users meet
// (AKS-REFERENCE.md, "Network policy", observable differences).
type policyEngine struct {
	flags []string
	// namespace/daemonSet run image (a prefix).
	namespace, daemonSet, image string
	// rules checks a node's iptables-save and ipsets.
	rules func(t *testing.T, save, sets string)
	// ownNode: a pod under a deny-all egress policy still reaches its own node.
	ownNode bool
	// nodePortBypass: a NodePort (externalTrafficPolicy Cluster) on the pod's node gets
	// through an ingress policy, kube-proxy accepting before the engine sees it.
	nodePortBypass bool
	// ipBlockOutsideOnly: an ipBlock never selects a pod's or a node's address (Cilium).
	ipBlockOutsideOnly bool
	// recheck: a new policy cuts connections already open (Cilium re-checks established
	// flows; NPM and Felix let them be).
	recheck bool
	// extra are the engine's own tests, run on the cluster after the shared ones.
	extra func(t *testing.T, c *testCluster, nodes []string)
}

// TestNetworkPolicyAzure drives NetworkPolicies through Azure NPM (--network-policy azure)
// with real connections between pods on one node and across nodes: the rules NPM writes, where
// FORWARD jumps to them, and what they let through, as on AKS.
func TestNetworkPolicyAzure(t *testing.T) {
	testNetworkPolicy(t, policyEngine{
		flags: []string{"--network-policy", "azure"}, namespace: "kube-system", daemonSet: "azure-npm",
		image: "mcr.microsoft.com/containernetworking/azure-npm:", rules: npmRules, ownNode: true, nodePortBypass: true,
	})
}

// TestNetworkPolicyCalico does the same through Calico's Felix (--network-policy calico),
// with Azure CNI's routed pods and with kubenet's bridge: policy before kube-proxy's chains,
// a pod's egress policy on what it sends its own node.
func TestNetworkPolicyCalico(t *testing.T) {
	for _, plugin := range []string{"azure", "kubenet"} {
		t.Run(plugin, func(t *testing.T) {
			testNetworkPolicy(t, policyEngine{
				flags: []string{"--network-plugin", plugin, "--network-policy", "calico"}, namespace: "calico-system", daemonSet: "calico-node",
				image: "mcr.microsoft.com/oss/calico/node:", rules: calicoRules,
			})
		})
	}
}

// TestNetworkPolicyCilium does the same through Cilium's agent (--network-dataplane cilium),
// which also replaces kube-proxy: Cilium's semantics (ipBlocks hold no pod or node, a pod
// reaches its own node only when allowed, load-balanced traffic meets policy, established
// connections are re-checked), and CiliumNetworkPolicies.
func TestNetworkPolicyCilium(t *testing.T) {
	testNetworkPolicy(t, policyEngine{
		flags: []string{"--network-dataplane", "cilium"}, namespace: "kube-system", daemonSet: "cilium",
		image: "mcr.microsoft.com/oss/cilium/cilium:", rules: ciliumRules, ipBlockOutsideOnly: true, recheck: true,
		extra: testCiliumPolicies,
	})
}

func testNetworkPolicy(t *testing.T, engine policyEngine) {
	c := newTestCluster(t)
	c.mustMinaks("up", engine.flags...)
	if out := c.mustKubectl("-n", engine.namespace, "get", "ds", engine.daemonSet, "-o", "jsonpath={.status.numberReady}/{.status.desiredNumberScheduled} {.spec.template.spec.containers[0].image}"); !strings.HasPrefix(out, "3/3 "+engine.image) {
		t.Fatalf("%s DaemonSet: %s, want 3/3 ready of %s", engine.daemonSet, out, engine.image)
	}
	nodes := c.nodes().Items
	nodeIP := func(i int) string {
		for _, a := range nodes[i].Status.Addresses {
			if a.Type == "InternalIP" {
				return a.Address
			}
		}
		return ""
	}
	c.applyNetpolPods(t, nodes[0].Metadata.Name, nodes[1].Metadata.Name, "")
	podNS := c.podNetns
	podIP := func(ns, name string) string {
		return c.mustKubectl("-n", ns, "get", "pod", name, "-o", "jsonpath={.status.podIP}")
	}
	server := podIP("np-a", "server")
	clients := map[string]string{ // who → its network namespace
		"client-a (same node)":  podNS("np-a", "client-a"),
		"other-a (other node)":  podNS("np-a", "other-a"),
		"client-b (other ns)":   podNS("np-b", "client-b"),
		"node0 (server's node)": "minaks." + c.name + "." + nodes[0].Metadata.Name,
		"node1":                 "minaks." + c.name + "." + nodes[1].Metadata.Name,
	}
	reaches := func(from, addr string) bool {
		out, err := netnstest.Fetch(clients[from], addr, "GET /hostname HTTP/1.0\r\n\r\n")
		return err == nil && strings.Contains(out, "200 OK")
	}
	// expect waits (briefly: engines write within milliseconds) until exactly want of the
	// clients reach addr.
	expect := func(t *testing.T, addr string, want ...string) {
		t.Helper()
		eventually(t, 10*time.Second, "reachability of "+addr, func() error {
			var mu sync.Mutex
			var wg sync.WaitGroup
			var wrong []string
			for from := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if got := reaches(from, addr); got != contains(want, from) {
						mu.Lock()
						wrong = append(wrong, fmt.Sprintf("%s reaches: %v", from, got))
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(wrong) > 0 {
				return fmt.Errorf("%s", strings.Join(wrong, "; "))
			}
			return nil
		})
	}
	all := []string{"client-a (same node)", "other-a (other node)", "client-b (other ns)", "node0 (server's node)", "node1"}
	serverAddr := net.JoinHostPort(server, "8080")

	t.Run("no policy: every pod and node reaches the server", func(t *testing.T) {
		expect(t, serverAddr, all...)
	})

	t.Run("default deny ingress: only the server's own node (kubelet) gets in", func(t *testing.T) {
		c.kubectlApply(t, denyIngress)
		expect(t, serverAddr, "node0 (server's node)")
		// No engine filters node-originated traffic.
		out := c.mustKubectl("-n", "np-a", "get", "pod", "server", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")
		if out != "True" {
			t.Errorf("server Ready = %s under deny-all: kubelet probes must pass", out)
		}
	})

	t.Run("allow by pod and namespace selectors on a named port", func(t *testing.T) {
		c.kubectlApply(t, allowClients)
		expect(t, serverAddr, "client-a (same node)", "client-b (other ns)", "node0 (server's node)")
	})

	t.Run("iptables-save and ipsets on a node read as on an AKS node", func(t *testing.T) {
		save := c.mustMinaks("exec", nodes[0].Metadata.Name, "--", "iptables-save", "-t", "filter")
		sets := c.mustMinaks("exec", nodes[0].Metadata.Name, "--", "ipset", "list", "-name")
		engine.rules(t, save, sets)
	})

	t.Run("ipBlock with except, and a port range (endPort)", func(t *testing.T) {
		c.mustKubectl("-n", "np-a", "delete", "networkpolicy", "allow-clients")
		other := podIP("np-a", "other-a")
		c.kubectlApply(t, strings.NewReplacer("EXCEPT", other+"/32").Replace(allowIPBlock))
		if engine.ipBlockOutsideOnly {
			// Cilium: no pod or node is in an ipBlock; the node's own traffic is never policed.
			expect(t, serverAddr, "node0 (server's node)")
		} else {
			// 0.0.0.0/0 holds pod and node addresses too, in NPM and Calico: everyone but the
			// exception.
			expect(t, serverAddr, "client-a (same node)", "client-b (other ns)", "node0 (server's node)", "node1")
		}
		c.mustKubectl("-n", "np-a", "delete", "networkpolicy", "allow-ipblock")
	})

	t.Run("egress: default deny but DNS, as kube-dns answers after the Service's DNAT", func(t *testing.T) {
		c.mustKubectl("-n", "np-a", "delete", "networkpolicy", "deny-ingress")
		c.kubectlApply(t, egressDNSOnly)
		dnsIP := c.mustKubectl("-n", "kube-system", "get", "svc", "kube-dns", "-o", "jsonpath={.spec.clusterIP}")
		eventually(t, 10*time.Second, "client-a's egress policy", func() error {
			if reaches("client-a (same node)", serverAddr) {
				return fmt.Errorf("client-a reaches the server under an egress policy allowing only DNS")
			}
			return nil
		})
		if r, err := query(clients["client-a (same node)"], net.JoinHostPort(dnsIP, "53"), "kubernetes.default.svc.cluster.local.", dns.TypeA); err != nil || len(r.Answer) == 0 {
			t.Errorf("client-a's DNS through kube-dns: %v %v", r, err)
		}
		if !reaches("client-b (other ns)", serverAddr) {
			t.Error("client-b does not reach the server: it is under no policy")
		}
	})

	t.Run("a pod's traffic to its own node under deny-all egress", func(t *testing.T) {
		c.mustKubectl("-n", "np-a", "delete", "networkpolicy", "dns-only")
		c.kubectlApply(t, denyEgressServer)
		node0IP, node1IP := nodeIP(0), nodeIP(1)
		netnstest.Serve(t, clients["node0 (server's node)"], net.JoinHostPort(node0IP, "7070"), netnstest.Text("node0"))
		netnstest.Serve(t, clients["node1"], net.JoinHostPort(node1IP, "7070"), netnstest.Text("node1"))
		serverNS := podNS("np-a", "server")
		eventually(t, 10*time.Second, "server's egress", func() error {
			if _, err := netnstest.Fetch(serverNS, net.JoinHostPort(node1IP, "7070"), ""); err == nil {
				return fmt.Errorf("the server reaches another node under deny-all egress")
			}
			return nil
		})
		got, err := netnstest.Fetch(serverNS, net.JoinHostPort(node0IP, "7070"), "")
		switch reached := err == nil && got == "node0"; {
		case engine.ownNode && !reached:
			t.Errorf("server → its own node: %q %v; NPM never filters a pod's traffic to its node", got, err)
		case !engine.ownNode && reached:
			t.Error("server → its own node under deny-all egress gets through; Felix and Cilium police a pod's traffic to its host by its egress policy")
		}
		c.mustKubectl("-n", "np-a", "delete", "networkpolicy", "deny-egress-server")
	})

	t.Run("an existing connection under a new policy", func(t *testing.T) {
		var conn net.Conn
		if err := netns.Do(clients["client-b (other ns)"], func() (err error) {
			conn, err = net.DialTimeout("tcp", serverAddr, 2*time.Second)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		ask := func() error {
			_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := io.WriteString(conn, "GET /hostname HTTP/1.1\r\nHost: server\r\n\r\n"); err != nil {
				return err
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		}
		if err := ask(); err != nil {
			t.Fatal(err)
		}
		c.kubectlApply(t, denyIngress)
		expect(t, serverAddr, "node0 (server's node)")
		switch err := ask(); {
		case engine.recheck && err == nil:
			t.Error("the connection made before the policy still works: Cilium re-checks established flows")
		case !engine.recheck && err != nil:
			t.Errorf("the connection made before the policy: %v", err)
		}
	})

	t.Run("NodePort with externalTrafficPolicy Cluster under an ingress policy", func(t *testing.T) {
		// deny-ingress is in force. With NPM, a NodePort on the server's own node is DNATed
		// and marked there, and KUBE-FORWARD accepts it before AZURE-NPM; Felix's chains come
		// before kube-proxy's and drop it. Through another node, the packet reaches the
		// server's node as new traffic from that node, and both drop it.
		c.kubectlApply(t, serverNodePort)
		port := c.mustKubectl("-n", "np-a", "get", "svc", "server", "-o", "jsonpath={.spec.ports[0].nodePort}")
		fetch := func(node int) error {
			out, err := netnstest.Fetch("", net.JoinHostPort(nodeIP(node), port), "GET /hostname HTTP/1.0\r\n\r\n")
			if err == nil && !strings.Contains(out, "200 OK") {
				err = fmt.Errorf("%q", out)
			}
			return err
		}
		if engine.nodePortBypass {
			// kube-proxy writes a new Service within its sync period; a loaded host takes longer.
			eventually(t, 30*time.Second, "NodePort on the server's node", func() error { return fetch(0) })
		} else {
			// The Service works: its endpoints are ready and kube-proxy has written it.
			c.mustKubectl("-n", "np-a", "delete", "networkpolicy", "deny-ingress")
			eventually(t, 30*time.Second, "NodePort on the server's node without policy", func() error { return fetch(0) })
			c.kubectlApply(t, denyIngress)
			eventually(t, 10*time.Second, "NodePort on the server's node under deny-ingress", func() error {
				if fetch(0) == nil {
					return fmt.Errorf("the NodePort of the server's node reaches it under deny-ingress")
				}
				return nil
			})
		}
		if fetch(1) == nil {
			t.Error("the NodePort of another node reaches the server under deny-ingress")
		}
	})

	t.Run("hostNetwork pods are never selected", func(t *testing.T) {
		c.mustKubectl("-n", "np-a", "wait", "--for=condition=Ready", "pod/hostnet", "--timeout=60s")
		addr := net.JoinHostPort(nodeIP(1), "18080")
		if got, err := netnstest.Fetch(clients["client-a (same node)"], addr, "GET /hostname HTTP/1.0\r\n\r\n"); err != nil || !strings.Contains(got, "200 OK") {
			t.Errorf("client-a → hostNetwork pod in np-a under deny-ingress: %q %v", got, err)
		}
	})

	t.Run("a new pod under default deny is isolated from its first packet", func(t *testing.T) {
		c.kubectlApply(t, denyIngress)
		c.mustKubectl("-n", "np-a", "run", "fresh", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--labels=app=fresh", "--overrides", `{"spec":{"nodeName":"`+nodes[0].Metadata.Name+`"}}`, "--", "netexec", "--http-port=8080")
		deadline := time.Now().Add(60 * time.Second)
		ready := time.Time{}
		for time.Now().Before(deadline) && (ready.IsZero() || time.Since(ready) < 2*time.Second) {
			ip, _ := c.kubectl("-n", "np-a", "get", "pod", "fresh", "-o", "jsonpath={.status.podIP}")
			if ip != "" && reaches("client-b (other ns)", net.JoinHostPort(ip, "8080")) {
				t.Fatal("client-b reached the new pod under a default-deny policy")
			}
			if ready.IsZero() {
				if out, _ := c.kubectl("-n", "np-a", "get", "pod", "fresh", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"); out == "True" {
					ready = time.Now()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if ready.IsZero() {
			t.Fatal("the new pod never became Ready")
		}
	})

	t.Run("deleting the policies opens the server again", func(t *testing.T) {
		c.mustKubectl("delete", "networkpolicy", "--all", "-A")
		expect(t, serverAddr, all...)
	})

	if engine.extra != nil {
		engine.extra(t, c, []string{nodes[0].Metadata.Name, nodes[1].Metadata.Name})
	}
}

// npmRules checks what NPM writes: FORWARD's jump after kube-proxy's, its chains and sets.
func npmRules(t *testing.T, save, sets string) {
	var forward []string
	for _, l := range strings.Split(save, "\n") {
		if strings.HasPrefix(l, "-A FORWARD ") {
			forward = append(forward, l)
		}
	}
	npm, lastKube := -1, -1
	for i, l := range forward {
		if l == "-A FORWARD -m conntrack --ctstate NEW -j AZURE-NPM" {
			npm = i
		}
		if strings.Contains(l, "-j KUBE-") {
			lastKube = i
		}
	}
	if npm < 0 || npm < lastKube || strings.Count(save, "-j AZURE-NPM\n") != 1 {
		t.Errorf("FORWARD: the NPM jump must follow kube-proxy's:\n%s", strings.Join(forward, "\n"))
	}
	for _, want := range []string{
		"-A AZURE-NPM -j AZURE-NPM-INGRESS",
		`-A AZURE-NPM-INGRESS-ALLOW-MARK -m comment --comment "SET-INGRESS-ALLOW-MARK-0x200/0x200" -j MARK --set-xmark 0x200/0x200`,
		"INGRESS-POLICY-np-a/deny-ingress-TO-ns-np-a-IN-ns-np-a",
		"-A AZURE-NPM-ACCEPT -j ACCEPT",
		"-m set --match-set azure-npm-",
	} {
		if !strings.Contains(save, want) {
			t.Errorf("iptables-save lacks %q", want)
		}
	}
	if !strings.Contains(sets, "azure-npm-") {
		t.Errorf("no azure-npm ipsets:\n%s", sets)
	}
}

// calicoRules checks what Felix writes: cali-FORWARD and cali-INPUT first, the accept of
// what policy accepted after kube-proxy's chains, endpoint and policy chains, cali40s: sets.
func calicoRules(t *testing.T, save, sets string) {
	rules := chainRules(save)
	fwd, in := rules["FORWARD"], rules["INPUT"]
	if len(fwd) < 2 || !strings.HasSuffix(fwd[0], "-j cali-FORWARD") || !strings.Contains(fwd[len(fwd)-1], "--mark 0x10000/0x10000 -j ACCEPT") ||
		len(in) == 0 || !strings.HasSuffix(in[0], "-j cali-INPUT") {
		t.Errorf("FORWARD and INPUT must start with Felix's jumps and FORWARD end with its accept:\n%s", save)
	}
	for _, want := range []string{":cali-from-wl-dispatch", ":cali-to-wl-dispatch", ":cali-tw-azv", ":cali-pi-_", ":cali-pro-kns.np-a", "-m set --match-set cali40s:"} {
		if !strings.Contains(save, want) {
			t.Errorf("iptables-save lacks %q", want)
		}
	}
	if !strings.Contains(sets, "cali40s:") {
		t.Errorf("no cali40s: ipsets:\n%s", sets)
	}
}

// chainRules are the rules of each chain of an iptables-save.
func chainRules(save string) map[string][]string {
	rules := map[string][]string{}
	for _, l := range strings.Split(save, "\n") {
		if rest, ok := strings.CutPrefix(l, "-A "); ok {
			chain, rule, _ := strings.Cut(rest, " ")
			rules[chain] = append(rules[chain], rule)
		}
	}
	return rules
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// kubectlApply applies a manifest given as text.
func (c *testCluster) kubectlApply(t *testing.T, manifest string) {
	t.Helper()
	if out, err := c.tryApply(t, manifest); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// tryApply is kubectl apply of a manifest given as text, with what kubectl says.
func (c *testCluster) tryApply(t *testing.T, manifest string) (string, error) {
	t.Helper()
	f, err := os.CreateTemp("", "minaks-e2e-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(manifest); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return c.kubectl("apply", "-f", f.Name())
}

// applyNetpolPods applies netpolManifest, with node0 and node1 its nodes, and extra (more
// YAML documents), and waits for the pods.
func (c *testCluster) applyNetpolPods(t *testing.T, node0, node1, extra string) {
	t.Helper()
	manifest := filepath.Join(t.TempDir(), "np.yaml")
	m := strings.NewReplacer("NODE0", node0, "NODE1", node1).Replace(netpolManifest + extra)
	if err := os.WriteFile(manifest, []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("apply", "-f", manifest)
	for _, ns := range []string{"np-a", "np-b"} {
		c.mustKubectl("-n", ns, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	}
}

// podNetns is the network namespace of pod ns/name.
func (c *testCluster) podNetns(ns, name string) string {
	return "minaks." + c.name + ".pod-" + c.mustKubectl("-n", ns, "get", "pod", name, "-o", "jsonpath={.metadata.uid}")
}

const netpolManifest = `
apiVersion: v1
kind: Namespace
metadata: {name: np-a, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: np-b, labels: {team: b}}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: np-a, labels: {app: server}}
spec:
  nodeName: NODE0
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: client-a, namespace: np-a, labels: {role: client}}
spec:
  nodeName: NODE0
  containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
---
apiVersion: v1
kind: Pod
metadata: {name: other-a, namespace: np-a, labels: {role: other}}
spec:
  nodeName: NODE1
  containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client-b, namespace: np-b, labels: {role: client}}
spec:
  nodeName: NODE1
  containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet, namespace: np-a, labels: {app: hostnet}}
spec:
  nodeName: NODE1
  hostNetwork: true
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=18080]
`

const denyIngress = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: np-a}
spec: {podSelector: {}, policyTypes: [Ingress]}
`

const allowClients = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-clients, namespace: np-a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - podSelector: {matchLabels: {role: client}}
    - namespaceSelector: {matchLabels: {team: b}}
      podSelector: {matchLabels: {role: client}}
    ports: [{port: http}]
`

const allowIPBlock = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ipblock, namespace: np-a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [EXCEPT]}}]
    ports: [{port: 8000, endPort: 8100}]
`

const denyEgressServer = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress-server, namespace: np-a}
spec: {podSelector: {matchLabels: {app: server}}, policyTypes: [Egress]}
`

const serverNodePort = `
apiVersion: v1
kind: Service
metadata: {name: server, namespace: np-a}
spec:
  type: NodePort
  selector: {app: server}
  ports: [{port: 80, targetPort: 8080}]
`

const egressDNSOnly = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-only, namespace: np-a}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
`

// ciliumRules checks what the Cilium agent writes: Cilium's feeder rules first in FORWARD
// and INPUT, endpoint and policy chains, its sets; and no kube-proxy chains (the agent's
// nftables proxier has the Services).
func ciliumRules(t *testing.T, save, sets string) {
	rules := chainRules(save)
	fwd, in := rules["FORWARD"], rules["INPUT"]
	if len(fwd) == 0 || !strings.Contains(fwd[0], "cilium-feeder: CILIUM_FORWARD") || len(in) == 0 || !strings.Contains(in[0], "cilium-feeder: CILIUM_INPUT") {
		t.Errorf("FORWARD and INPUT must start with Cilium's feeder rules:\n%s", save)
	}
	for _, want := range []string{":CILIUM_FORWARD", ":CILIUM_INGRESS", ":CILIUM_IN_azv", ":CILIUM_PI_", "-m set --match-set cilium_sel_"} {
		if !strings.Contains(save, want) {
			t.Errorf("iptables-save lacks %q", want)
		}
	}
	if strings.Contains(save, "KUBE-") {
		t.Errorf("kube-proxy's chains in a Cilium node:\n%s", save)
	}
	for _, want := range []string{"cilium_node_set_v4", "cilium_cluster_v4", "cilium_sel_"} {
		if !strings.Contains(sets, want) {
			t.Errorf("no %s ipset:\n%s", want, sets)
		}
	}
}

// testCiliumPolicies drives what only Cilium has: no kube-proxy, CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy with entities and deny rules, and the refusal of FQDN and
// L7 rules without ACNS.
func testCiliumPolicies(t *testing.T, c *testCluster, nodes []string) {
	podNS := c.podNetns
	nodeIP := func(name string) string {
		return c.mustKubectl("get", "node", name, "-o", `jsonpath={.status.addresses[?(@.type=="InternalIP")].address}`)
	}
	reaches := func(ns, addr string) bool {
		out, err := netnstest.Fetch(ns, addr, "GET /hostname HTTP/1.0\r\n\r\n")
		return err == nil && (strings.Contains(out, "200 OK") || strings.HasPrefix(out, "node"))
	}
	server := net.JoinHostPort(c.mustKubectl("-n", "np-a", "get", "pod", "server", "-o", "jsonpath={.status.podIP}"), "8080")

	t.Run("no kube-proxy: the agent's nftables proxier has the Services", func(t *testing.T) {
		if out, err := c.kubectl("-n", "kube-system", "get", "ds", "kube-proxy"); err == nil || !strings.Contains(out, "NotFound") {
			t.Errorf("kube-proxy DaemonSet: %v %s", err, out)
		}
		svc := c.mustKubectl("-n", "kube-system", "get", "svc", "kube-dns", "-o", "jsonpath={.spec.clusterIP}")
		if out := c.mustMinaks("exec", nodes[0], "--", "nft", "list", "table", "ip", "kube-proxy"); !strings.Contains(out, svc) {
			t.Errorf("kube-dns's %s is not in the node's kube-proxy table:\n%s", svc, out)
		}
	})

	t.Run("CiliumNetworkPolicy: the node as entity host, other nodes as remote-node", func(t *testing.T) {
		node0, node1 := net.JoinHostPort(nodeIP(nodes[0]), "7070"), net.JoinHostPort(nodeIP(nodes[1]), "7070")
		netnstest.Serve(t, "minaks."+c.name+"."+nodes[0], node0, netnstest.Text("node0"))
		netnstest.Serve(t, "minaks."+c.name+"."+nodes[1], node1, netnstest.Text("node1"))
		serverNS := podNS("np-a", "server")
		c.kubectlApply(t, ciliumEgressHost)
		eventually(t, 10*time.Second, "the server's egress to the entity host", func() error {
			if got0, got1 := reaches(serverNS, node0), reaches(serverNS, node1); !got0 || got1 {
				return fmt.Errorf("server reaches its node: %v, another node: %v; want true, false", got0, got1)
			}
			return nil
		})
		c.mustKubectl("-n", "np-a", "delete", "ciliumnetworkpolicy", "egress-host")
	})

	t.Run("CiliumClusterwideNetworkPolicy: a deny rule over an allow, across namespaces", func(t *testing.T) {
		c.kubectlApply(t, ciliumDenyNamespace)
		clientA, clientB, otherA := podNS("np-a", "client-a"), podNS("np-b", "client-b"), podNS("np-a", "other-a")
		eventually(t, 10*time.Second, "the clusterwide policy", func() error {
			if a, b, o := reaches(clientA, server), reaches(clientB, server), reaches(otherA, server); !a || b || !o {
				return fmt.Errorf("client-a reaches the server: %v, client-b: %v, other-a: %v; want true, false, true", a, b, o)
			}
			return nil
		})
		c.mustKubectl("delete", "ciliumclusterwidenetworkpolicy", "deny-np-b")
	})

	t.Run("FQDN and L7 rules need ACNS, and invalid rules are refused, naming the field", func(t *testing.T) {
		for _, tc := range []struct{ manifest, want string }{
			{ciliumFQDN, "--acns-advanced-networkpolicies FQDN"},
			{ciliumL7, "--acns-advanced-networkpolicies L7"},
			{ciliumCombined, "Combining toEndpoints, toCIDR"},
		} {
			out, err := c.tryApply(t, tc.manifest)
			if err == nil || !strings.Contains(out, "spec.egress[0]") || !strings.Contains(out, tc.want) {
				t.Errorf("kubectl apply: %v %s; want an error naming spec.egress[0] and %q", err, out, tc.want)
			}
		}
		if out := c.mustKubectl("get", "cnp", "-A", "-o", "name"); out != "" {
			t.Errorf("refused policies were stored: %s", out)
		}
	})
}

const ciliumEgressHost = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: egress-host, namespace: np-a}
spec:
  endpointSelector: {matchLabels: {app: server}}
  egress:
  - toEntities: [host]
`

const ciliumDenyNamespace = `
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: deny-np-b}
spec:
  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: np-a, app: server}}
  ingress:
  - fromEntities: [cluster]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: np-b}}]
`

const ciliumFQDN = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: fqdn, namespace: np-a}
spec:
  endpointSelector: {}
  egress:
  - toFQDNs: [{matchName: www.example.com}]
`

const ciliumL7 = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l7, namespace: np-a}
spec:
  endpointSelector: {}
  egress:
  - toEndpoints: [{}]
    toPorts: [{ports: [{port: "80"}], rules: {http: [{method: GET}]}}]
`

const ciliumCombined = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: combined, namespace: np-a}
spec:
  endpointSelector: {}
  egress:
  - toEndpoints: [{}]
    toCIDR: [10.0.0.0/8]
`
