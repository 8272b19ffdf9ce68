package cilium

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/minaks/minaks/images/internal/netpol"
	"github.com/minaks/minaks/pkg/netstack"
)

// The engine's chains and sets. The feeder rules and cilium_node_set_v4 are named as Cilium
// names its own; the rest is minaks's, as Cilium keeps its policy in eBPF maps.
const (
	chainPrefix  = "CILIUM_"
	chainForward = "CILIUM_FORWARD"
	chainInput   = "CILIUM_INPUT"
	// chainEgress and chainIngress dispatch what local endpoints send and receive to their
	// endpoint's chain.
	chainEgress  = "CILIUM_EGRESS"
	chainIngress = "CILIUM_INGRESS"
	maxChainName = 28

	// Sets are named cilium_<kind>_<v4|v6>: cilium_node_set_v4 (the nodes, as Cilium names
	// it), cilium_endpoints_v4 (the pods), cilium_cluster_v4 (both: the addresses of the
	// cluster's identities, which CIDR rules never select), cilium_sel_<hash>_v4 (the pods an
	// endpoint selector selects), cilium_cidr_<hash>_v4, cilium_np_<hash>_v4 (named ports).
	setPrefix  = "cilium_"
	maxSetName = 31

	markAllow   = "0x800000/0x800000"
	clearAllow  = "-j MARK --set-xmark 0x0/0x800000"
	setAllow    = "-j MARK --set-xmark " + markAllow
	allowed     = "-m mark --mark " + markAllow
	podVethGlob = "azv+"
)

// family is what the rules of one address family differ by.
type family struct {
	v6     bool
	suffix string // of set names: "_v4", "_v6"
}

var (
	ipv4 = family{suffix: "_v4"}
	ipv6 = family{v6: true, suffix: "_v6"}
)

func (f family) is(ip netip.Addr) bool { return ip.Is6() == f.v6 && ip.IsValid() }

// addr is the first of ips of the family.
func (f family) addr(ips []netip.Addr) (netip.Addr, bool) { return netpol.Addr(ips, f.v6) }

func (f family) set(kind string) string { return setPrefix + kind + f.suffix }

// NewApplier writes the engine's sets and chains of family v6 (IPv4 when false),
// CILIUM_FORWARD and CILIUM_INPUT first in FORWARD and INPUT (before kube-proxy's rules: policy
// holds for load-balanced traffic too).
func NewApplier(run netpol.Exec, v6 bool) *netpol.Applier {
	f := ipv4
	if v6 {
		f = ipv6
	}
	first := func([]string) int { return 0 }
	feeder := func(chain, target string) netpol.Jump {
		comment := "cilium-feeder: " + target
		return netpol.Jump{Chain: chain, Place: first,
			Args:  []string{"-m", "comment", "--comment", comment, "-j", target},
			Saved: `-m comment --comment "` + comment + `" -j ` + target}
	}
	return &netpol.Applier{
		Run:         run,
		IPv6:        v6,
		SetPrefix:   setPrefix,
		SetSuffix:   f.suffix,
		ChainPrefix: chainPrefix,
		TempSet:     f.set("minaks_swap"),
		Jumps:       []netpol.Jump{feeder("FORWARD", chainForward), feeder("INPUT", chainInput)},
	}
}

// hashed is prefix and as much of id's SHA-256 (hex) as fits in max characters.
func hashed(prefix, id string, max int) string {
	h := sha256.Sum256([]byte(id))
	return prefix + hex.EncodeToString(h[:])[:max-len(prefix)]
}

// renderer builds one node's Ruleset of one family.
type renderer struct {
	c         *netpol.Cluster
	f         family
	apiServer netip.Addr
	sets      map[string]*netpol.Set // by label
}

