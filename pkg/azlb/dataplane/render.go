package dataplane

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Table is the nftables table minaks owns in the fabric namespace (family ip).
const Table = "minaks-lb"

// Marks: a flow placed on a backend carries that backend's mark, in its conntrack entry and
// on each of its packets toward the backend; the mark picks the backend's route table.
const (
	markBase  = 0x4d4c0000
	tableBase = 1000
)

// Mark is the packet mark of a backend, by VMSS instance ID.
func Mark(id int) uint32 { return markBase | uint32(id+1) }

// RouteTable is the policy route table (and ip rule preference) of a backend.
func RouteTable(id int) int { return tableBase + id }

// hashSeed is jhash's seed: fixed, so a restart keeps distributing flows the same way.
const hashSeed = 0x4d4c42

// Render is the nftables script that replaces the table atomically (one transaction: create,
// delete, define), so packets see the old rules or the new, never none:
//
//	prerouting (mangle): a packet of a placed flow gets its flow's mark; a new flow to a
//	  frontend jumps to its rule's chain (by address, protocol and port; HA ports by address),
//	  and one that no rule takes is dropped, as Azure does
//	rule-N: the flow's backend = jhash(5-tuple or source and destination IP) over the healthy
//	  backends, into the conntrack mark and the packet mark; the TCP idle timeout; a TCP segment
//	  of a flow that timed out (not a SYN) is reset or dropped
//	dnat (dstnat): floating IP off: frontend:port → backend IP:NodePort
//	forward (filter): new flows toward a frontend pass the NSG, by priority, then its default
//	  rules (AllowVnetInBound, AllowAzureLoadBalancerInBound, DenyAllInBound)
//	outbound (srcnat, before the fabric's masquerade): what leaves the VNet is SNATed to the
//	  outbound IPs, each node within its own block of ports
func Render(c *Config) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("table ip %s", Table)
	w("delete table ip %s", Table)
	w("table ip %s {", Table)
	w("\tcomment \"minaks: the emulated Azure load balancer\"")

	backends := map[string]Backend{}
	for _, be := range c.Backends {
		backends[be.Name] = be
	}
	w("\tset frontends {\n\t\ttype ipv4_addr\n%s\t}", elements(addrs(c.Frontends)))

	var ports, ha []string
	timeouts := map[time.Duration]bool{}
	for i, r := range c.Rules {
		if r.Protocol == "all" {
			ha = append(ha, fmt.Sprintf("%s : goto rule-%d", r.Frontend, i))
		} else {
			ports = append(ports, fmt.Sprintf("%s . %s . %d : goto rule-%d", r.Frontend, r.Protocol, r.Port, i))
		}
		if r.IdleTimeout > 0 && r.Protocol != "udp" {
			timeouts[r.IdleTimeout] = true
		}
	}
	w("\tmap rules {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n%s\t}", elements(ports))
	w("\tmap ha-ports {\n\t\ttype ipv4_addr : verdict\n%s\t}", elements(ha))
	if o := c.Outbound; o != nil && o.IdleTimeout > 0 {
		timeouts[o.IdleTimeout] = true
	}
	for _, d := range slices.Sorted(maps.Keys(timeouts)) {
		w("\tct timeout %s {\n\t\tprotocol tcp\n\t\tl3proto ip\n\t\tpolicy = { established : %d }\n\t}", timeoutName(d), int(d.Seconds()))
	}

	w("\tchain place {")
	w("\t\ttype filter hook prerouting priority mangle; policy accept;")
	w("\t\tct direction reply return")
	w("\t\tct mark and 0xffff0000 == 0x%x meta mark set ct mark return", markBase)
	w("\t\tip daddr != @frontends return")
	w("\t\tip daddr . meta l4proto . th dport vmap @rules")
	w("\t\tip daddr vmap @ha-ports")
	w("\t\tdrop comment \"no load-balancing rule for this frontend port\"")
	w("\t}")

	for i, r := range c.Rules {
		w("\tchain rule-%d {", i)
		w("\t\tcomment %q", r.Name)
		if r.Protocol != "udp" {
			stale := "drop"
			if r.TCPReset {
				stale = "reject with tcp reset"
			}
			w("\t\tmeta l4proto tcp tcp flags & (syn | ack | fin | rst) != syn %s comment \"a segment of a flow that timed out\"", stale)
			if r.IdleTimeout > 0 {
				w("\t\tmeta l4proto tcp ct timeout set %q", timeoutName(r.IdleTimeout))
			}
		}
		var healthy []Backend
		for _, name := range r.Healthy {
			if be, ok := backends[name]; ok {
				healthy = append(healthy, be)
			}
		}
		if len(healthy) == 0 {
			w("\t\tdrop comment \"no healthy backend\"")
			w("\t}")
			continue
		}
		tuple := "ip saddr . ip daddr . meta l4proto . th sport . th dport"
		if r.Distribution == DistributionSourceIP {
			tuple = "ip saddr . ip daddr"
		}
		var choices []string
		for j, be := range healthy {
			choices = append(choices, fmt.Sprintf("%d : 0x%x", j, Mark(be.ID)))
		}
		w("\t\tct mark set jhash %s mod %d seed 0x%x map { %s }", tuple, len(healthy), hashSeed, strings.Join(choices, ", "))
		w("\t\tmeta mark set ct mark")
		w("\t}")
	}

	w("\tchain floating-ip-off {")
	w("\t\ttype nat hook prerouting priority dstnat; policy accept;")
	for _, r := range c.Rules {
		if r.FloatingIP {
			continue
		}
		for _, be := range c.Backends {
			match := fmt.Sprintf("%s dport %d", r.Protocol, r.Port)
			if r.Protocol == "all" {
				match = "meta l4proto { tcp, udp }"
			}
			port := ""
			if r.BackendPort != 0 {
				port = fmt.Sprintf(":%d", r.BackendPort)
			}
			w("\t\tmeta mark 0x%x ip daddr %s %s dnat to %s%s comment %q", Mark(be.ID), r.Frontend, match, be.IP, port, r.Name)
		}
	}
	w("\t}")

	w("\tchain nsg-inbound {")
	w("\t\ttype filter hook forward priority filter - 5; policy accept;")
	w("\t\tct state new ct original ip daddr @frontends jump nsg")
	w("\t}")
	w("\tchain nsg {")
	for _, r := range c.NSG {
		var m []string
		if r.Sources != nil {
			m = append(m, "ip saddr "+set(prefixes(r.Sources)))
		}
		if r.Destinations != nil {
			m = append(m, "ip daddr "+set(prefixes(r.Destinations)))
		}
		if r.Protocol != "" {
			m = append(m, "meta l4proto "+r.Protocol)
		}
		if r.Ports != nil {
			if r.Protocol == "" {
				m = append(m, "meta l4proto { tcp, udp }")
			}
			m = append(m, "th dport "+set(r.Ports))
		}
		verdict := "drop"
		if r.Allow {
			verdict = "accept"
		}
		m = append(m, verdict, fmt.Sprintf("comment %q", fmt.Sprintf("%d %s", r.Priority, r.Name)))
		w("\t\t%s", strings.Join(m, " "))
	}
	if len(c.VNet) > 0 {
		w("\t\tip saddr %s accept comment \"65000 AllowVnetInBound\"", set(prefixes(c.VNet)))
		if c.Host.IsValid() {
			w("\t\tip saddr %s ip daddr %s accept comment \"65000 AllowVnetInBound: the host, connected like an on-premises network\"", c.Host, set(prefixes(c.VNet)))
		}
	}
	w("\t\tip saddr 168.63.129.16 accept comment \"65001 AllowAzureLoadBalancerInBound\"")
	w("\t\tdrop comment \"65500 DenyAllInBound\"")
	w("\t}")

	w("\tchain outbound-snat {")
	w("\t\ttype nat hook postrouting priority srcnat - 1; policy accept;")
	if o := c.Outbound; o != nil && len(o.IPs) > 0 {
		w("\t\toifname != %q return", EdgeLink)
		if o.IdleTimeout > 0 {
			w("\t\tmeta l4proto tcp ct timeout set %q", timeoutName(o.IdleTimeout))
		}
		for i, be := range c.Backends {
			ip, first, last := o.Block(i)
			w("\t\tip saddr %s meta l4proto { tcp, udp } snat to %s:%d-%d comment %q", be.IP, ip, first, last, "aksOutboundRule: "+be.Name)
			w("\t\tip saddr %s snat to %s comment %q", be.IP, ip, "aksOutboundRule: "+be.Name)
		}
		if len(o.Sources) > 0 {
			w("\t\tip saddr %s snat to %s comment \"aksOutboundRule: the VNet's other addresses\"", set(prefixes(o.Sources)), o.IPs[0])
		}
	}
	w("\t}")
	w("}")
	return b.String()
}

// EdgeLink is the fabric's link to the host (netstack's fabric edge), where the VNet's egress
// leaves.
const EdgeLink = "host"

// FirstSNATPort is the first port Azure hands out for SNAT: the ones below are reserved.
const FirstSNATPort = 1024

// Block is the i-th node's SNAT block: the outbound IP and the first and last port. Blocks fill
// the first IP's ports, then the next IP's.
func (o *Outbound) Block(i int) (netip.Addr, int, int) {
	perIP := (65536 - FirstSNATPort) / o.PortsPerNode
	ip := o.IPs[(i/perIP)%len(o.IPs)]
	first := FirstSNATPort + (i%perIP)*o.PortsPerNode
	return ip, first, first + o.PortsPerNode - 1
}

func timeoutName(d time.Duration) string { return fmt.Sprintf("idle-%ds", int(d.Seconds())) }

func elements(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return "\t\telements = { " + strings.Join(items, ", ") + " }\n"
}

func set(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return "{ " + strings.Join(items, ", ") + " }"
}

func addrs(as []netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

func prefixes(ps []netip.Prefix) []string {
	var out []string
	for _, p := range ps {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.Masked().String())
		}
	}
	return out
}
