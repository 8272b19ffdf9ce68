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

// ruleset is the table's content by object, so that two of them can be compared: the elements
// of its set and maps, its ct timeout objects and the rules of each chain.
type ruleset struct {
	frontends map[string]bool
	// ports and ha map "<frontend> . <proto> . <port>" and "<frontend>" to a rule's chain.
	ports, ha map[string]string
	// timeouts maps a ct timeout object's name to its established timeout in seconds.
	timeouts map[string]int
	// chains maps a chain's name to its lines: the base chains' "type … hook …" first.
	chains map[string][]string
}

// The base chains, always there:
//
//	place (prerouting, mangle): a packet of a placed flow gets its flow's mark; a new flow to a
//	  frontend goes to its rule's chain (by address, protocol and port; HA ports by address),
//	  and one that no rule takes is dropped, as Azure does
//	floating-ip-off (prerouting, dstnat): frontend:port → the chosen backend's IP:NodePort
//	nsg-inbound (forward, filter - 5): new flows toward a frontend pass the NSG (chain nsg), by
//	  priority, then its default rules (AllowVnetInBound, AllowAzureLoadBalancerInBound,
//	  DenyAllInBound)
//	outbound-snat (postrouting, srcnat - 1, before the fabric's masquerade): what leaves the
//	  VNet is SNATed to the outbound IPs, each node within its own block of ports
//
// and one chain per load-balancing rule, "rule-<name>": the flow's backend = jhash(5-tuple, or
// source and destination IP) over the healthy backends, into the conntrack mark and the packet
// mark; the TCP idle timeout; a TCP segment of a flow that timed out (not a SYN) is reset or
// dropped.
var baseChains = map[string]string{
	"place":           "type filter hook prerouting priority mangle; policy accept;",
	"floating-ip-off": "type nat hook prerouting priority dstnat; policy accept;",
	"nsg-inbound":     "type filter hook forward priority filter - 5; policy accept;",
	"nsg":             "",
	"outbound-snat":   "type nat hook postrouting priority srcnat - 1; policy accept;",
}

func ruleChain(r Rule) string { return "rule-" + r.Name }

