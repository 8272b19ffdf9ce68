package calico

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/minaks/minaks/images/internal/netpol"
	"github.com/minaks/minaks/pkg/netstack"
)

// Felix's marks (FelixConfiguration iptablesMarkMask 0xffff0000): a policy or profile
// accepted the packet; a tier passed it.
const (
	markAccept      = "0x10000/0x10000"
	setAccept       = "-j MARK --set-xmark " + markAccept
	clearAccept     = "-j MARK --set-xmark 0x0/0x10000"
	clearPass       = "-j MARK --set-xmark 0x0/0x20000"
	notPassed       = "-m mark --mark 0x0/0x20000"
	accepted        = "-m mark --mark " + markAccept
	chainPrefix     = "cali-"
	chainForward    = "cali-FORWARD"
	chainInput      = "cali-INPUT"
	chainFromWL     = "cali-from-wl-dispatch"
	chainToWL       = "cali-to-wl-dispatch"
	chainWLToHost   = "cali-wl-to-host"
	maxChainName    = 28 // Felix's limit, within iptables's 28 characters
	maxSetID        = 22 // characters of a set's hash, after "cali40s:"
	endpointsBridge = "cbr0"
)

// setPrefix starts the names of Felix's IPv4 sets.
const setPrefix = "cali40"

// limitedID is Felix's hashutils.GetLengthLimitedID: prefix+id when it fits in max
// characters, else prefix, "_" and as much of the id's SHA-224 (base64) as fits.
func limitedID(prefix, id string, max int) string {
	if len(prefix)+len(id) <= max {
		return prefix + id
	}
	h := sha256.Sum224([]byte(id))
	return prefix + "_" + base64.RawURLEncoding.EncodeToString(h[:])[:max-len(prefix)-1]
}

// ruleID is the "cali:<id>" comment Felix puts on every rule: a hash of where it is and what
// it says.
func ruleID(chain string, i int, rule string) string {
	h := sha256.Sum224([]byte(fmt.Sprintf("%s/%d/%s", chain, i, rule)))
	return "-m comment --comment cali:" + base64.RawURLEncoding.EncodeToString(h[:])[:16]
}

// endpoint is a workload endpoint of this node: a pod with an IPv4 address.
type endpoint struct {
	pod   *netpol.Pod
	ip    netip.Addr
	iface string
}

// renderer builds one node's Ruleset.
type renderer struct {
	c    *netpol.Cluster
	sets map[string]*netpol.Set // by label (the selector as Felix's calc graph spells it)
}

