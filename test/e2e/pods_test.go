package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

type podInfo struct {
	name, uid, node, ip, hostIP string
}

func (c *testCluster) pods(selector string) []podInfo {
	c.t.Helper()
	var l struct {
		Items []struct {
			Metadata struct{ Name, UID string } `json:"metadata"`
			Spec     struct {
				NodeName string `json:"nodeName"`
			} `json:"spec"`
			Status struct {
				PodIP  string `json:"podIP"`
				HostIP string `json:"hostIP"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(c.mustKubectl("get", "pods", "-l", selector, "-o", "json")), &l); err != nil {
		c.t.Fatal(err)
	}
	var out []podInfo
	for _, p := range l.Items {
		out = append(out, podInfo{p.Metadata.Name, p.Metadata.UID, p.Spec.NodeName, p.Status.PodIP, p.Status.HostIP})
	}
	return out
}

func TestPodNetworking(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		// inRange checks a pod IP against its node's InternalIP and pod CIDR.
		inRange func(ip, nodeIP netip.Addr, nodeCIDR string) bool
	}{
		{"overlay", nil, func(ip, _ netip.Addr, cidr string) bool { return netip.MustParsePrefix(cidr).Contains(ip) }},
		{"kubenet", []string{"--network-plugin", "kubenet"}, func(ip, _ netip.Addr, cidr string) bool { return netip.MustParsePrefix(cidr).Contains(ip) }},
		{"azure node subnet", []string{"--network-plugin", "azure"}, func(ip, node netip.Addr, _ string) bool {
			// The 30 addresses after the node's own.
			return node.Less(ip) && ip.Less(netip.AddrFrom4([4]byte{node.As4()[0], node.As4()[1], node.As4()[2], node.As4()[3] + 31}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t)
			c.mustMinaks("up", append([]string{"--node-count", "3"}, tc.flags...)...)
			nodes := c.nodes()
			nodeIP, nodeCIDR := map[string]netip.Addr{}, map[string]string{}
			for _, n := range nodes.Items {
				for _, a := range n.Status.Addresses {
					if a.Type == "InternalIP" {
						nodeIP[n.Metadata.Name] = netip.MustParseAddr(a.Address)
					}
				}
				if len(n.Spec.PodCIDRs) > 0 {
					nodeCIDR[n.Metadata.Name] = n.Spec.PodCIDRs[0]
				}
			}

			c.mustKubectl("create", "deployment", "sandbox", "--image=registry.k8s.io/pause:3.10", "--replicas=6")
			var pods []podInfo
			eventually(t, 60*time.Second, "6 pods with IPs", func() error {
				pods = c.pods("app=sandbox")
				n := 0
				for _, p := range pods {
					if p.ip != "" {
						n++
					}
				}
				if n != 6 {
					return fmt.Errorf("%d of %d pods have an IP", n, len(pods))
				}
				return nil
			})
			byNode := map[string][]podInfo{}
			seen := map[string]bool{}
			for _, p := range pods {
				ip := netip.MustParseAddr(p.ip)
				if !tc.inRange(ip, nodeIP[p.node], nodeCIDR[p.node]) {
					t.Errorf("pod %s on %s has IP %s, outside the node's range (node %s, pod CIDR %q)", p.name, p.node, ip, nodeIP[p.node], nodeCIDR[p.node])
				}
				if p.hostIP != nodeIP[p.node].String() {
					t.Errorf("pod %s: hostIP %s, want %s", p.name, p.hostIP, nodeIP[p.node])
				}
				if seen[p.ip] {
					t.Errorf("IP %s given twice", p.ip)
				}
				seen[p.ip] = true
				byNode[p.node] = append(byNode[p.node], p)
			}
			if len(byNode) < 2 {
				t.Fatalf("pods on %d node(s), need two", len(byNode))
			}

			// Real packets: pod → pod on another node, pod → pod on the same node, node → pod,
			// pod → node, host → pod.
			var a, b podInfo
			for _, ps := range byNode {
				if a.name == "" {
					a = ps[0]
				} else if b.name == "" {
					b = ps[0]
				}
			}
			podNS := func(p podInfo) string { return "minaks." + c.name + ".pod-" + p.uid }
			nodeNS := func(node string) string { return "minaks." + c.name + "." + node }
			serveIn(t, podNS(a), a.ip+":8080", "pod "+a.name)
			serveIn(t, nodeNS(b.node), nodeIP[b.node].String()+":8081", "node "+b.node)
			paths := []struct{ from, to, want string }{
				{podNS(b), a.ip + ":8080", "pod " + a.name},
				{nodeNS(b.node), a.ip + ":8080", "pod " + a.name},
				{podNS(a), nodeIP[b.node].String() + ":8081", "node " + b.node},
				{"", a.ip + ":8080", "pod " + a.name},
			}
			if same := byNode[a.node]; len(same) > 1 {
				paths = append(paths, struct{ from, to, want string }{podNS(same[1]), a.ip + ":8080", "pod " + a.name})
			}
			for _, p := range paths {
				if tc.name != "azure node subnet" && p.from == "" {
					// Overlay and kubenet pod IPs are not part of the VNet; the host reaches
					// them only once the fabric routes them (checked below as it lands).
					continue
				}
				if got, err := fetch(p.from, p.to); err != nil || got != p.want {
					t.Errorf("%s → %s: %q, %v; want %q", p.from, p.to, got, err, p.want)
				}
			}

			// Deleting pods removes their sandboxes.
			c.mustKubectl("delete", "deployment", "sandbox")
			eventually(t, 30*time.Second, "sandboxes gone", func() error {
				if ps := c.pods("app=sandbox"); len(ps) > 0 {
					return fmt.Errorf("%d pods left", len(ps))
				}
				out, _ := c.minaks("exec", b.node, "--", "cat", "/proc/net/dev")
				if strings.Contains(out, "azv") {
					return fmt.Errorf("veths left on %s:\n%s", b.node, out)
				}
				return nil
			})
		})
	}
}