// build is c's ruleset.
func build(c *Config) *ruleset {
	rs := &ruleset{frontends: map[string]bool{}, ports: map[string]string{}, ha: map[string]string{},
		timeouts: map[string]int{}, chains: map[string][]string{}}
	for name, hook := range baseChains {
		if hook != "" {
			rs.chains[name] = []string{hook}
		} else {
			rs.chains[name] = nil
		}
	}
	add := func(chain, format string, args ...any) {
		rs.chains[chain] = append(rs.chains[chain], fmt.Sprintf(format, args...))
	}
	backends := map[string]Backend{}
	for _, be := range c.Backends {
		backends[be.Name] = be
	}
	for _, a := range c.Frontends {
		rs.frontends[a.String()] = true
	}

	add("place", "ct direction reply return")
	add("place", "ct mark and 0xffff0000 == 0x%x meta mark set ct mark return", markBase)
	add("place", "ip daddr != @frontends return")
	add("place", "ip daddr . meta l4proto . th dport vmap @rules")
	add("place", "ip daddr vmap @ha-ports")
	add("place", "counter drop comment \"no load-balancing rule for this frontend port\"")

	for _, r := range c.Rules {
		chain := ruleChain(r)
		if r.Protocol == "all" {
			rs.ha[r.Frontend.String()] = chain
		} else {
			rs.ports[fmt.Sprintf("%s . %s . %d", r.Frontend, r.Protocol, r.Port)] = chain
		}
		rs.chains[chain] = []string{}
		if r.Protocol != "udp" {
			stale := "drop"
			if r.TCPReset {
				stale = "reject with tcp reset"
			}
			add(chain, "meta l4proto tcp tcp flags & (syn | ack | fin | rst) != syn ct state new counter %s comment \"a segment of a flow that timed out\"", stale)
			if r.IdleTimeout > 0 {
				rs.timeouts[timeoutName(r.IdleTimeout)] = int(r.IdleTimeout.Seconds())
				add(chain, "meta l4proto tcp ct timeout set %q", timeoutName(r.IdleTimeout))
			}
		}
		var choices []string
		for _, name := range r.Healthy {
			if be, ok := backends[name]; ok {
				choices = append(choices, fmt.Sprintf("%d : 0x%x", len(choices), Mark(be.ID)))
			}
		}
		if len(choices) == 0 {
			add(chain, "counter drop comment \"no healthy backend\"")
			continue
		}
		tuple := "ip saddr . ip daddr . meta l4proto . th sport . th dport"
		if r.Distribution == DistributionSourceIP {
			tuple = "ip saddr . ip daddr"
		}
		// The packet first, then its flow: a packet conntrack found invalid (a SYN reusing the
		// ports of a flow that just closed, say) has no flow but goes where its flow would.
		add(chain, "meta mark set jhash %s mod %d seed 0x%x map { %s }", tuple, len(choices), hashSeed, strings.Join(choices, ", "))
		add(chain, "ct mark set meta mark")

		if !r.FloatingIP {
			for _, be := range c.Backends {
				match := fmt.Sprintf("%s dport %d", r.Protocol, r.Port)
				if r.Protocol == "all" {
					match = "meta l4proto { tcp, udp }"
				}
				port := ""
				if r.BackendPort != 0 {
					port = fmt.Sprintf(":%d", r.BackendPort)
				}
				add("floating-ip-off", "meta mark 0x%x ip daddr %s %s dnat to %s%s comment %q", Mark(be.ID), r.Frontend, match, be.IP, port, r.Name)
			}
		}
	}

	add("nsg-inbound", "ct state new ct original ip daddr @frontends jump nsg")
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
		add("nsg", "%s", strings.Join(m, " "))
	}
	if len(c.VNet) > 0 {
		add("nsg", "ip saddr %s accept comment \"65000 AllowVnetInBound\"", set(prefixes(c.VNet)))
		if c.Host.IsValid() {
			add("nsg", "ip saddr %s ip daddr %s accept comment \"65000 AllowVnetInBound: the host, connected like an on-premises network\"", c.Host, set(prefixes(c.VNet)))
		}
	}
	add("nsg", "ip saddr 168.63.129.16 accept comment \"65001 AllowAzureLoadBalancerInBound\"")
	add("nsg", "counter drop comment \"65500 DenyAllInBound\"")

	if o := c.Outbound; o != nil && len(o.IPs) > 0 {
		add("outbound-snat", "oifname != %q return", EdgeLink)
		if o.IdleTimeout > 0 {
			rs.timeouts[timeoutName(o.IdleTimeout)] = int(o.IdleTimeout.Seconds())
			add("outbound-snat", "meta l4proto tcp ct timeout set %q", timeoutName(o.IdleTimeout))
		}
		for i, be := range c.Backends {
			ip, first, last := o.Block(i)
			add("outbound-snat", "ip saddr %s meta l4proto { tcp, udp } snat to %s:%d-%d comment %q", be.IP, ip, first, last, "aksOutboundRule: "+be.Name)
			add("outbound-snat", "ip saddr %s snat to %s comment %q", be.IP, ip, "aksOutboundRule: "+be.Name)
		}
		if len(o.Sources) > 0 {
			add("outbound-snat", "ip saddr %s snat to %s comment \"aksOutboundRule: the VNet's other addresses\"", set(prefixes(o.Sources)), o.IPs[0])
		}
	}
	return rs
}

// Render is the nftables script that replaces the table in one transaction (create, delete,
// define), so packets see the old rules or the new, never none.
func Render(c *Config) string { return build(c).full() }

