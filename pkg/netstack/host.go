package netstack

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
)

// A cluster's egress. Nodes reach the world as Azure VMs do, through their VNet's edge: here the
// fabric's default route leads to the host. The fabric masquerades what leaves through the edge
// to its own edge address, which is unique on the host even when two clusters use the same
// subnet, so replies always find their cluster. The host forwards what comes from the edge,
// masquerades it again, and lets back in only the replies: it never becomes a way into the VNet
// for anything but itself.

// egressChain is the fabric's half: what leaves through the edge leaves as the fabric.
//
//	-t nat -A POSTROUTING -o host -j MINAKS-EGRESS;  -A MINAKS-EGRESS -j MASQUERADE
func egressChain() Chain {
	return Chain{Table: "nat", Name: "MINAKS-EGRESS", From: "POSTROUTING",
		Jump:  []string{"-o", fabricEdge, "-m", "comment", "--comment", "minaks: traffic to the host and beyond"},
		Rules: []string{`-m comment --comment "the VNet's egress leaves with the fabric's edge address" -j MASQUERADE`}}
}

// serviceRangeChain keeps the service ranges inside the VNet: a packet for a service address no
// node's kube-proxy rule caught (kube-proxy not started yet, a node without it) never reaches
// the host's LAN. It is refused at once (unreachable), so that a client retries soon rather
// than wait for a timeout: CoreDNS starting with its node's kube-proxy finds the API server
// within a second.
//
//	-t filter -I FORWARD -j MINAKS-SERVICE-RANGE;  -A MINAKS-SERVICE-RANGE -d <range> -j REJECT
func serviceRangeChain(ranges []netip.Prefix, ipv6 bool) Chain {
	c := Chain{Table: "filter", Name: "MINAKS-SERVICE-RANGE", From: "FORWARD", First: true, IPv6: ipv6,
		Jump: []string{"-m", "comment", "--comment", "minaks: service addresses stay in the VNet"}}
	reject := "icmp-net-unreachable"
	if ipv6 {
		reject = "icmp6-no-route"
	}
	for _, r := range ranges {
		if r.Addr().Is6() == ipv6 {
			c.Rules = append(c.Rules, fmt.Sprintf(`-d %s -m comment --comment "service range" -j REJECT --reject-with %s`, r, reject))
		}
	}
	return c
}

// hostChains are the host's half, two chains named after the cluster's edge link mk-<hash>:
//
//	-t filter -I FORWARD -m comment --comment "minaks: cluster <c>" -j MINAKS-FWD-<hash>
//	  -o mk-<hash> -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT   replies come in
//	  -o mk-<hash> -d <public IP range> -j ACCEPT                         public frontends take connections
//	  -o mk-<hash> -j DROP                                                nothing else does
//	  -i mk-<hash> ! -o mk-+ -j ACCEPT                                    the VNet goes out (not into other clusters)
//	-t nat -A POSTROUTING -m comment --comment "minaks: cluster <c>" -j MINAKS-NAT-<hash>
//	  -s <fabric's edge address> ! -o mk-<hash> -j MASQUERADE
//	  -s <public IP range> ! -o mk-+ -j MASQUERADE                         outbound IPs, beyond the host
//
// The cluster's outbound IPs stay as they are toward the host itself and other clusters' public
// frontends: only what leaves the host is masqueraded, as nothing beyond it routes them back.
// RemoveCluster removes them knowing only the cluster's name (the addresses are then unset).
func hostChains(cluster string, fabricIP netip.Addr, public netip.Prefix) []Chain {
	edge := HostLinkName(cluster)
	hash := strings.TrimPrefix(edge, "mk-")
	jump := []string{"-m", "comment", "--comment", "minaks: cluster " + cluster}
	var nat []string
	if fabricIP.IsValid() {
		nat = append(nat, fmt.Sprintf(`-s %s/32 ! -o %s -m comment --comment "minaks %s: the VNet's egress leaves with the host's address" -j MASQUERADE`, fabricIP, edge, cluster))
	}
	fwd := []string{fmt.Sprintf(`-o %s -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "minaks %s: replies to the VNet's egress" -j ACCEPT`, edge, cluster)}
	if public.IsValid() {
		fwd = append(fwd, fmt.Sprintf(`-d %s -o %s -m comment --comment "minaks %s: public frontends take connections" -j ACCEPT`, public, edge, cluster))
		nat = append(nat, fmt.Sprintf(`-s %s ! -o mk-+ -m comment --comment "minaks %s: outbound IPs leave the host with its address" -j MASQUERADE`, public, cluster))
	}
	fwd = append(fwd,
		fmt.Sprintf(`-o %s -m comment --comment "minaks %s: the VNet takes no connections from beyond the host" -j DROP`, edge, cluster),
		fmt.Sprintf(`-i %s ! -o mk-+ -m comment --comment "minaks %s: the VNet's egress" -j ACCEPT`, edge, cluster))
	return []Chain{
		{Table: "filter", Name: "MINAKS-FWD-" + hash, From: "FORWARD", Jump: jump, First: true, Rules: fwd},
		{Table: "nat", Name: "MINAKS-NAT-" + hash, From: "POSTROUTING", Jump: jump, Rules: nat},
	}
}

