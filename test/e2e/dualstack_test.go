package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

// TestDualStack: with --ip-families ipv4,ipv6 (Azure CNI Overlay), nodes have an address of
// each family in the subnet, pods one of each from their node's ranges, and IPv6 packets flow
// between pods, nodes and beyond the VNet as IPv4 ones do.
func TestDualStack(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up", "--node-count", "2", "--ip-families", "ipv4,ipv6")
	subnetV6 := netip.MustParsePrefix("fd00:10:224::/64")
	nodeIPv6, nodeRangeV6 := map[string]netip.Addr{}, map[string]netip.Prefix{}
	for _, n := range c.nodes().Items {
		var internal []string
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				internal = append(internal, a.Address)
			}
		}
		if len(internal) != 2 || len(n.Spec.PodCIDRs) != 2 {
			t.Fatalf("node %s: InternalIPs %v, podCIDRs %v; want one of each family", n.Metadata.Name, internal, n.Spec.PodCIDRs)
		}
		v6 := netip.MustParseAddr(internal[1])
		if !v6.Is6() || !subnetV6.Contains(v6) {
			t.Errorf("node %s: IPv6 address %s outside %s", n.Metadata.Name, v6, subnetV6)
		}
		nodeIPv6[n.Metadata.Name], nodeRangeV6[n.Metadata.Name] = v6, netip.MustParsePrefix(n.Spec.PodCIDRs[1])
	}

	c.mustKubectl("create", "deployment", "sandbox", "--image=registry.k8s.io/pause:3.10", "--replicas=4")
	var pods []podInfo
	eventually(t, 60*time.Second, "4 pods with two IPs", func() error {
		pods = c.pods("app=sandbox")
		n := 0
		for _, p := range pods {
			if len(p.ips) == 2 {
				n++
			}
		}
		if n != 4 {
			return fmt.Errorf("%d of %d pods have two IPs", n, len(pods))
		}
		return nil
	})
	var a, b podInfo
	for _, p := range pods {
		v6 := netip.MustParseAddr(p.ips[1])
		if !nodeRangeV6[p.node].Contains(v6) {
			t.Errorf("pod %s on %s: IPv6 %s outside the node's %s", p.name, p.node, v6, nodeRangeV6[p.node])
		}
		if a.name == "" {
			a = p
		} else if b.name == "" && p.node != a.node {
			b = p
		}
	}
	if b.name == "" {
		t.Fatal("all pods on one node")
	}

	podNS := func(p podInfo) string { return "minaks." + c.name + ".pod-" + p.uid }
	nodeNS := func(node string) string { return "minaks." + c.name + "." + node }
	v6 := func(ip string, port int) string { return net.JoinHostPort(ip, fmt.Sprint(port)) }
	netnstest.Serve(t, podNS(a), v6(a.ips[1], 8080), netnstest.Text("pod "+a.name))
	netnstest.Serve(t, nodeNS(b.node), v6(nodeIPv6[b.node].String(), 8081), netnstest.Text("node "+b.node))
	for _, p := range []struct{ from, to, want string }{
		{podNS(b), v6(a.ips[1], 8080), "pod " + a.name},
		{nodeNS(b.node), v6(a.ips[1], 8080), "pod " + a.name},
		{podNS(a), v6(nodeIPv6[b.node].String(), 8081), "node " + b.node},
	} {
		if got, err := netnstest.Fetch(p.from, p.to, ""); err != nil || got != p.want {
			t.Errorf("%s → %s: %q, %v; want %q", p.from, p.to, got, err, p.want)
		}
	}

	// IPv6 egress beyond the VNet leaves with the node's IPv6 address.
	internet := makeInternetHost(t, c.name)
	netnstest.Serve(t, internet, "[2001:db8:113::10]:80", netnstest.RemoteIP)
	if saw, err := netnstest.Fetch(podNS(b), "[2001:db8:113::10]:80", ""); err != nil || saw != nodeIPv6[b.node].String() {
		t.Errorf("pod %s → internet over IPv6: seen from %q (%v), want the node's %s", b.name, saw, err, nodeIPv6[b.node])
	}
}
