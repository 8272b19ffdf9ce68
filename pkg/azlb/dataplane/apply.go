package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
)

// SinkLink is the fabric's link that every frontend address is routed to: a bridge without
// ports (this kernel may lack dummy links), so a packet for a frontend that no rule placed on a
// backend ends there, dropped, as Azure drops it. Routing
// internal frontends to it (rather than to the subnet) is also what lets the fabric answer ARP
// for them on the subnet (proxy neighbour entries need a route through another link).
const SinkLink = "azure-lb"

// Applier applies Configs to a cluster's fabric, remembering what it applied last so that a
// change touches only what changed.
type Applier struct {
	Fabric *netstack.Fabric

	last    *ruleset
	routing string // the frontends and backends last routed
}

// Apply makes the fabric's data plane c, idempotently: routes and rules first (a flow placed on
// a backend always has its route), then the nftables table in one transaction, then the host's
// routes to the public frontends and outbound IPs. Unless full, it changes only what differs
// from the last Apply (nothing at all when nothing does); full rewrites everything, repairing
// what was changed behind its back.
//
//	ip -n <fabric> link add azure-lb type bridge; ip -n <fabric> link set azure-lb up
//	ip -n <fabric> route replace <frontend>/32 dev azure-lb
//	ip -n <fabric> neigh add proxy <internal frontend> dev aks-subnet
//	ip -n <fabric> route replace default via <node IP> dev aks-subnet table 1000+<id>
//	ip -n <fabric> rule add pref 1000+<id> fwmark <mark> lookup 1000+<id>
//	nft -f - (the whole table, or the difference)
//	ip route replace <public frontend>/32 via <fabric edge> dev mk-<hash>
func (a *Applier) Apply(c *Config, full bool) error {
	ns := netstack.FabricNS(a.Fabric.Cluster)
	routing := fmt.Sprint(c.Frontends, c.Backends, c.Subnet)
	if full || routing != a.routing {
		a.routing = ""
		if err := a.route(ns, c); err != nil {
			return err
		}
		a.routing = routing
	}
	rs := build(c)
	script := ""
	if full || a.last == nil {
		script = rs.full()
	} else {
		script = rs.diff(a.last)
	}
	if script != "" {
		a.last = nil
		if _, err := netns.Run(ns, script, "nft", "-f", "-"); err != nil {
			if full {
				return err
			}
			// The table is not what we last made: make it whole.
			if _, err := netns.Run(ns, rs.full(), "nft", "-f", "-"); err != nil {
				return err
			}
		}
		a.last = rs
	}
	return nil
}

// route makes the fabric's and the host's routes for c.
func (a *Applier) route(ns string, c *Config) error {
	h, err := netns.Netlink(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := ensureRouting(h, c); err != nil {
		return fmt.Errorf("load balancer routes in %s: %w", ns, err)
	}
	var public []netip.Addr
	for _, f := range c.Frontends {
		if !c.Subnet.Contains(f) {
			public = append(public, f)
		}
	}
	return a.Fabric.RouteHostAddrs(public)
}

func ensureRouting(h *netlink.Handle, c *Config) error {
	sink, err := h.LinkByName(SinkLink)
	if err != nil {
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: SinkLink}}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("ip link add %s type bridge: %w", SinkLink, err)
		}
		if sink, err = h.LinkByName(SinkLink); err != nil {
			return err
		}
	}
	if err := h.LinkSetUp(sink); err != nil {
		return err
	}
	bridge, err := h.LinkByName(netstack.SubnetBridge)
	if err != nil {
		return err
	}

	// Frontends: a /32 to the sink each, a proxy ARP entry for those in the subnet.
	want := map[netip.Addr]bool{}
	for _, a := range c.Frontends {
		want[a] = true
		if err := h.RouteReplace(&netlink.Route{LinkIndex: sink.Attrs().Index, Dst: hostNet(a)}); err != nil {
			return fmt.Errorf("ip route replace %s/32 dev %s: %w", a, SinkLink, err)
		}
		if c.Subnet.Contains(a) {
			if err := h.NeighSet(&netlink.Neigh{LinkIndex: bridge.Attrs().Index, Family: unix.AF_INET, Flags: netlink.NTF_PROXY, IP: net.IP(a.AsSlice())}); err != nil {
				return fmt.Errorf("ip neigh add proxy %s dev %s: %w", a, netstack.SubnetBridge, err)
			}
		}
	}
	routes, err := h.RouteList(sink, unix.AF_INET)
	if err != nil {
		return err
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if a, ok := netip.AddrFromSlice(r.Dst.IP.To4()); ok && !want[a] {
			if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
	}
	proxies, err := h.NeighProxyList(bridge.Attrs().Index, unix.AF_INET)
	if err != nil {
		return err
	}
	for _, n := range proxies {
		if a, ok := netip.AddrFromSlice(n.IP.To4()); ok && !want[a] {
			if err := h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
				return err
			}
		}
	}

	// Backends: a route table and a mark rule each.
	for _, be := range c.Backends {
		table := RouteTable(be.ID)
		if err := h.RouteReplace(&netlink.Route{LinkIndex: bridge.Attrs().Index, Dst: defaultNet, Gw: net.IP(be.IP.AsSlice()), Table: table}); err != nil {
			return fmt.Errorf("ip route replace default via %s table %d: %w", be.IP, table, err)
		}
		rule := netlink.NewRule()
		rule.Priority, rule.Table, rule.Mark = table, table, Mark(be.ID)
		mask := uint32(0xffffffff)
		rule.Mask = &mask
		if err := h.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("ip rule add pref %d fwmark 0x%x lookup %d: %w", table, Mark(be.ID), table, err)
		}
	}
	return nil
}

var defaultNet = &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(32, 32)}
}
