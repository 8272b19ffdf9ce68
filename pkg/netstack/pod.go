package netstack

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// Pod plumbing styles.
const (
	// PodRouted is Azure CNI's transparent mode (overlay and node subnet): the pod's eth0 has its
	// IP as /32 and a default route via 169.254.1.1, which the node's end of the veth answers by
	// proxy ARP; the node routes the pod's /32 to that veth.
	PodRouted = "routed"
	// PodBridged is kubenet: the node's bridge cbr0 holds the pod range's first address, pods
	// sit on it with the node's /24 and a default route via the bridge.
	PodBridged = "bridged"
)

// PodGateway and PodGatewayV6 are the link-local next hops of Azure CNI pods; the node's end of
// each pod's veth answers for them.
var (
	PodGateway   = netip.MustParseAddr("169.254.1.1")
	PodGatewayV6 = netip.MustParseAddr("fe80::1234:5678:9abc")
)

// podSysctls are what containerd 2 (AKS's runtime since Kubernetes 1.33) sets in every pod
// sandbox (enable_unprivileged_ports, enable_unprivileged_icmp): a container running as a
// non-root user binds ports below 1024 and pings, as ingress-nginx (user 101 on ports 80 and 443)
// does on AKS.
var podSysctls = map[string]string{
	"net.ipv4.ip_unprivileged_port_start": "0",
	"net.ipv4.ping_group_range":           "0 2147483647",
}

// kubenetBridge is the node bridge of kubenet pods.
const kubenetBridge = "cbr0"

// PodNIC describes a pod's network interface.
type PodNIC struct {
	// NS is the pod's namespace, NodeNS its node's.
	NS, NodeNS string
	// UID names the node's end of the veth: azv + 11 hex digits of its hash.
	UID string
	// IP is the pod's address and Range its node's pod range (kubenet's bridge subnet). IPv6 is
	// its IPv6 address in a dual-stack cluster (routed style only).
	IP    netip.Addr
	IPv6  netip.Addr
	Range netip.Prefix
	Style string
}

// HostVeth is the node's end of a pod's veth (at most 15 characters).
func (p PodNIC) HostVeth() string {
	h := sha256.Sum256([]byte(p.UID))
	return "azv" + hex.EncodeToString(h[:6])[:11]
}

// AttachPod creates the pod's namespace and plugs it into its node (idempotent):
//
//	ip netns add minaks.<c>.pod-<uid>
//	sysctl -w net.ipv4.ip_unprivileged_port_start=0 net.ipv4.ping_group_range="0 2147483647" (in the pod)
//	ip -n <node> link add azv<hash> type veth peer name eth0 netns minaks.<c>.pod-<uid>
//	routed:  ip -n <pod> addr add <ip>/32 dev eth0; ip -n <pod> route add 169.254.1.1 dev eth0;
//	         ip -n <pod> route add default via 169.254.1.1; ip -n <node> route add <ip>/32 dev azv<hash>;
//	         sysctl -w net.ipv4.conf.azv<hash>.proxy_arp=1 (in the node)
//	bridged: ip -n <node> link set azv<hash> master cbr0; ip -n <pod> addr add <ip>/24 dev eth0;
//	         ip -n <pod> route add default via <range>.1
func AttachPod(p PodNIC) error {
	if err := netns.Create(p.NS); err != nil {
		return err
	}
	if err := netns.Sysctl(p.NS, podSysctls); err != nil {
		return err
	}
	nh, err := netns.Netlink(p.NodeNS)
	if err != nil {
		return err
	}
	defer nh.Close()
	ph, err := netns.Netlink(p.NS)
	if err != nil {
		return err
	}
	defer ph.Close()

	name := p.HostVeth()
	host, eth0, err := ensureVeth(nh, name, "", ph, p.NS, "eth0")
	if err != nil {
		return err
	}
	if err := loUp(ph); err != nil {
		return err
	}

	switch p.Style {
	case PodBridged:
		gw := p.Range.Masked().Addr().Next()
		br, err := ensureBridge(nh, kubenetBridge, "kubenet")
		if err != nil {
			return err
		}
		if err := ensureAddr(nh, br, netip.PrefixFrom(gw, p.Range.Bits())); err != nil {
			return err
		}
		if err := nh.LinkSetMaster(host, br); err != nil {
			return err
		}
		if err := nh.LinkSetUp(host); err != nil {
			return err
		}
		if err := ensureAddr(ph, eth0, netip.PrefixFrom(p.IP, p.Range.Bits())); err != nil {
			return err
		}
		if err := ph.LinkSetUp(eth0); err != nil {
			return err
		}
		return ensureRoute(ph, &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(gw.AsSlice())})
	default:
		sysctls := noProxyDelay(name)
		sysctls["net.ipv4.conf."+name+".proxy_arp"] = "1"
		if p.IPv6.IsValid() {
			// Without duplicate address detection on either end, IPv6 works the moment the
			// links are up, not a second or two later when their link-local addresses are.
			sysctls["net.ipv6.conf."+name+".accept_dad"] = "0"
			if err := netns.Sysctl(p.NS, map[string]string{"net.ipv6.conf.eth0.accept_dad": "0"}); err != nil {
				return err
			}
		}
		if err := netns.Sysctl(p.NodeNS, sysctls); err != nil {
			return err
		}
		if err := nh.LinkSetUp(host); err != nil {
			return err
		}
		if err := ensureRoute(nh, &netlink.Route{LinkIndex: host.Attrs().Index, Dst: ipNet(netip.PrefixFrom(p.IP, 32)), Scope: netlink.SCOPE_LINK}); err != nil {
			return err
		}
		if err := ensureAddr(ph, eth0, netip.PrefixFrom(p.IP, 32)); err != nil {
			return err
		}
		if err := ph.LinkSetUp(eth0); err != nil {
			return err
		}
		if err := ensureRoute(ph, &netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: ipNet(netip.PrefixFrom(PodGateway, 32)), Scope: netlink.SCOPE_LINK}); err != nil {
			return err
		}
		if p.IPv6.IsValid() {
			if err := attachPodV6(p, nh, host, ph, eth0); err != nil {
				return err
			}
		}
		return ensureRoute(ph, &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(PodGateway.AsSlice())})
	}
}