// Render is the cluster's policy on node, with Cilium's semantics, for IPv6 or IPv4 (v6
// false):
//   - a local endpoint (pod) that a rule isolates in a direction gets a chain of its own
//     (CILIUM_IN_/CILIUM_OUT_<veth>) that runs the deny and then the allow chains of every
//     rule selecting it (CILIUM_PDI_/PI_, CILIUM_PDE_/PE_<hash>) and drops what none allows;
//   - every packet a connection's initiator sends is checked, established or not, so a new
//     policy cuts connections already open; replies are not;
//   - what a pod sends its own node (INPUT) is egress like any other: the node is the entity
//     host, which only toEntities host (or all) allows; what the node sends its pods is
//     never policed (kubelet's probes);
//   - CIDR rules and ipBlocks hold the world only: never the address of a pod or a node;
//     pods are selected by endpoint selectors, nodes by the entities host and remote-node;
//   - policy holds for load-balanced traffic: the chains come before kube-proxy's, so a
//     NodePort or LoadBalancer Service's packets meet their backend's ingress policy.
//
// Only rules that select a local endpoint are rendered.
func Render(c *netpol.Cluster, node string, apiServer netip.Addr, v6 bool) *netpol.Ruleset {
	f := ipv4
	if v6 {
		f = ipv6
	}
	r := &renderer{c: c, f: f, apiServer: apiServer, sets: map[string]*netpol.Set{}}
	setNodes, setEndpoints, setCluster := f.set("node_set"), f.set("endpoints"), f.set("cluster")
	inet := "family inet"
	if v6 {
		inet = "family inet6"
	}
	var chains []netpol.Chain
	add := func(name string, rules ...string) { chains = append(chains, netpol.Chain{Name: name, Rules: rules}) }

	var nodeIPs, podIPs []string
	for _, n := range c.Nodes {
		if ip, ok := f.addr(n.IPs); ok {
			nodeIPs = append(nodeIPs, ip.String())
		}
	}
	for _, p := range c.Pods {
		if ip, ok := f.addr(p.IPs); ok {
			podIPs = append(podIPs, ip.String())
		}
	}
	r.sets[setNodes] = &netpol.Set{Name: setNodes, Label: "nodes", Type: "hash:ip", Options: inet, Members: nodeIPs}
	r.sets[setEndpoints] = &netpol.Set{Name: setEndpoints, Label: "endpoints", Type: "hash:ip", Options: inet + " maxelem 1048576", Members: podIPs}
	r.sets[setCluster] = &netpol.Set{Name: setCluster, Label: "cluster", Type: netpol.SetTypeList, Members: []string{setEndpoints, setNodes}}

	rules := policy(c)
	var egress, ingress []string
	var endpointChains, policyChains []netpol.Chain
	rendered := map[string]bool{} // policy chain → whether it has rules
	for _, p := range c.Pods {
		if p.Node != node {
			continue
		}
		if _, ok := f.addr(p.IPs); !ok {
			continue
		}
		iface := netstack.PodNIC{UID: string(p.UID)}.HostVeth()
		var selecting []int
		isolatedIn, isolatedOut := false, false
		for i, rl := range rules {
			if rl.subject(p) {
				selecting = append(selecting, i)
				isolatedIn = isolatedIn || rl.in.isolates
				isolatedOut = isolatedOut || rl.out.isolates
			}
		}
		for _, d := range []struct {
			isolated         bool
			chain, match     string
			dispatch         *[]string
			deny, allow, dir string
		}{
			{isolatedIn, "CILIUM_IN_" + iface, "-o " + iface, &ingress, "CILIUM_PDI_", "CILIUM_PI_", "src"},
			{isolatedOut, "CILIUM_OUT_" + iface, "-i " + iface, &egress, "CILIUM_PDE_", "CILIUM_PE_", "dst"},
		} {
			if !d.isolated {
				continue
			}
			*d.dispatch = append(*d.dispatch, d.match+" -g "+d.chain)
			var denies, allows []string
			for _, i := range selecting {
				rl := rules[i]
				dir := rl.in
				if d.dir == "dst" {
					dir = rl.out
				}
				id := fmt.Sprintf("%s#%d", rl.origin, i)
				// A rule's chain, made once; none when it matches nothing.
				policyChain := func(prefix string, l4 []l4Rule, verdict string) (string, bool) {
					name := hashed(prefix, id, maxChainName)
					if _, ok := rendered[name]; !ok {
						rules := r.l4Rules(rl.origin, l4, d.dir, verdict)
						rendered[name] = len(rules) > 0
						if len(rules) > 0 {
							policyChains = append(policyChains, netpol.Chain{Name: name, Rules: rules})
						}
					}
					return name, rendered[name]
				}
				if name, ok := policyChain(d.deny, dir.deny, "-j DROP"); ok {
					denies = append(denies, "-j "+name)
				}
				if name, ok := policyChain(d.allow, dir.allow, setAllow); ok {
					allows = append(allows, "-j "+name, allowed+" -j RETURN")
				}
			}
			ep := append([]string{clearAllow}, denies...)
			ep = append(ep, allows...)
			ep = append(ep, `-m comment --comment "Policy denied" -j DROP`)
			endpointChains = append(endpointChains, netpol.Chain{Name: d.chain, Rules: ep})
		}
	}

	add(chainForward, "-i "+podVethGlob+" -j "+chainEgress, "-o "+podVethGlob+" -j "+chainIngress)
	add(chainInput, "-i "+podVethGlob+" -j "+chainEgress)
	replies := []string{
		`-m conntrack --ctstate ESTABLISHED --ctdir REPLY -m comment --comment "replies are not policed" -j RETURN`,
		"-m conntrack --ctstate RELATED -j RETURN",
	}
	if f.v6 {
		// Neighbour discovery is never policed (Cilium answers it itself): without it an
		// isolated pod could not reach its gateway at all.
		for _, t := range []string{"router-solicitation", "neighbour-solicitation", "neighbour-advertisement"} {
			replies = append(replies, "-p ipv6-icmp -m icmp6 --icmpv6-type "+t+" -j RETURN")
		}
	}
	add(chainEgress, append(slices.Clone(replies), egress...)...)
	add(chainIngress, append(slices.Clone(replies), ingress...)...)
	chains = append(chains, endpointChains...)
	chains = append(chains, policyChains...)

	return &netpol.Ruleset{Chains: chains, Sets: netpol.SetsOf(r.sets)}
}

