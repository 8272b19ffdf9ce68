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

// The host's part in a cluster's egress. Nodes reach the world as Azure VMs do, through their
// VNet's edge: here the fabric's default route leads to the host, which forwards what comes from
// the VNet, masquerades it, and lets back in only the replies. The host never becomes a way into
// the VNet for anything but itself.

// hostChains are a cluster's two chains on the host, named after its edge link mk-<hash>:
//
//	-t filter -I FORWARD -m comment --comment "minaks: cluster <c>" -j MINAKS-FWD-<hash>
//	  -o mk-<hash> -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT   replies come in
//	  -o mk-<hash> -j DROP                                                nothing else does
//	  -i mk-<hash> ! -o mk-+ -j ACCEPT                                    the VNet goes out (not into other clusters)
//	-t nat -A POSTROUTING -m comment --comment "minaks: cluster <c>" -j MINAKS-NAT-<hash>
//	  -s <subnet> ! -o mk-<hash> -j MASQUERADE                           per VNet subnet
//
// The chains hold no addresses of the host, so RemoveCluster can remove them knowing only the
// cluster's name.
func hostChains(cluster string, subnets []netip.Prefix) []Chain {
	edge := HostLinkName(cluster)
	hash := strings.TrimPrefix(edge, "mk-")
	jump := []string{"-m", "comment", "--comment", "minaks: cluster " + cluster}
	var nat []string
	for _, s := range subnets {
		if s.IsValid() {
			nat = append(nat, fmt.Sprintf(`-s %s ! -o %s -m comment --comment "minaks %s: the VNet's egress leaves with the host's address" -j MASQUERADE`, s.Masked(), edge, cluster))
		}
	}
	return []Chain{
		{Table: "filter", Name: "MINAKS-FWD-" + hash, From: "FORWARD", Jump: jump, First: true, Rules: []string{
			fmt.Sprintf(`-o %s -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "minaks %s: replies to the VNet's egress" -j ACCEPT`, edge, cluster),
			fmt.Sprintf(`-o %s -m comment --comment "minaks %s: the VNet takes no connections from beyond the host" -j DROP`, edge, cluster),
			fmt.Sprintf(`-i %s ! -o mk-+ -m comment --comment "minaks %s: the VNet's egress" -j ACCEPT`, edge, cluster),
		}},
		{Table: "nat", Name: "MINAKS-NAT-" + hash, From: "POSTROUTING", Jump: jump, Rules: nat},
	}
}

// ensureHostEgress writes the cluster's host chains and turns on the host's IPv4 forwarding.
func (f *Fabric) ensureHostEgress() error {
	for _, c := range hostChains(f.Cluster, []netip.Prefix{f.Subnet, f.PodSubnet}) {
		if err := c.Ensure(""); err != nil {
			return err
		}
	}
	return enableHostForwarding()
}

// removeHostEgress removes the cluster's host chains.
func removeHostEgress(cluster string) error {
	var errs []error
	for _, c := range hostChains(cluster, nil) {
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
