package netstack

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// retryDump retries a netlink dump that was interrupted by a concurrent change, as the CNI
// plugins' netlinksafe does.
func retryDump[T any](fn func() (T, error)) (T, error) {
	var v T
	var err error
	for range 10 {
		v, err = fn()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

// linkByName returns the named link, or nil when there is none.
func linkByName(h *netlink.Handle, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil, nil
	}
	return l, err
}

// ensureBridge makes a bridge named name in h's namespace, up (`ip link add NAME type bridge`).
func ensureBridge(h *netlink.Handle, name, alias string) (netlink.Link, error) {
	l, err := linkByName(h, name)
	if err != nil {
		return nil, err
	}
	if l != nil {
		if _, ok := l.(*netlink.Bridge); !ok {
			return nil, fmt.Errorf("link %s exists and is a %s, not a bridge", name, l.Type())
		}
	} else {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, Alias: alias, TxQLen: -1}}
		if err := h.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("ip link add %s type bridge: %w", name, err)
		}
		if l, err = h.LinkByName(name); err != nil {
			return nil, err
		}
		// A bridge without an address of its own takes the lowest of its ports' and changes it
		// when a port with a lower one joins, which strands every neighbour's ARP entry for the
		// gateway. A set address stays (`ip link set NAME address 02:…`).
		mac := make(net.HardwareAddr, 6)
		if _, err := rand.Read(mac); err != nil {
			return nil, err
		}
		mac[0] = mac[0]&0xfe | 0x02 // unicast, locally administered
		if err := h.LinkSetHardwareAddr(l, mac); err != nil {
			return nil, fmt.Errorf("ip link set %s address %s: %w", name, mac, err)
		}
	}
	return l, h.LinkSetUp(l)
}

// ensureAddr adds addr to the link unless it is there (`ip addr add ADDR dev LINK`). IPv6
// addresses skip duplicate address detection (`nodad`): minaks hands them out itself, and DAD
// would keep them tentative, unusable, for a second or two.
func ensureAddr(h *netlink.Handle, l netlink.Link, addr netip.Prefix) error {
	a := &netlink.Addr{IPNet: ipNet(addr)}
	if addr.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := h.AddrAdd(l, a); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("ip addr add %s dev %s: %w", addr, l.Attrs().Name, err)
	}
	return nil
}

// ensureRoute installs a route, replacing one to the same destination
// (`ip route replace DST [via GW] dev LINK [src SRC]`).
func ensureRoute(h *netlink.Handle, r *netlink.Route) error {
	if err := h.RouteReplace(r); err != nil {
		return fmt.Errorf("ip route replace %s via %s dev %d: %w", r.Dst, r.Gw, r.LinkIndex, err)
	}
	return nil
}

// ipNet converts a prefix (with its host address kept) to a *net.IPNet.
func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// loUp brings up loopback in h's namespace (`ip link set lo up`).
func loUp(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}

// Forwarding are the sysctls of a namespace that routes: forwarding on, and reverse-path
// filtering off, since the fabric and nodes route asymmetric paths by design.
var Forwarding = map[string]string{
	"net.ipv4.ip_forward":              "1",
	"net.ipv4.conf.all.rp_filter":      "0",
	"net.ipv4.conf.default.rp_filter":  "0",
	"net.ipv6.conf.all.forwarding":     "1",
	"net.ipv4.conf.all.send_redirects": "0",
}

// noProxyDelay makes a link answer proxy ARP at once: the kernel otherwise waits up to 0.8 s,
// which Azure's SDN does not, and which costs a first connection a SYN retransmission.
func noProxyDelay(link string) map[string]string {
	return map[string]string{"net.ipv4.neigh." + link + ".proxy_delay": "0"}
}

// ensureVeth makes a veth pair from h's namespace (end name, with alias) to peerNS (end
// peerName), unless both ends exist; half a pair is deleted and made again
// (`ip link add NAME type veth peer name PEER netns PEERNS; ip link set NAME alias ALIAS`).
func ensureVeth(h *netlink.Handle, name, alias string, ph *netlink.Handle, peerNS, peerName string) (end, peer netlink.Link, err error) {
	if end, err = linkByName(h, name); err != nil {
		return nil, nil, err
	}
	if peer, err = linkByName(ph, peerName); err != nil {
		return nil, nil, err
	}
	if end != nil && peer != nil {
		return end, peer, nil
	}
	if end != nil {
		_ = h.LinkDel(end)
	}
	fd, err := netns.Open(peerNS)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: name, TxQLen: -1},
		PeerName:      peerName,
		PeerNamespace: netlink.NsFd(int(fd)),
	}
	if err := h.LinkAdd(veth); err != nil {
		return nil, nil, fmt.Errorf("ip link add %s type veth peer name %s netns %s: %w", name, peerName, peerNS, err)
	}
	if end, err = h.LinkByName(name); err != nil {
		return nil, nil, err
	}
	if alias != "" {
		if err := h.LinkSetAlias(end, alias); err != nil {
			_ = h.LinkDel(end)
			return nil, nil, fmt.Errorf("ip link set %s alias %s: %w", name, alias, err)
		}
	}
	if peer, err = ph.LinkByName(peerName); err != nil {
		return nil, nil, err
	}
	return end, peer, nil
}