func (rs *ruleset) full() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("table ip %s", Table)
	w("delete table ip %s", Table)
	w("table ip %s {", Table)
	w("\tcomment \"minaks: the emulated Azure load balancer\"")
	w("\tset frontends {\n\t\ttype ipv4_addr\n%s\t}", elements(slices.Sorted(maps.Keys(rs.frontends))))
	w("\tmap rules {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n%s\t}", elements(verdicts(rs.ports)))
	w("\tmap ha-ports {\n\t\ttype ipv4_addr : verdict\n%s\t}", elements(verdicts(rs.ha)))
	for _, name := range slices.Sorted(maps.Keys(rs.timeouts)) {
		w("\tct timeout %s {\n\t\tprotocol tcp\n\t\tl3proto ip\n\t\tpolicy = { established : %d }\n\t}", name, rs.timeouts[name])
	}
	for _, name := range rs.chainOrder() {
		w("\tchain %s {", name)
		for _, line := range rs.chains[name] {
			w("\t\t%s", line)
		}
		w("\t}")
	}
	w("}")
	return b.String()
}

// chainOrder lists rule chains before the base chains that jump to them.
func (rs *ruleset) chainOrder() []string {
	var rules []string
	for name := range rs.chains {
		if _, base := baseChains[name]; !base {
			rules = append(rules, name)
		}
	}
	slices.Sort(rules)
	return append(rules, "nsg", "place", "floating-ip-off", "nsg-inbound", "outbound-snat")
}

// diff is the script that turns the table from old into rs in one transaction, touching only
// what changed: set and map elements, ct timeouts, the chains whose rules changed.
func (rs *ruleset) diff(old *ruleset) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	t := "ip " + Table
	// New objects first: timeouts and chains that rules will refer to.
	for _, name := range slices.Sorted(maps.Keys(rs.timeouts)) {
		if _, ok := old.timeouts[name]; !ok {
			w("add ct timeout %s %s { protocol tcp; l3proto ip; policy = { established : %d }; }", t, name, rs.timeouts[name])
		}
	}
	for _, name := range rs.chainOrder() {
		lines, had := old.chains[name]
		if had && slices.Equal(lines, rs.chains[name]) {
			continue
		}
		rules := rs.chains[name]
		if hook := baseChains[name]; hook != "" {
			rules = rules[1:]
		}
		if had {
			w("flush chain %s %s", t, name)
		} else {
			w("add chain %s %s", t, name)
		}
		for _, r := range rules {
			w("add rule %s %s %s", t, name, r)
		}
	}
	for _, e := range []struct {
		name     string
		old, new map[string]string
	}{{"rules", old.ports, rs.ports}, {"ha-ports", old.ha, rs.ha}} {
		for _, k := range slices.Sorted(maps.Keys(e.old)) {
			if v, ok := e.new[k]; !ok || v != e.old[k] {
				w("delete element %s %s { %s }", t, e.name, k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(e.new)) {
			if v, ok := e.old[k]; !ok || v != e.new[k] {
				w("add element %s %s { %s : goto %s }", t, e.name, k, e.new[k])
			}
		}
	}
	for _, a := range slices.Sorted(maps.Keys(rs.frontends)) {
		if !old.frontends[a] {
			w("add element %s frontends { %s }", t, a)
		}
	}
	for _, a := range slices.Sorted(maps.Keys(old.frontends)) {
		if !rs.frontends[a] {
			w("delete element %s frontends { %s }", t, a)
		}
	}
	// Then what nothing refers to any more.
	for _, name := range slices.Sorted(maps.Keys(old.chains)) {
		if _, ok := rs.chains[name]; !ok {
			w("delete chain %s %s", t, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(old.timeouts)) {
		if _, ok := rs.timeouts[name]; !ok {
			w("delete ct timeout %s %s", t, name)
		}
	}
	return b.String()
}

func verdicts(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+" : goto "+m[k])
	}
	return out
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