// l4Rules are a policy chain: a rule per peer and port of each of rules, ending in verdict.
func (r *renderer) l4Rules(origin string, rules []l4Rule, dir, verdict string) []string {
	comment := fmt.Sprintf("-m comment --comment %q", origin)
	var out []string
	for _, l4 := range rules {
		peers := []string{""}
		if l4.peers != nil {
			peers = nil
			for _, p := range l4.peers {
				if m, ok := r.peer(p, dir); ok {
					peers = append(peers, m)
				}
			}
		}
		ports := []string{""}
		if l4.ports != nil {
			ports = nil
			for _, p := range l4.ports {
				if m, ok := r.port(p); ok {
					ports = append(ports, m)
				}
			}
		}
		for _, peer := range peers {
			for _, port := range ports {
				out = append(out, strings.Join(strings.Fields(port+" "+peer+" "+comment+" "+verdict), " "))
			}
		}
	}
	return out
}

// peer is the match of a peer in direction dir (src, dst); false when it matches nothing.
func (r *renderer) peer(p peer, dir string) (string, bool) {
	typeFlag := "--" + dir + "-type"
	setNodes, setCluster := r.f.set("node_set"), r.f.set("cluster")
	switch {
	case p.label != "":
		s := r.set("sel_", p.label, "hash:ip", func() []string {
			var out []string
			for _, pod := range p.pods {
				if ip, ok := r.f.addr(pod.IPs); ok {
					out = append(out, ip.String())
				}
			}
			return out
		})
		return fmt.Sprintf("-m set --match-set %s %s", s.Name, dir), true
	case p.cidrs != nil:
		nets := r.nets(p.cidrs)
		if nets == nil {
			return "", false
		}
		m := fmt.Sprintf("-m set --match-set %s %s", nets.Name, dir)
		if except := r.nets(p.except); except != nil && len(except.Members) > 0 {
			m += fmt.Sprintf(" -m set ! --match-set %s %s", except.Name, dir)
		}
		return m + fmt.Sprintf(" -m set ! --match-set %s %s", setCluster, dir), true
	}
	switch p.entity {
	case "all":
		return "", true
	case "world":
		return fmt.Sprintf("-m set ! --match-set %s %s", setCluster, dir), true
	case "cluster":
		return fmt.Sprintf("-m set --match-set %s %s", setCluster, dir), true
	case "host":
		return "-m addrtype " + typeFlag + " LOCAL", true
	case "remote-node":
		return fmt.Sprintf("-m set --match-set %s %s -m addrtype ! %s LOCAL", setNodes, dir, typeFlag), true
	case "kube-apiserver":
		if r.f.is(r.apiServer) {
			return fmt.Sprintf("-%c %s", dir[0], netip.PrefixFrom(r.apiServer, r.apiServer.BitLen())), true
		}
	}
	return "", false
}

// port is the match of a port; false when it is of the other family (ICMP) or none.
func (r *renderer) port(p port) (string, bool) {
	switch {
	case p.proto == "icmp" || p.proto == "ipv6-icmp":
		if (p.proto == "ipv6-icmp") != r.f.v6 || p.icmpType == noICMPType {
			return "", false
		}
		switch {
		case p.icmpType == "":
			return "-p " + p.proto, true
		case r.f.v6:
			return "-p ipv6-icmp -m icmp6 --icmpv6-type " + p.icmpType, true
		}
		return "-p icmp -m icmp --icmp-type " + p.icmpType, true
	case p.name != "":
		s := r.set("np_", "named port "+p.proto+"/"+p.name, "hash:ip,port", func() []string {
			return r.c.NamedPortMembers(p.name, p.proto, r.f.v6)
		})
		return fmt.Sprintf("-p %s -m set --match-set %s dst,dst", p.proto, s.Name), true
	case p.port != 0:
		rng := fmt.Sprint(p.port)
		if p.end > p.port {
			rng += fmt.Sprintf(":%d", p.end)
		}
		return fmt.Sprintf("-p %s -m multiport --dports %s", p.proto, rng), true
	}
	return "-p " + p.proto, true
}

// set returns the set of label, making it on first use with the members fill gives.
func (r *renderer) set(kind, label, typ string, fill func() []string) *netpol.Set {
	if s, ok := r.sets[label]; ok {
		return s
	}
	options := "family inet maxelem 1048576"
	if r.f.v6 {
		options = "family inet6 maxelem 1048576"
	}
	s := &netpol.Set{Name: hashed(setPrefix+kind, label, maxSetName-len(r.f.suffix)) + r.f.suffix, Label: label, Type: typ, Options: options, Members: fill()}
	r.sets[label] = s
	return s
}

// nets is the set of the family's CIDRs; nil when there are only others.
func (r *renderer) nets(cidrs []string) *netpol.Set {
	nets, members, ok := netpol.Nets(cidrs, r.f.v6)
	if !ok {
		return nil
	}
	return r.set("cidr_", "cidrs: "+strings.Join(nets, ", "), "hash:net", func() []string { return members })
}
