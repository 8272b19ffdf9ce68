package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

type podInfo struct {
	name, uid, node, ip, hostIP string
	// ips are all its addresses (status.podIPs), IPv4 first.
	ips []string
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
				PodIPs []struct {
					IP string `json:"ip"`
				} `json:"podIPs"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(c.mustKubectl("get", "pods", "-l", selector, "-o", "json")), &l); err != nil {
		c.t.Fatal(err)
	}
	var out []podInfo
	for _, p := range l.Items {
		info := podInfo{name: p.Metadata.Name, uid: p.Metadata.UID, node: p.Spec.NodeName, ip: p.Status.PodIP, hostIP: p.Status.HostIP}
		for _, a := range p.Status.PodIPs {
			info.ips = append(info.ips, a.IP)
		}
		out = append(out, info)
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
		{"azure pod subnet", []string{"--network-plugin", "azure", "--pod-subnet-cidr", "10.225.0.0/16"}, func(ip, node netip.Addr, _ string) bool {
			// Node .4+i has the i-th block of 110 addresses after the pod subnet's reserved four.
			i := int(node.As4()[3]) - 4
			first := 4 + i*110
			v := int(ip.As4()[2])*256 + int(ip.As4()[3])
			return netip.MustParsePrefix("10.225.0.0/16").Contains(ip) && v >= first && v < first+110
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
			netnstest.Serve(t, podNS(a), a.ip+":8080", netnstest.Text("pod "+a.name))
			netnstest.Serve(t, nodeNS(b.node), nodeIP[b.node].String()+":8081", netnstest.Text("node "+b.node))
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
				if !strings.HasPrefix(tc.name, "azure") && p.from == "" {
					// Overlay and kubenet pod IPs are not part of the VNet; the host reaches
					// them only once the fabric routes them (checked below as it lands).
					continue
				}
				if got, err := netnstest.Fetch(p.from, p.to, ""); err != nil || got != p.want {
					t.Errorf("%s → %s: %q, %v; want %q", p.from, p.to, got, err, p.want)
				}
			}

			// A host in the VNet reaches node-subnet pods, not overlay or kubenet ones.
			vnetHost := "minaks." + c.name + ".vnethost"
			f := &netstack.Fabric{Cluster: c.name, Subnet: netip.MustParsePrefix("10.224.0.0/16")}
			if err := f.AttachNode(netstack.NodeNIC{NS: vnetHost, Port: "vnethost", Alias: "test VNet host", IP: netip.MustParseAddr("10.224.255.200")}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = netns.Delete(vnetHost) })
			got, err := netnstest.Fetch(vnetHost, a.ip+":8080", "")
			if reachable := strings.HasPrefix(tc.name, "azure"); reachable != (err == nil) {
				t.Errorf("VNet host → pod %s: %q, %v; want reachable=%v", a.ip, got, err, reachable)
			}

			// Pod egress beyond the VNet leaves with the node's address (ip-masq-agent).
			internet := makeInternetHost(t, c.name)
			netnstest.Serve(t, internet, "203.0.113.10:80", netnstest.RemoteIP)
			saw, err := netnstest.Fetch(podNS(b), "203.0.113.10:80", "")
			if err != nil || saw != nodeIP[b.node].String() {
				t.Errorf("pod %s → internet: seen from %q (%v), want the node's %s", b.name, saw, err, nodeIP[b.node])
			}

			// Beyond the host: nodes and pods reach a host on the LAN through the host, which
			// masquerades them; the LAN host cannot open connections into the VNet.
			lan, lanIP, lanGateway := makeLANHost(t, c.name)
			lanAddr := netip.AddrPortFrom(lanIP, 80).String()
			netnstest.Serve(t, lan, lanAddr, netnstest.RemoteIP)
			for _, from := range []string{nodeNS(b.node), podNS(b)} {
				if saw, err := netnstest.Fetch(from, lanAddr, ""); err != nil || saw != lanGateway.String() {
					t.Errorf("%s → LAN host: seen from %q (%v), want the host's %s", from, saw, err, lanGateway)
				}
			}
			if got, err := netnstest.Fetch(lan, nodeIP[b.node].String()+":8081", ""); err == nil {
				t.Errorf("LAN host → node %s: %q; want no connection", nodeIP[b.node], got)
			}

			// The instance metadata service answers nodes and pods, each about its own node.
			for _, from := range []struct{ ns, node string }{{nodeNS(b.node), b.node}, {podNS(a), a.node}} {
				body, err := imdsComputerName(from.ns)
				if err != nil || body != from.node {
					t.Errorf("IMDS computerName from %s: %q, %v; want %s", from.ns, body, err, from.node)
				}
			}

			// Deleting pods removes their sandboxes.
			c.mustKubectl("delete", "deployment", "sandbox")
			eventually(t, 30*time.Second, "sandboxes gone", func() error {
				if ps := c.pods("app=sandbox"); len(ps) > 0 {
					return fmt.Errorf("%d pods left", len(ps))
				}
				// What stays: the veths of the node's other pods (CoreDNS's).
				others := 0
				for _, pod := range strings.Fields(c.mustKubectl("get", "pods", "-A", "--field-selector", "spec.nodeName="+b.node, "-o", "jsonpath={range .items[*]}{.metadata.name}/{.spec.hostNetwork} {end}")) {
					if !strings.HasSuffix(pod, "/true") {
						others++
					}
				}
				out, _ := c.minaks("exec", b.node, "--", "cat", "/proc/net/dev")
				if n := strings.Count(out, "azv"); n != others {
					return fmt.Errorf("%d veths on %s, its other pods have %d:\n%s", n, b.node, others, out)
				}
				return nil
			})
		})
	}
}

// makeInternetHost makes a test host beyond the VNet: a namespace at 203.0.113.10 and
// 2001:db8:113::10 (documentation ranges, only ever inside the test's namespaces) linked to the
// fabric, which gets 203.0.113.1 and 2001:db8:113::1.
func makeInternetHost(t *testing.T, cluster string) string {
	t.Helper()
	ns := "minaks." + cluster + ".internet"
	if err := netns.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(ns) })
	fh, err := netns.Netlink(netstack.FabricNS(cluster))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	ih, err := netns.Netlink(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer ih.Close()
	fd, err := netns.Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if err := fh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "internet"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(fd))}); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// IPv6 without duplicate address detection: usable at once.
	must(netns.Sysctl(netstack.FabricNS(cluster), map[string]string{"net.ipv6.conf.internet.accept_dad": "0"}))
	must(netns.Sysctl(ns, map[string]string{"net.ipv6.conf.eth0.accept_dad": "0"}))
	fl, err := fh.LinkByName("internet")
	must(err)
	il, err := ih.LinkByName("eth0")
	must(err)
	lo, err := ih.LinkByName("lo")
	must(err)
	must(fh.AddrAdd(fl, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("203.0.113.1"), Mask: net.CIDRMask(24, 32)}}))
	must(ih.AddrAdd(il, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("203.0.113.10"), Mask: net.CIDRMask(24, 32)}}))
	for _, l := range []netlink.Link{fl, il, lo} {
		h := ih
		if l == fl {
			h = fh
		}
		must(h.LinkSetUp(l))
	}
	must(ih.RouteAdd(&netlink.Route{LinkIndex: il.Attrs().Index, Gw: net.ParseIP("203.0.113.1")}))
	must(fh.AddrAdd(fl, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("2001:db8:113::1"), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}))
	must(ih.AddrAdd(il, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("2001:db8:113::10"), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}))
	must(ih.RouteAdd(&netlink.Route{LinkIndex: il.Attrs().Index, Gw: net.ParseIP("2001:db8:113::1")}))
	return ns
}

// makeLANHost makes a test host on the host's LAN: a namespace linked to the host by a veth,
// on a /30 of a documentation or benchmark range that the host does not use (this VM's own
// network may well be one of them), outside the public IP range (198.51.100.0/24) and the
// internet test host's (203.0.113.0/24, in the fabric) when it can. The host gets the /30's first address, the LAN host the
// second, and the LAN host routes everything via the host, as a LAN neighbour with a static
// route to the VNet might. It returns the namespace and both addresses.
func makeLANHost(t *testing.T, cluster string) (ns string, host, gateway netip.Addr) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	used, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	must(err)
	var p netip.Prefix
	for _, cand := range []string{"198.18.255.252/30", "203.0.113.252/30", "192.0.2.252/30"} {
		c := netip.MustParsePrefix(cand)
		free := true
		for _, r := range used {
			if r.Dst == nil {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			if ones == 0 {
				continue // the default route
			}
			if a, ok := netip.AddrFromSlice(r.Dst.IP.To4()); ok && netip.PrefixFrom(a, ones).Overlaps(c) {
				free = false
			}
		}
		if free {
			p = c
			break
		}
	}
	if !p.IsValid() {
		t.Fatal("the host uses every range the LAN test host could take")
	}
	gateway, host = p.Addr().Next(), p.Addr().Next().Next()

	ns = "minaks." + cluster + ".lan"
	must(netns.Create(ns))
	t.Cleanup(func() { _ = netns.Delete(ns) })
	fd, err := netns.Open(ns)
	must(err)
	defer fd.Close()
	lh, err := netns.Netlink(ns)
	must(err)
	defer lh.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "mke2e-lan"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(fd))}
	must(netlink.LinkAdd(veth))
	t.Cleanup(func() { _ = netlink.LinkDel(veth) })
	hl, err := netlink.LinkByName("mke2e-lan")
	must(err)
	il, err := lh.LinkByName("eth0")
	must(err)
	lo, err := lh.LinkByName("lo")
	must(err)
	must(netlink.AddrAdd(hl, &netlink.Addr{IPNet: &net.IPNet{IP: gateway.AsSlice(), Mask: net.CIDRMask(30, 32)}}))
	must(lh.AddrAdd(il, &netlink.Addr{IPNet: &net.IPNet{IP: host.AsSlice(), Mask: net.CIDRMask(30, 32)}}))
	must(netlink.LinkSetUp(hl))
	must(lh.LinkSetUp(il))
	must(lh.LinkSetUp(lo))
	must(lh.RouteAdd(&netlink.Route{LinkIndex: il.Attrs().Index, Gw: gateway.AsSlice()}))
	return ns, host, gateway
}

// imdsComputerName asks 169.254.169.254 for the caller's computer name, from inside ns.
func imdsComputerName(ns string) (string, error) {
	b, err := netnstest.Fetch(ns, "169.254.169.254:80",
		"GET /metadata/instance/compute/osProfile/computerName?api-version=2021-02-01&format=text HTTP/1.0\r\nMetadata: true\r\n\r\n")
	if err != nil {
		return "", err
	}
	_, body, _ := strings.Cut(b, "\r\n\r\n")
	return body, nil
}
