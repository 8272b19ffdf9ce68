package netstack

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// Names of a cluster's kernel objects. Namespaces are named minaks.<cluster>.<what> ('.' cannot
// appear in a cluster name, so one cluster's prefix never matches another's). Host links carry a
// short hashed name and their full identity in the link alias.
const (
	// SubnetBridge is the fabric's bridge for the node subnet, named like the AKS subnet.
	SubnetBridge = "aks-subnet"
	// fabricEdge is the fabric's end of the veth pair to the host.
	fabricEdge = "host"
)

// NSPrefix is the prefix of every namespace of a cluster.
func NSPrefix(cluster string) string { return "minaks." + cluster + "." }

// FabricNS is the name of a cluster's fabric namespace.
func FabricNS(cluster string) string { return NSPrefix(cluster) + "fabric" }

// HostLinkName is the host's end of the veth pair to a cluster's fabric: "mk-" and 8 hex digits
// of the cluster name's hash (interface names have at most 15 characters).
func HostLinkName(cluster string) string {
	h := sha256.Sum256([]byte(cluster))
	return "mk-" + hex.EncodeToString(h[:4])
}

// HostLinkAlias is the alias on the host link: its owner, spelled out.
func HostLinkAlias(cluster string) string { return NSPrefix(cluster) + "edge" }

// Fabric is a cluster's emulated Azure SDN: a namespace that owns the node subnet's bridge and
// gateway, routes between nodes, and is the cluster's edge to the host.
type Fabric struct {
	Cluster string
	// Subnet is the node subnet (aks-subnet); its first host address is the gateway. SubnetV6 is
	// its IPv6 space in a dual-stack cluster.
	Subnet   netip.Prefix
	SubnetV6 netip.Prefix
	// PodSubnet is the VNet's pod subnet (Azure CNI pod subnet), if any; the host routes it
	// into the fabric like the node subnet.
	PodSubnet netip.Prefix
	// ServiceCIDRs are the cluster's service ranges: they exist only in kube-proxy's rules on
	// the nodes, and the fabric drops what reaches it for them rather than send it to the host.
	ServiceCIDRs []netip.Prefix
	// PublicIPRange is the emulated public address space: the host routes the cluster's
	// frontends and outbound IPs from it into the fabric (RouteHostAddrs) and lets the world
	// beyond it reach them.
	PublicIPRange netip.Prefix
	// TakeHostRoute makes Ensure take the host's routes to the VNet's subnets over from another
	// cluster's fabric that holds the same prefixes. The daemon sets it for a cluster's first
	// Ensure, so the host reaches the cluster started last, as kubectl's current context is the
	// cluster made last; a route that is not minaks's is never taken.
	TakeHostRoute bool
	// HostRoute reports whether the host routes the VNet's subnets into this fabric. It is false
	// when another cluster's fabric (or a route of the host's own) holds one of them.
	HostRoute bool
	// HostRouteConflict names what holds the subnet's route on the host, when HostRoute is false.
	HostRouteConflict string
	// HostRouteTakenFrom names the cluster whose host route the last Ensure took over ("" when none).
	HostRouteTakenFrom string
	// Edge is the /30 between host (first address) and fabric (second address).
	Edge netip.Prefix
}

// Gateway is the subnet's gateway, its .1 as in Azure.
func (f *Fabric) Gateway() netip.Addr { return f.Subnet.Masked().Addr().Next() }

// GatewayV6 is the gateway of the subnet's IPv6 space (its ::1), when the cluster has one.
func (f *Fabric) GatewayV6() netip.Addr {
	if !f.SubnetV6.IsValid() {
		return netip.Addr{}
	}
	return f.SubnetV6.Masked().Addr().Next()
}