// attachPodV6 gives a routed pod its IPv6 address, the IPv6 twin of the IPv4 plumbing: the
// node's end of the veth holds the link-local gateway, so no proxy NDP is needed.
//
//	ip -n <node> addr add fe80::1234:5678:9abc/64 dev azv<hash> nodad
//	ip -n <node> -6 route replace <ipv6>/128 dev azv<hash>
//	ip -n <pod> addr add <ipv6>/128 dev eth0 nodad
//	ip -n <pod> -6 route replace default via fe80::1234:5678:9abc dev eth0
func attachPodV6(p PodNIC, nh *netlink.Handle, host netlink.Link, ph *netlink.Handle, eth0 netlink.Link) error {
	if err := ensureAddr(nh, host, netip.PrefixFrom(PodGatewayV6, 64)); err != nil {
		return err
	}
	if err := ensureRoute(nh, &netlink.Route{LinkIndex: host.Attrs().Index, Dst: ipNet(netip.PrefixFrom(p.IPv6, 128))}); err != nil {
		return err
	}
	if err := ensureAddr(ph, eth0, netip.PrefixFrom(p.IPv6, 128)); err != nil {
		return err
	}
	return ensureRoute(ph, &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(PodGatewayV6.AsSlice())})
}

// DetachPod removes a pod's namespace; its veth and the node's route to it go with it.
func DetachPod(ns string) error { return netns.Delete(ns) }

// RoutePodRange installs, in the fabric, the route of a node's pod range via the node: the VNet
// route table entry of kubenet, and the SDN's own knowledge of overlay ranges
// (`ip -n minaks.<c>.fabric route replace 10.244.1.0/24 via 10.224.0.5`).
func (f *Fabric) RoutePodRange(r netip.Prefix, node netip.Addr) error {
	fh, err := netns.Netlink(FabricNS(f.Cluster))
	if err != nil {
		return err
	}
	defer fh.Close()
	return ensureRoute(fh, &netlink.Route{Dst: ipNet(r.Masked()), Gw: net.IP(node.AsSlice())})
}

// UnroutePodRange removes a pod range's route from the fabric. A missing route is not an error.
func (f *Fabric) UnroutePodRange(r netip.Prefix) error {
	fh, err := netns.Netlink(FabricNS(f.Cluster))
	if err != nil {
		return err
	}
	defer fh.Close()
	family := netlink.FAMILY_V4
	if r.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return fh.RouteListFiltered(family, &netlink.Route{Dst: ipNet(r.Masked())}, netlink.RT_FILTER_DST)
	})
	if err != nil {
		return err
	}
	for _, rt := range routes {
		if err := fh.RouteDel(&rt); err != nil {
			return err
		}
	}
	return nil
}

// PodRangeRoutes lists the fabric's routes to pod ranges: destination → next hop (node IP).
func (f *Fabric) PodRangeRoutes() (map[netip.Prefix]netip.Addr, error) {
	fh, err := netns.Netlink(FabricNS(f.Cluster))
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	routes, err := retryDump(func() ([]netlink.Route, error) { return fh.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, err
	}
	out := map[netip.Prefix]netip.Addr{}
	for _, r := range routes {
		if r.Dst == nil || r.Gw == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		dst, _ := netip.AddrFromSlice(r.Dst.IP.To4())
		gw, _ := netip.AddrFromSlice(r.Gw.To4())
		if ones > 0 && f.Subnet.Contains(gw) {
			out[netip.PrefixFrom(dst, ones)] = gw
		}
	}
	return out, nil
}
