package e2e

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

// TestNetworkPolicyCiliumDualStack: in a dual-stack cluster (--ip-families ipv4,ipv6) Cilium's
// agent enforces policy on IPv6 as on IPv4 — a NetworkPolicy selects the same pods in both
// families, an ipBlock holds no pod or node address in either, an IPv6 ClusterIP (the agent's
// nftables proxier) meets the backend's policy — in ip6tables chains and inet6 ipsets of
// its own.
func TestNetworkPolicyCiliumDualStack(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up", "--node-count", "2", "--network-dataplane", "cilium", "--ip-families", "ipv4,ipv6")
	nodes := c.nodes().Items
	c.applyNetpolPods(t, nodes[0].Metadata.Name, nodes[1].Metadata.Name, dualStackService)
	podNS := c.podNetns
	ips := strings.Fields(c.mustKubectl("-n", "np-a", "get", "pod", "server", "-o", "jsonpath={.status.podIPs[*].ip}"))
	clusterIPs := strings.Fields(c.mustKubectl("-n", "np-a", "get", "svc", "server", "-o", "jsonpath={.spec.clusterIPs[*]}"))
	if len(ips) != 2 || len(clusterIPs) != 2 || !strings.Contains(ips[1], ":") || !strings.Contains(clusterIPs[1], ":") {
		t.Fatalf("server's pod IPs %v, Service's cluster IPs %v: want IPv4 and IPv6", ips, clusterIPs)
	}
	targets := map[string]string{
		"pod IPv4":       net.JoinHostPort(ips[0], "8080"),
		"pod IPv6":       net.JoinHostPort(ips[1], "8080"),
		"ClusterIP IPv6": net.JoinHostPort(clusterIPs[1], "80"),
	}
	clients := map[string]string{
		"client-a": podNS("np-a", "client-a"),
		"other-a":  podNS("np-a", "other-a"),
		"node1":    "minaks." + c.name + "." + nodes[1].Metadata.Name,
	}
	expect := func(t *testing.T, allowed ...string) {
		t.Helper()
		eventually(t, 10*time.Second, "reachability", func() error {
			var mu sync.Mutex
			var wg sync.WaitGroup
			var wrong []string
			for from, ns := range clients {
				for what, addr := range targets {
					wg.Go(func() {
						out, err := netnstest.Fetch(ns, addr, "GET /hostname HTTP/1.0\r\n\r\n")
						if got := err == nil && strings.Contains(out, "200 OK"); got != contains(allowed, from) {
							mu.Lock()
							wrong = append(wrong, fmt.Sprintf("%s → %s (%s): %v", from, what, addr, got))
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			if len(wrong) > 0 {
				return fmt.Errorf("want only %v to reach the server: %s", allowed, strings.Join(wrong, "; "))
			}
			return nil
		})
	}

	t.Run("without policy every client reaches the server in both families", func(t *testing.T) {
		expect(t, "client-a", "other-a", "node1")
	})
	t.Run("a policy holds in both families; its ipBlock holds no pod or node", func(t *testing.T) {
		c.kubectlApply(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: clients, namespace: np-a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
  - from: [{ipBlock: {cidr: "::/0"}}, {ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: 9999}]
  - from: [{ipBlock: {cidr: "fd00::/8"}}]
`)
		expect(t, "client-a")
	})
	t.Run("ip6tables and inet6 ipsets on the node", func(t *testing.T) {
		save := c.mustMinaks("exec", nodes[0].Metadata.Name, "--", "ip6tables-save", "-t", "filter")
		for _, want := range []string{"cilium-feeder: CILIUM_FORWARD", ":CILIUM_IN_azv", "-m set --match-set cilium_sel_", "--icmpv6-type 135 -j RETURN"} {
			if !strings.Contains(save, want) {
				t.Errorf("ip6tables-save lacks %q:\n%s", want, save)
			}
		}
		sets := c.mustMinaks("exec", nodes[0].Metadata.Name, "--", "ipset", "list", "cilium_endpoints_v6")
		if !strings.Contains(sets, "family inet6") || !strings.Contains(sets, ips[1]) {
			t.Errorf("cilium_endpoints_v6 lacks the server's %s:\n%s", ips[1], sets)
		}
	})
	t.Run("ICMP types by Cilium's names; an unknown one refused naming the field", func(t *testing.T) {
		cnp := `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: icmp, namespace: np-a}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - icmps: [{fields: [{type: TYPE, family: IPv6}]}]
`
		c.kubectlApply(t, strings.Replace(cnp, "TYPE", "EchoRequest", 1))
		out, err := c.tryApply(t, strings.Replace(cnp, "TYPE", "Ping", 1))
		if err == nil || !strings.Contains(out, "icmps[0].fields[0].type") {
			t.Errorf("an unknown ICMP type applied: %v %s", err, out)
		}
		c.mustKubectl("-n", "np-a", "delete", "ciliumnetworkpolicy", "icmp")
	})
	t.Run("removing the policy opens both families again", func(t *testing.T) {
		c.mustKubectl("-n", "np-a", "delete", "networkpolicy", "clients")
		expect(t, "client-a", "other-a", "node1")
	})
}

const dualStackService = `
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: np-a}
spec:
  ipFamilyPolicy: RequireDualStack
  selector: {app: server}
  ports: [{port: 80, targetPort: 8080}]
`