// Ensure creates or repairs the fabric (idempotent):
//
//	ip netns add minaks.<c>.fabric
//	ip -n minaks.<c>.fabric link add aks-subnet type bridge; ip -n … addr add 10.224.0.1/16 dev aks-subnet
//	(dual-stack: ip -n … addr add fd00:10:224::1/64 dev aks-subnet nodad)
//	ip link add mk-<hash> type veth peer name host netns minaks.<c>.fabric
//	ip addr add 169.254.x.y+1/30 dev mk-<hash>; ip -n … addr add 169.254.x.y+2/30 dev host
//	ip route replace 10.224.0.0/16 via 169.254.x.y+2 dev mk-<hash> src 169.254.x.y+1
//	ip -n … route replace default via 169.254.x.y+1 dev host
//	the chains of egressChain and hostChains; sysctl -w net.ipv4.ip_forward=1 (see host.go)
func (f *Fabric) Ensure() error {
	ns := FabricNS(f.Cluster)
	if err := netns.Create(ns); err != nil {
		return err
	}
	if err := netns.Sysctl(ns, Forwarding); err != nil {
		return err
	}
	fh, err := netns.Netlink(ns)
	if err != nil {
		return err
	}
	defer fh.Close()
	if err := loUp(fh); err != nil {
		return err
	}
	br, err := ensureBridge(fh, SubnetBridge, "aks-vnet/"+SubnetBridge)
	if err != nil {
		return err
	}
	if err := ensureAddr(fh, br, netip.PrefixFrom(f.Gateway(), f.Subnet.Bits())); err != nil {
		return err
	}
	// The fabric answers ARP for internal load balancer frontends (proxy entries): at once.
	if err := netns.Sysctl(ns, noProxyDelay(SubnetBridge)); err != nil {
		return err
	}
	if gw := f.GatewayV6(); gw.IsValid() {
		if err := ensureAddr(fh, br, netip.PrefixFrom(gw, f.SubnetV6.Bits())); err != nil {
			return err
		}
	}

	host, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer host.Close()
	hostLink, fabricLink, err := f.ensureEdge(host, fh, ns)
	if err != nil {
		return err
	}
	if f.Edge, err = chooseEdge(host, f.Cluster, hostLink); err != nil {
		return err
	}
	hostIP := f.Edge.Addr().Next()
	fabricIP := hostIP.Next()
	if err := ensureAddr(host, hostLink, netip.PrefixFrom(hostIP, 30)); err != nil {
		return err
	}
	if err := ensureAddr(fh, fabricLink, netip.PrefixFrom(fabricIP, 30)); err != nil {
		return err
	}
	if err := ensureRoute(fh, &netlink.Route{LinkIndex: fabricLink.Attrs().Index, Gw: net.IP(hostIP.AsSlice())}); err != nil {
		return err
	}
	if r := f.PublicIPRange; r.IsValid() {
		// The public addresses no frontend holds are dropped here, silently, not sent back to
		// the host (the frontends' and outbound IPs' own routes are more specific).
		if err := ensureRoute(fh, &netlink.Route{Dst: ipNet(r.Masked()), Type: unix.RTN_BLACKHOLE}); err != nil {
			return err
		}
	}
	f.HostRoute, f.HostRouteConflict, f.HostRouteTakenFrom = true, "", ""

	// The host reaches the VNet's subnets directly, unless another cluster already owns one here
	// (and this Ensure is not to take it over) or the host routes it elsewhere itself.
	for _, subnet := range []netip.Prefix{f.Subnet, f.PodSubnet} {
		if !subnet.IsValid() {
			continue
		}
		conflict, err := routeConflict(host, subnet, hostLink.Attrs().Index)
		if err != nil {
			return err
		}
		if conflict.what != "" && !(f.TakeHostRoute && conflict.owner != "" && conflict.dst == subnet.Masked()) {
			f.HostRoute, f.HostRouteConflict = false, conflict.what
			continue
		}
		if conflict.owner != "" {
			f.HostRouteTakenFrom = conflict.owner // the replace below moves the route to our edge
		}
		if err := ensureRoute(host, &netlink.Route{
			LinkIndex: hostLink.Attrs().Index,
			Dst:       ipNet(subnet.Masked()),
			Gw:        net.IP(fabricIP.AsSlice()),
			Src:       net.IP(hostIP.AsSlice()),
		}); err != nil {
			return err
		}
	}
	return f.ensureEgress(fabricIP)
}

// ensureEdge makes the veth pair between host and fabric, both ends up.
func (f *Fabric) ensureEdge(host, fh *netlink.Handle, ns string) (hostLink, fabricLink netlink.Link, err error) {
	name := HostLinkName(f.Cluster)
	if hostLink, err = linkByName(host, name); err != nil {
		return nil, nil, err
	}
	if hostLink != nil && hostLink.Attrs().Alias != HostLinkAlias(f.Cluster) {
		return nil, nil, fmt.Errorf("host link %s exists but belongs to %q, not cluster %s", name, hostLink.Attrs().Alias, f.Cluster)
	}
	if hostLink, fabricLink, err = ensureVeth(host, name, HostLinkAlias(f.Cluster), fh, ns, fabricEdge); err != nil {
		return nil, nil, err
	}
	if err := host.LinkSetUp(hostLink); err != nil {
		return nil, nil, err
	}
	return hostLink, fabricLink, fh.LinkSetUp(fabricLink)
}