// Render is Felix's iptables dataplane (IPv4) for the cluster's NetworkPolicies on node, whose
// pods have veths of their own (Azure CNI) or sit on kubenet's bridge (bridged): cali-FORWARD dispatches a packet from a local pod to its endpoint's
// cali-fw-<iface> (egress policy) and one to a local pod to cali-tw-<iface> (ingress); cali-INPUT
// sends what a pod sends to its own node through the pod's egress policy (Felix's
// DefaultEndpointToHostAction ACCEPT after it). An endpoint chain accepts established
// connections, then runs the policies that select the pod (cali-pi-/cali-po-<policy>, tier
// default) and drops what none accepts; a pod no policy selects gets its namespace's profile
// (kns.<namespace>: allow all). Peers are ipsets of the addresses their selectors match,
// anywhere in the cluster (cali40s:<hash>); an ipBlock matches any address in it, pods' and
// nodes' included. Only policies that select a pod of the node are rendered, as Felix does.
// Traffic from the node to its pods is not policed.
func Render(c *netpol.Cluster, node string, bridged bool) *netpol.Ruleset {
	r := &renderer{c: c, sets: map[string]*netpol.Set{}}
	var eps []endpoint
	for _, p := range c.Pods {
		if p.Node != node {
			continue
		}
		if ip, ok := netpol.Addr(p.IPs, false); ok {
			eps = append(eps, endpoint{pod: p, ip: ip, iface: netstack.PodNIC{UID: string(p.UID)}.HostVeth()})
		}
	}

	var chains []netpol.Chain
	add := func(name string, rules ...string) {
		for i, rule := range rules {
			rules[i] = ruleID(name, i, rule) + " " + rule
		}
		chains = append(chains, netpol.Chain{Name: name, Rules: rules})
	}

	in, out := "-i azv+", "-o azv+"
	if bridged {
		in, out = "-i "+endpointsBridge, "-o "+endpointsBridge
	}
	add(chainForward,
		"-j MARK --set-xmark 0x0/0xe0000",
		in+" -j "+chainFromWL,
		out+" -j "+chainToWL,
	)
	add(chainInput, in+" -g "+chainWLToHost)
	add(chainWLToHost,
		"-j "+chainFromWL,
		`-m comment --comment "Configured DefaultEndpointToHostAction" -j ACCEPT`)

	// Endpoints, their dispatch, the policies and profiles they use.
	var from, to []string
	policyChains := map[string]bool{}
	profiles := map[string]bool{}
	var policyRules, profileRules []netpol.Chain
	for _, ep := range eps {
		fw, tw := limitedID("cali-fw-", ep.iface, maxChainName), limitedID("cali-tw-", ep.iface, maxChainName)
		if bridged {
			from = append(from, fmt.Sprintf("-s %s -g %s", netip.PrefixFrom(ep.ip, ep.ip.BitLen()), fw))
			to = append(to, fmt.Sprintf("-d %s -g %s", netip.PrefixFrom(ep.ip, ep.ip.BitLen()), tw))
		} else {
			from = append(from, fmt.Sprintf("-i %s -g %s", ep.iface, fw))
			to = append(to, fmt.Sprintf("-o %s -g %s", ep.iface, tw))
		}
		var ingress, egress []string
		for _, p := range c.Policies {
			if p.Namespace != ep.pod.Namespace || !netpol.Selector(&p.Spec.PodSelector).Matches(labels.Set(ep.pod.Labels)) {
				continue
			}
			id := "default/" + p.Namespace + "/knp.default." + p.Name
			pi, po := limitedID("cali-pi-", id, maxChainName), limitedID("cali-po-", id, maxChainName)
			doIn, doOut := netpol.PolicyTypes(p)
			if doIn {
				ingress = append(ingress, pi)
				if !policyChains[pi] {
					policyChains[pi] = true
					policyRules = append(policyRules, netpol.Chain{Name: pi, Rules: r.ingressRules(p)})
				}
			}
			if doOut {
				egress = append(egress, po)
				if !policyChains[po] {
					policyChains[po] = true
					policyRules = append(policyRules, netpol.Chain{Name: po, Rules: r.egressRules(p)})
				}
			}
		}
		profile := "kns." + ep.pod.Namespace
		pri, pro := limitedID("cali-pri-", profile, maxChainName), limitedID("cali-pro-", profile, maxChainName)
		add(tw, endpointRules(ingress, pri)...)
		add(fw, endpointRules(egress, pro)...)
		if !profiles[profile] {
			profiles[profile] = true
			for _, name := range []string{pri, pro} {
				profileRules = append(profileRules, netpol.Chain{Name: name, Rules: []string{
					fmt.Sprintf(`-m comment --comment "Profile %s" %s`, profile, setAccept),
					accepted + " -j RETURN",
				}})
			}
		}
	}
	add(chainFromWL, append(from, `-m comment --comment "Unknown interface" -j DROP`)...)
	add(chainToWL, append(to, `-m comment --comment "Unknown interface" -j DROP`)...)
	for _, ch := range append(policyRules, profileRules...) {
		add(ch.Name, ch.Rules...)
	}

	return &netpol.Ruleset{Chains: chains, Sets: netpol.SetsOf(r.sets)}
}

// endpointRules are an endpoint chain's rules for one direction: established connections
// accepted; then the policies that select the endpoint (tier default), or its profile when
// none does.
func endpointRules(policies []string, profile string) []string {
	rules := []string{
		"-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-m conntrack --ctstate INVALID -j DROP",
		clearAccept,
	}
	if len(policies) > 0 {
		rules = append(rules, `-m comment --comment "Start of tier default" `+clearPass)
		for _, p := range policies {
			rules = append(rules,
				notPassed+" -j "+p,
				accepted+` -m comment --comment "Return if policy accepted" -j RETURN`)
		}
		return append(rules, notPassed+` -m comment --comment "End of tier default. Drop if no policies passed packet" -j DROP`)
	}
	return append(rules,
		"-j "+profile,
		accepted+` -m comment --comment "Return if profile accepted" -j RETURN`,
		`-m comment --comment "Drop if no profiles matched" -j DROP`)
}

// set returns the set of label (the selector it stands for), making it on first use with the
// addresses fill gives.
func (r *renderer) set(kind, label, typ string, fill func() []string) *netpol.Set {
	if s, ok := r.sets[label]; ok {
		return s
	}
	h := sha256.Sum224([]byte(label))
	s := &netpol.Set{
		Name:    setPrefix + kind + ":" + base64.RawURLEncoding.EncodeToString(h[:])[:maxSetID],
		Label:   label,
		Type:    typ,
		Options: "family inet maxelem 1048576",
		Members: fill(),
	}
	r.sets[label] = s
	return s
}

