package netstack

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// NodeNIC describes a node's network interface in the node subnet: the VMSS instance's NIC.
type NodeNIC struct {
	// NS is the node's namespace.
	NS string
	// Port is the name of the NIC's peer on the fabric's bridge (at most 15 characters), and
	// Alias its full identity.
	Port  string
	Alias string
	// IP is the node's address in the subnet, IPv6 its IPv6 address (dual-stack).
	IP, IPv6 netip.Addr
}

// AttachNode creates or repairs a node's namespace and plugs its eth0 into the subnet
// (idempotent):
//
//	ip netns add minaks.<c>.<node>
//	ip -n minaks.<c>.fabric link add <port> type veth peer name eth0 netns minaks.<c>.<node>
//	ip -n minaks.<c>.fabric link set <port> master aks-subnet up
//	ip -n minaks.<c>.<node> addr add 10.224.0.4/16 dev eth0; … link set eth0 up; … link set lo up
//	ip -n minaks.<c>.<node> route replace default via 10.224.0.1
//	dual-stack: ip -n … addr add fd00:10:224::4/64 dev eth0 nodad; ip -n … -6 route replace default via fd00:10:224::1
func (f *Fabric) AttachNode(nic NodeNIC) error {
	if err := netns.Create(nic.NS); err != nil {
		return err
	}
	if err := netns.Sysctl(nic.NS, Forwarding); err != nil {
		return err
	}
	fh, err := netns.Netlink(FabricNS(f.Cluster))
	if err != nil {
		return err
	}
	defer fh.Close()
	nh, err := netns.Netlink(nic.NS)
	if err != nil {
		return err
	}
	defer nh.Close()

	port, eth0, err := ensureVeth(fh, nic.Port, nic.Alias, nh, nic.NS, "eth0")
	if err != nil {
		return err
	}
	br, err := fh.LinkByName(SubnetBridge)
	if err != nil {
		return err
	}
	if err := fh.LinkSetMaster(port, br); err != nil {
		return fmt.Errorf("ip link set %s master %s: %w", nic.Port, SubnetBridge, err)
	}
	if err := fh.LinkSetUp(port); err != nil {
		return err
	}
	if err := loUp(nh); err != nil {
		return err
	}
	if err := ensureAddr(nh, eth0, netip.PrefixFrom(nic.IP, f.Subnet.Bits())); err != nil {
		return err
	}
	if err := nh.LinkSetUp(eth0); err != nil {
		return err
	}
	if err := netns.Sysctl(nic.NS, noProxyDelay("eth0")); err != nil {
		return err
	}
	if nic.IPv6.IsValid() {
		if err := ensureAddr(nh, eth0, netip.PrefixFrom(nic.IPv6, f.SubnetV6.Bits())); err != nil {
			return err
		}
		if err := ensureRoute(nh, &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(f.GatewayV6().AsSlice())}); err != nil {
			return err
		}
	}
	return ensureRoute(nh, &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(f.Gateway().AsSlice())})
}