// ensureEgress writes the fabric's and the host's chains and turns on the host's IPv4
// forwarding.
func (f *Fabric) ensureEgress(fabricIP netip.Addr) error {
	if err := egressChain().Ensure(FabricNS(f.Cluster)); err != nil {
		return err
	}
	if err := serviceRangeChain(f.ServiceCIDRs, false).Ensure(FabricNS(f.Cluster)); err != nil {
		return err
	}
	if f.SubnetV6.IsValid() {
		if err := serviceRangeChain(f.ServiceCIDRs, true).Ensure(FabricNS(f.Cluster)); err != nil {
			return err
		}
	}
	for _, c := range hostChains(f.Cluster, fabricIP, f.PublicIPRange) {
		if err := c.Ensure(""); err != nil {
			return err
		}
	}
	return enableHostForwarding()
}

// removeHostEgress removes the cluster's host chains.
func removeHostEgress(cluster string) error {
	var errs []error
	for _, c := range hostChains(cluster, netip.Addr{}, netip.Prefix{}) {
		errs = append(errs, c.Remove(""))
	}
	return errors.Join(errs...)
}

// Host IPv4 forwarding is a host-wide switch: replies to the VNet's egress enter on the uplink,
// so no per-interface flag can replace it. minaks turns it on for the first cluster when it is
// off, notes that in forwardingMark, and the last cluster to go turns it off again. The note
// lives in /run, which a reboot clears along with the setting itself.
var (
	forwardingSysctl = "/proc/sys/net/ipv4/ip_forward"
	forwardingMark   = "/run/minaks/ip_forward-was-off"
)

func enableHostForwarding() error {
	b, err := os.ReadFile(forwardingSysctl)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(forwardingMark), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(forwardingMark, []byte("minaks turned net.ipv4.ip_forward on; the last cluster to go turns it off\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(forwardingSysctl, []byte("1\n"), 0o644)
}

// restoreHostForwarding turns the host's forwarding back off if minaks turned it on and no
// cluster's edge is left.
func restoreHostForwarding(host *netlink.Handle) error {
	if _, err := os.Stat(forwardingMark); err != nil {
		return nil
	}
	links, err := retryDump(host.LinkList)
	if err != nil {
		return err
	}
	for _, l := range links {
		if edgeOwner(l) != "" {
			return nil
		}
	}
	if err := os.WriteFile(forwardingSysctl, []byte("0\n"), 0o644); err != nil {
		return err
	}
	_ = os.Remove(forwardingMark)
	_ = os.Remove(filepath.Dir(forwardingMark))
	return nil
}