// selectorLabel spells a peer's selection as Calico's converted selector does.
func selectorLabel(ns string, peer networkingv1.NetworkPolicyPeer) string {
	pods := "all()"
	if peer.PodSelector != nil {
		pods = metav1.FormatLabelSelector(peer.PodSelector)
	}
	if peer.NamespaceSelector == nil {
		return fmt.Sprintf("projectcalico.org/orchestrator == 'k8s' && %s && projectcalico.org/namespace == '%s'", pods, ns)
	}
	return fmt.Sprintf("projectcalico.org/orchestrator == 'k8s' && %s && namespace(%s)", pods, metav1.FormatLabelSelector(peer.NamespaceSelector))
}

// peer is the match of one NetworkPolicyPeer, for direction dir (src or dst).
func (r *renderer) peer(ns string, peer networkingv1.NetworkPolicyPeer, dir string) string {
	if b := peer.IPBlock; b != nil {
		nets := r.nets([]string{b.CIDR})
		if nets == nil {
			return "" // an IPv6 CIDR: never matches
		}
		m := fmt.Sprintf(" -m set --match-set %s %s", nets.Name, dir)
		if except := r.nets(b.Except); except != nil && len(except.Members) > 0 {
			m += fmt.Sprintf(" -m set ! --match-set %s %s", except.Name, dir)
		}
		return m
	}
	s := r.set("s", selectorLabel(ns, peer), "hash:net", func() []string {
		var out []string
		for _, p := range r.c.PeerPods(ns, peer) {
			if ip, ok := netpol.Addr(p.IPs, false); ok {
				out = append(out, ip.String())
			}
		}
		return out
	})
	return fmt.Sprintf(" -m set --match-set %s %s", s.Name, dir)
}

// nets is the set of the IPv4 CIDRs; nil when there are only IPv6 ones.
func (r *renderer) nets(cidrs []string) *netpol.Set {
	nets, members, ok := netpol.Nets(cidrs, false)
	if !ok {
		return nil
	}
	return r.set("s", "nets: "+strings.Join(nets, ", "), "hash:net", func() []string { return members })
}

// ports are a rule's port matches (one per port; one empty match for "any port").
func (r *renderer) ports(ports []networkingv1.NetworkPolicyPort) []string {
	if len(ports) == 0 {
		return []string{""}
	}
	var out []string
	for _, p := range ports {
		proto := netpol.Protocol(p.Protocol)
		switch {
		case p.Port == nil:
			out = append(out, " -p "+proto)
		case p.Port.Type == intstr.String:
			name := p.Port.String()
			s := r.set("n", "named port "+proto+"/"+name, "hash:ip,port", func() []string {
				return r.c.NamedPortMembers(name, proto, false)
			})
			out = append(out, fmt.Sprintf(" -p %s -m set --match-set %s dst,dst", proto, s.Name))
		default:
			rng := fmt.Sprint(p.Port.IntValue())
			if p.EndPort != nil && *p.EndPort > int32(p.Port.IntValue()) {
				rng += fmt.Sprintf(":%d", *p.EndPort)
			}
			out = append(out, fmt.Sprintf(" -p %s -m multiport --dports %s", proto, rng))
		}
	}
	return out
}

// rules is a policy chain: per rule, peer and port an accept mark and a return.
func (r *renderer) rules(ns string, rules [][]networkingv1.NetworkPolicyPeer, ports [][]networkingv1.NetworkPolicyPort, dir string) []string {
	var out []string
	for i := range rules {
		peers := []string{""}
		if len(rules[i]) > 0 {
			peers = nil
			for _, p := range rules[i] {
				if m := r.peer(ns, p, dir); m != "" {
					peers = append(peers, m)
				}
			}
		}
		for _, peer := range peers {
			for _, port := range r.ports(ports[i]) {
				out = append(out, strings.TrimSpace(port+peer+" "+setAccept), accepted+" -j RETURN")
			}
		}
	}
	return out
}

func (r *renderer) ingressRules(p *networkingv1.NetworkPolicy) []string {
	var peers [][]networkingv1.NetworkPolicyPeer
	var ports [][]networkingv1.NetworkPolicyPort
	for _, rule := range p.Spec.Ingress {
		peers, ports = append(peers, rule.From), append(ports, rule.Ports)
	}
	return r.rules(p.Namespace, peers, ports, "src")
}

func (r *renderer) egressRules(p *networkingv1.NetworkPolicy) []string {
	var peers [][]networkingv1.NetworkPolicyPeer
	var ports [][]networkingv1.NetworkPolicyPort
	for _, rule := range p.Spec.Egress {
		peers, ports = append(peers, rule.To), append(ports, rule.Ports)
	}
	return r.rules(p.Namespace, peers, ports, "dst")
}