// chooseEdge picks the /30 between host and fabric in 169.254.100.0–169.254.199.255 from a hash
// of the cluster name, skipping any that the host already uses on another link. Link-local
// addresses are never used by AKS cluster ranges (AKS refuses 169.254.0.0/16 for them).
func chooseEdge(host *netlink.Handle, cluster string, own netlink.Link) (netip.Prefix, error) {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return host.AddrList(nil, unix.AF_INET) })
	if err != nil {
		return netip.Prefix{}, err
	}
	for salt := uint32(0); salt < 64; salt++ {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", cluster, salt)))
		h := binary.BigEndian.Uint32(sum[:4])
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, byte(100 + h%100), byte((h / 100 % 64) * 4)}), 30)
		free := true
		for _, a := range addrs {
			ip, _ := netip.AddrFromSlice(a.IP.To4())
			if p.Contains(ip) && a.LinkIndex != own.Attrs().Index {
				free = false
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free link-local /30 for the host edge")
}

// hostRoute is a host route that overlaps a subnet of ours on another link.
type hostRoute struct {
	what  string       // the route as `ip route` shows it, and its cluster; "" when there is none
	dst   netip.Prefix // its destination
	owner string       // the cluster whose edge it goes to ("" when it is not minaks's)
}

// routeConflict finds the host route that overlaps subnet on a link other than ours, if any.
func routeConflict(host *netlink.Handle, subnet netip.Prefix, ownIndex int) (hostRoute, error) {
	routes, err := retryDump(func() ([]netlink.Route, error) { return host.RouteList(nil, unix.AF_INET) })
	if err != nil {
		return hostRoute{}, err
	}
	for _, r := range routes {
		if r.Dst == nil || r.LinkIndex == ownIndex {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == 0 {
			continue // the default route overlaps everything and is no conflict
		}
		ip, _ := netip.AddrFromSlice(r.Dst.IP.To4())
		if dst := netip.PrefixFrom(ip, ones); dst.Overlaps(subnet) {
			c := hostRoute{what: fmt.Sprintf("route %s", r.Dst), dst: dst}
			if l, err := host.LinkByIndex(r.LinkIndex); err == nil {
				c.what += " dev " + l.Attrs().Name
				if c.owner = edgeOwner(l); c.owner != "" {
					c.what += " (" + c.owner + ")"
				}
			}
			return c, nil
		}
	}
	return hostRoute{}, nil
}

// HostRouteOwner names the cluster whose fabric the host routes subnet to ("" when none does).
func HostRouteOwner(subnet netip.Prefix) (string, error) {
	host, err := netlink.NewHandle()
	if err != nil {
		return "", err
	}
	defer host.Close()
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return host.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(subnet.Masked())}, netlink.RT_FILTER_DST)
	})
	if err != nil || len(routes) == 0 {
		return "", err
	}
	l, err := host.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "", err
	}
	return edgeOwner(l), nil
}

// edgeOwner names the cluster whose host edge l is, from its alias minaks.<cluster>.edge.
func edgeOwner(l netlink.Link) string {
	a := l.Attrs().Alias
	if !strings.HasPrefix(a, "minaks.") || !strings.HasSuffix(a, ".edge") {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(a, "minaks."), ".edge")
}

// RemoveCluster deletes every kernel object of a cluster: its namespaces (minaks.<c>.*), the
// host links whose alias names it (their addresses and routes go with them) and its host chains;
// the last cluster to go turns the host's forwarding back off if minaks turned it on. It finds them by
// name, so it works without any state. Objects that are already gone are not an error.
func RemoveCluster(cluster string) error {
	var errs []error
	host, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer host.Close()
	links, err := retryDump(host.LinkList)
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		a := l.Attrs()
		// A link whose alias could not be set right after creation is known by its name.
		if strings.HasPrefix(a.Alias, NSPrefix(cluster)) || (a.Name == HostLinkName(cluster) && a.Alias == "") {
			if err := host.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("ip link del %s: %w", l.Attrs().Name, err))
			}
		}
	}
	if err := removeHostEgress(cluster); err != nil {
		errs = append(errs, err)
	}
	if err := restoreHostForwarding(host); err != nil {
		errs = append(errs, err)
	}
	names, err := netns.List(NSPrefix(cluster))
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		if err := netns.Delete(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Azure's platform addresses, served from the fabric: the wire server (DNS, health probes) and
// the instance metadata service.
var (
	WireServer = netip.MustParseAddr("168.63.129.16")
	IMDS       = netip.MustParseAddr("169.254.169.254")
)

// Listen opens a TCP listener on one of the fabric's platform addresses, putting the address on
// the fabric's loopback first (`ip -n minaks.<c>.fabric addr add 169.254.169.254/32 dev lo`).
// Nodes reach it through their default route; the listener is served by ordinary goroutines.
func (f *Fabric) Listen(addr netip.AddrPort) (l net.Listener, err error) {
	err = f.inFabricOn(addr.Addr(), func() error {
		l, err = net.Listen("tcp", addr.String())
		return err
	})
	return l, err
}

// ListenPacket is Listen for UDP.
func (f *Fabric) ListenPacket(addr netip.AddrPort) (pc net.PacketConn, err error) {
	err = f.inFabricOn(addr.Addr(), func() error {
		pc, err = net.ListenPacket("udp", addr.String())
		return err
	})
	return pc, err
}

// inFabricOn puts addr on the fabric's loopback and runs fn in the fabric.
func (f *Fabric) inFabricOn(addr netip.Addr, fn func() error) error {
	ns := FabricNS(f.Cluster)
	fh, err := netns.Netlink(ns)
	if err != nil {
		return err
	}
	defer fh.Close()
	lo, err := fh.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := ensureAddr(fh, lo, netip.PrefixFrom(addr, 32)); err != nil {
		return err
	}
	return netns.Do(ns, fn)
}

// RouteHostAddrs makes the host route exactly addrs (public frontends, outbound IPs) into the
// fabric, one /32 each, and removes the /32 routes to it that are no longer wanted; the rest
// of the public range goes to the fabric, which drops it:
//
//	ip route replace 203.0.113.5/32 via 169.254.x.y+2 dev mk-<hash> src 169.254.x.y+1
func (f *Fabric) RouteHostAddrs(addrs []netip.Addr) error {
	host, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer host.Close()
	link, err := linkByName(host, HostLinkName(f.Cluster))
	if err != nil || link == nil {
		return fmt.Errorf("host link of cluster %s: %w", f.Cluster, errors.Join(err, errors.New("not found")))
	}
	hostIP := f.Edge.Addr().Next()
	want := map[netip.Addr]bool{}
	for _, a := range addrs {
		want[a] = true
		if err := ensureRoute(host, &netlink.Route{
			LinkIndex: link.Attrs().Index,
			Dst:       ipNet(netip.PrefixFrom(a, 32)),
			Gw:        net.IP(hostIP.Next().AsSlice()),
			Src:       net.IP(hostIP.AsSlice()),
		}); err != nil {
			return fmt.Errorf("ip route replace %s/32 dev %s: %w", a, link.Attrs().Name, err)
		}
	}
	routes, err := retryDump(func() ([]netlink.Route, error) { return host.RouteList(link, unix.AF_INET) })
	if err != nil {
		return err
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		ip, _ := netip.AddrFromSlice(r.Dst.IP.To4())
		if ones == 32 && !want[ip] {
			if err := host.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("ip route del %s: %w", r.Dst, err)
			}
		}
	}
	// The rest of the public range goes into the fabric too, which drops it (Ensure's blackhole
	// route): an address no cluster holds (a deleted frontend) does not answer, as on Azure, and
	// nothing of the range leaves by the host's default route. A route to the range that is
	// there already (another cluster's, or the host's own) is left alone.
	if r := f.PublicIPRange; r.IsValid() {
		existing, err := retryDump(func() ([]netlink.Route, error) {
			return host.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(r.Masked())}, netlink.RT_FILTER_DST)
		})
		if err != nil {
			return err
		}
		if len(existing) == 0 {
			if err := ensureRoute(host, &netlink.Route{
				LinkIndex: link.Attrs().Index,
				Dst:       ipNet(r.Masked()),
				Gw:        net.IP(hostIP.Next().AsSlice()),
				Src:       net.IP(hostIP.AsSlice()),
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// HostAddrOwner names the cluster whose fabric the host routes addr to as a single address
// (a frontend or outbound IP), "" when none does.
func HostAddrOwner(addr netip.Addr) (string, error) {
	host, err := netlink.NewHandle()
	if err != nil {
		return "", err
	}
	defer host.Close()
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return host.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(netip.PrefixFrom(addr, 32))}, netlink.RT_FILTER_DST)
	})
	if err != nil || len(routes) == 0 {
		return "", err
	}
	l, err := host.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "", err
	}
	return edgeOwner(l), nil
}
