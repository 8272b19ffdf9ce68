package azurenpm

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/minaks/minaks/images/internal/netpol"
)

// NPM's chains (npm/util/const.go) and marks: NPM v2 uses bits 9–11 of the packet mark.
const (
	chainNPM        = "AZURE-NPM"
	chainIngress    = "AZURE-NPM-INGRESS"
	chainAllowMark  = "AZURE-NPM-INGRESS-ALLOW-MARK"
	chainEgress     = "AZURE-NPM-EGRESS"
	chainAccept     = "AZURE-NPM-ACCEPT"
	markIngressOK   = "0x200/0x200"
	markIngressDrop = "0x400/0x400"
	markEgressDrop  = "0x800/0x800"
)

// forwardJump is FORWARD's rule into NPM: new connections only; savedForwardJump is how
// iptables-save prints it.
var forwardJump = []string{"-j", chainNPM, "-m", "conntrack", "--ctstate", "NEW"}

const savedForwardJump = "-A FORWARD -m conntrack --ctstate NEW -j " + chainNPM

// ipset names and types: azure-npm-<FNV-1a of the prefixed name>, as NPM names them.
const (
	setPrefix     = "azure-npm-"
	setTypeNet    = "hash:net"
	setTypeIPPort = "hash:ip,port"
	setTypeList   = netpol.SetTypeList
	// tempSet is where a set's new members are gathered before they are swapped in.
	tempSet = "azure-npm-minaks-swap"
	// allNamespaces is the list of every namespace's set: every pod NPM knows.
	allNamespaces = "nslabel-all-namespaces"
)

// hash is NPM's util.Hash: FNV-1a, 32 bits, in decimal.
func hash(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprint(h.Sum32())
}

// Set, Chain and Ruleset are the engine's writes (package netpol): a Set's Label is what NPM
// calls it before its name is hashed (its comments name sets so).
type (
	Set     = netpol.Set
	Chain   = netpol.Chain
	Ruleset = netpol.Ruleset
)

// renderer builds one node's Ruleset.
type renderer struct {
	c    *netpol.Cluster
	sets map[string]*Set // by prefixed name
}

// Render is NPM v2's translation of the cluster's NetworkPolicies into one node's ipsets and
// chains (npm/pkg/controlplane/translation, npm/pkg/dataplane/policies): every pod's IP in
// its namespace's and its labels' sets, per policy and direction a chain of allow rules
// ending in a drop mark, entered from AZURE-NPM-INGRESS (by destination) or AZURE-NPM-EGRESS
// (by source) when the packet's pod is one the policy selects. Sets hold the pods of the
// whole cluster, as on every NPM node; AZURE-NPM stays empty while there is no policy.
func Render(c *netpol.Cluster, node string) *Ruleset {
	r := &renderer{c: c, sets: map[string]*Set{}}
	r.podSets()

	var ingressJumps, egressJumps []string
	var policyChains []Chain
	for _, p := range c.Policies {
		ingress, egress := netpol.PolicyTypes(p)
		key := p.Namespace + "/" + p.Name
		target, targetNames := r.podSelector(key, p.Namespace, &p.Spec.PodSelector)
		if ingress {
			name := chainIngress + "-" + hash(key)
			policyChains = append(policyChains, Chain{Name: name, Rules: r.ingressRules(p)})
			ingressJumps = append(ingressJumps, fmt.Sprintf("-j %s%s -m comment --comment %s",
				name, matchSets(target, "dst"), comment("INGRESS-POLICY-"+key+"-TO-"+strings.Join(targetNames, "-AND-")+"-IN-ns-"+p.Namespace)))
		}
		if egress {
			name := chainEgress + "-" + hash(key)
			policyChains = append(policyChains, Chain{Name: name, Rules: r.egressRules(p)})
			egressJumps = append(egressJumps, fmt.Sprintf("-j %s%s -m comment --comment %s",
				name, matchSets(target, "src"), comment("EGRESS-POLICY-"+key+"-FROM-"+strings.Join(targetNames, "-AND-")+"-IN-ns-"+p.Namespace)))
		}
	}

	rs := &Ruleset{}
	var npm []string
	if len(c.Policies) > 0 {
		npm = []string{"-j " + chainIngress, "-j " + chainEgress, "-j " + chainAccept}
	}
	rs.Chains = append(rs.Chains,
		Chain{Name: chainNPM, Rules: npm},
		Chain{Name: chainIngress, Rules: append(ingressJumps,
			"-j DROP -m mark --mark "+markIngressDrop+" -m comment --comment DROP-ON-INGRESS-DROP-MARK-"+markIngressDrop)},
		Chain{Name: chainAllowMark, Rules: []string{
			"-j MARK --set-mark " + markIngressOK + " -m comment --comment SET-INGRESS-ALLOW-MARK-" + markIngressOK,
			"-j " + chainEgress,
		}},
		Chain{Name: chainEgress, Rules: append(egressJumps,
			"-j DROP -m mark --mark "+markEgressDrop+" -m comment --comment DROP-ON-EGRESS-DROP-MARK-"+markEgressDrop,
			"-j "+chainAccept+" -m mark --mark "+markIngressOK+" -m comment --comment ACCEPT-ON-INGRESS-ALLOW-MARK-"+markIngressOK)},
		Chain{Name: chainAccept, Rules: []string{"-j ACCEPT"}},
	)
	rs.Chains = append(rs.Chains, policyChains...)

	// Hash sets before the list sets that hold them.
	names := make([]string, 0, len(r.sets))
	for n := range r.sets {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := r.sets[names[i]], r.sets[names[j]]
		if (a.Type == setTypeList) != (b.Type == setTypeList) {
			return b.Type == setTypeList
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		s := r.sets[n]
		sort.Strings(s.Members)
		rs.Sets = append(rs.Sets, *s)
	}
	return rs
}

// set returns the set NPM calls prefixed, making it (empty) on first use.
func (r *renderer) set(prefixed, typ string) *Set {
	s, ok := r.sets[prefixed]
	if !ok {
		s = &Set{Name: setPrefix + hash(prefixed), Label: prefixed, Type: typ}
		if typ == setTypeNet {
			s.Options = "family inet maxelem 4294967295"
		}
		r.sets[prefixed] = s
	}
	return s
}

// podSets makes the sets NPM's pod and namespace controllers keep: each pod's IPv4 address in
// ns-<namespace>, podlabel-<key> and podlabel-<key>:<value>; its named ports in
// namedport:<name>; each namespace's set in nslabel-all-namespaces and in its labels' lists.
func (r *renderer) podSets() {
	all := r.set(allNamespaces, setTypeList)
	for _, ns := range r.c.Namespaces {
		nsSet := r.set("ns-"+ns.Name, setTypeNet)
		all.Members = append(all.Members, nsSet.Name)
		for k, v := range ns.Labels {
			for _, l := range []string{"nslabel-" + k, "nslabel-" + k + ":" + v} {
				s := r.set(l, setTypeList)
				s.Members = append(s.Members, nsSet.Name)
			}
		}
	}
	for _, p := range r.c.Pods {
		ip, ok := netpol.Addr(p.IPs, false)
		if !ok {
			continue // NPM knows IPv4 pods only
		}
		addr := ip.String()
		ns := r.set("ns-"+p.Namespace, setTypeNet)
		ns.Members = append(ns.Members, addr)
		for k, v := range p.Labels {
			for _, l := range []string{"podlabel-" + k, "podlabel-" + k + ":" + v} {
				s := r.set(l, setTypeNet)
				s.Members = append(s.Members, addr)
			}
		}
		for _, port := range p.Ports {
			s := r.set("namedport:"+port.Name, setTypeIPPort)
			s.Members = append(s.Members, fmt.Sprintf("%s,%s:%d", addr, strings.ToLower(string(port.Protocol)), port.Port))
		}
	}
}

// setMatch is one `-m set [!] --match-set` of a rule.
type setMatch struct {
	set *Set
	not bool
}

func matchSets(ms []setMatch, dir string) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(" -m set ")
		if m.not {
			b.WriteString("! ")
		}
		fmt.Fprintf(&b, "--match-set %s %s", m.set.Name, dir)
	}
	return b.String()
}

// names are the matches as NPM's comments spell them.
func names(ms []setMatch) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.set.Label
		if m.not {
			out[i] = "!" + out[i]
		}
	}
	return out
}

// podSelector is NPM's parsePodSelector for a selector of the policy (namespace/name) within
// namespace ns (all namespaces when ns is empty): the sets a pod must (not) be in, ns-<ns>
// last, and their names for comments.
func (r *renderer) podSelector(policy, ns string, sel *metav1.LabelSelector) ([]setMatch, []string) {
	var ms []setMatch
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ms = append(ms, setMatch{set: r.set("podlabel-"+k+":"+sel.MatchLabels[k], setTypeNet)})
	}
	for _, e := range sel.MatchExpressions {
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			if len(e.Values) == 1 {
				ms = append(ms, setMatch{set: r.set("podlabel-"+e.Key+":"+e.Values[0], setTypeNet)})
				continue
			}
			// Several values: a list of the values' sets (NPM's nested label set).
			nested := r.set("nestedlabel-"+policy+"-"+e.Key+":"+strings.Join(e.Values, ":"), setTypeList)
			nested.Members = nil
			for _, v := range e.Values {
				nested.Members = append(nested.Members, r.set("podlabel-"+e.Key+":"+v, setTypeNet).Name)
			}
			ms = append(ms, setMatch{set: nested})
		case metav1.LabelSelectorOpNotIn:
			for _, v := range e.Values {
				ms = append(ms, setMatch{set: r.set("podlabel-"+e.Key+":"+v, setTypeNet), not: true})
			}
		case metav1.LabelSelectorOpExists:
			ms = append(ms, setMatch{set: r.set("podlabel-"+e.Key, setTypeNet)})
		case metav1.LabelSelectorOpDoesNotExist:
			ms = append(ms, setMatch{set: r.set("podlabel-"+e.Key, setTypeNet), not: true})
		}
	}
	if ns != "" {
		ms = append(ms, setMatch{set: r.set("ns-"+ns, setTypeNet)})
	}
	n := names(ms)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 && ns == "" {
		n = []string{"all"}
	}
	return ms, n
}

// nsSelectors is NPM's parseNSSelector, flattened: each returned selection is one alternative
// (a namespace selector with an In of several values is several alternatives, OR-ed by
// separate rules, as flattenNameSpaceSelector does).
func (r *renderer) nsSelectors(sel *metav1.LabelSelector) [][]setMatch {
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		return [][]setMatch{{{set: r.set(allNamespaces, setTypeList)}}}
	}
	alts := [][]setMatch{nil}
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for i := range alts {
			alts[i] = append(alts[i], setMatch{set: r.set("nslabel-"+k+":"+sel.MatchLabels[k], setTypeList)})
		}
	}
	for _, e := range sel.MatchExpressions {
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			var next [][]setMatch
			for _, alt := range alts {
				for _, v := range e.Values {
					next = append(next, append(append([]setMatch{}, alt...), setMatch{set: r.set("nslabel-"+e.Key+":"+v, setTypeList)}))
				}
			}
			alts = next
		case metav1.LabelSelectorOpNotIn:
			for i := range alts {
				for _, v := range e.Values {
					alts[i] = append(alts[i], setMatch{set: r.set("nslabel-"+e.Key+":"+v, setTypeList), not: true})
				}
			}
		case metav1.LabelSelectorOpExists:
			for i := range alts {
				alts[i] = append(alts[i], setMatch{set: r.set("nslabel-"+e.Key, setTypeList)})
			}
		case metav1.LabelSelectorOpDoesNotExist:
			for i := range alts {
				alts[i] = append(alts[i], setMatch{set: r.set("nslabel-"+e.Key, setTypeList), not: true})
			}
		}
	}
	return alts
}

// peers are a rule's `from`/`to` as alternatives of set matches (each one rule), with the
// comment words of each; an empty list is "any peer".
func (r *renderer) peers(p *networkingv1.NetworkPolicy, rule int, peers []networkingv1.NetworkPolicyPeer, dir string) [][]setMatch {
	if len(peers) == 0 {
		return [][]setMatch{nil}
	}
	var out [][]setMatch
	for i, peer := range peers {
		switch {
		case peer.IPBlock != nil:
			out = append(out, []setMatch{{set: r.ipBlock(p, rule, i, dir, peer.IPBlock)}})
		case peer.NamespaceSelector == nil:
			ms, _ := r.podSelector(p.Namespace+"/"+p.Name, p.Namespace, peer.PodSelector)
			out = append(out, ms)
		default:
			var pods []setMatch
			if peer.PodSelector != nil {
				pods, _ = r.podSelector(p.Namespace+"/"+p.Name, "", peer.PodSelector)
			}
			for _, alt := range r.nsSelectors(peer.NamespaceSelector) {
				out = append(out, append(alt, pods...))
			}
		}
	}
	return out
}

// ipBlock is the set of an ipBlock peer, cidr-<policy>-in-ns-<ns>-<rule>-<peer><IN|OUT>: its
// CIDR (0.0.0.0/0 as its two halves, which ipset cannot hold whole) and its exceptions as
// nomatch entries. It holds pod and node addresses as well, as NPM's does.
func (r *renderer) ipBlock(p *networkingv1.NetworkPolicy, rule, peer int, dir string, b *networkingv1.IPBlock) *Set {
	s := r.set(fmt.Sprintf("cidr-%s-in-ns-%s-%d-%d%s", p.Name, p.Namespace, rule, peer, dir), setTypeNet)
	s.Members = nil
	cidrs := []string{b.CIDR}
	if b.CIDR == "0.0.0.0/0" {
		cidrs = []string{"0.0.0.0/1", "128.0.0.0/1"}
	}
	for _, c := range cidrs {
		if !containsString(b.Except, c) {
			s.Members = append(s.Members, c)
		}
	}
	for _, e := range b.Except {
		s.Members = append(s.Members, e+" nomatch")
	}
	return s
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *renderer) ingressRules(p *networkingv1.NetworkPolicy) []string {
	var out []string
	for i, rule := range p.Spec.Ingress {
		if len(rule.From) == 0 && len(rule.Ports) == 0 {
			return []string{"-j " + chainAllowMark + " -m comment --comment ALLOW-ALL"}
		}
		out = append(out, r.aclRules(r.peers(p, i, rule.From, "IN"), rule.Ports, "src", "-j "+chainAllowMark, "ALLOW-FROM-")...)
	}
	return append(out, "-j MARK --set-mark "+markIngressDrop+" -m comment --comment DROP-ALL")
}

func (r *renderer) egressRules(p *networkingv1.NetworkPolicy) []string {
	var out []string
	for i, rule := range p.Spec.Egress {
		if len(rule.To) == 0 && len(rule.Ports) == 0 {
			return []string{"-j " + chainAccept + " -m comment --comment ALLOW-ALL"}
		}
		out = append(out, r.aclRules(r.peers(p, i, rule.To, "OUT"), rule.Ports, "dst", "-j "+chainAccept, "ALLOW-TO-")...)
	}
	return append(out, "-j MARK --set-mark "+markEgressDrop+" -m comment --comment DROP-ALL")
}

// aclRules is one rule per (peer alternative, port): NPM's ACLs, in its spelling
// (`-j TARGET -p PROTO --dport P[:E] -m set ... -m comment --comment ...`).
func (r *renderer) aclRules(peers [][]setMatch, ports []networkingv1.NetworkPolicyPort, dir, target, verb string) []string {
	type port struct{ spec, words string }
	var ps []port
	for _, p := range ports {
		proto := strings.ToUpper(netpol.Protocol(p.Protocol))
		switch {
		case p.Port == nil:
			ps = append(ps, port{" -p " + proto, "-ON-" + proto})
		case p.Port.Type == intstr.String: // a named port
			s := r.set("namedport:"+p.Port.String(), setTypeIPPort)
			ps = append(ps, port{fmt.Sprintf(" -p %s -m set --match-set %s dst,dst", proto, s.Name), "-ON-" + proto + "-TO-" + s.Label})
		default:
			rng := fmt.Sprint(p.Port.IntValue())
			if p.EndPort != nil && *p.EndPort > int32(p.Port.IntValue()) {
				rng += fmt.Sprintf(":%d", *p.EndPort)
			}
			ps = append(ps, port{fmt.Sprintf(" -p %s --dport %s", proto, rng), "-ON-" + proto + "-TO-PORT-" + rng})
		}
	}
	if len(ps) == 0 {
		ps = []port{{}}
	}
	var out []string
	for _, peer := range peers {
		who := "ALL"
		if len(peer) > 0 {
			who = strings.Join(names(peer), "-AND-")
		}
		for _, p := range ps {
			words := verb + who
			if len(peer) == 0 {
				words = "ALLOW-ALL"
			}
			out = append(out, fmt.Sprintf("%s%s%s -m comment --comment %s", target, p.spec, matchSets(peer, dir), comment(words+p.words)))
		}
	}
	return out
}

// comment is an iptables comment argument: at most 256 characters, quoted when it has spaces.
func comment(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	if strings.ContainsAny(s, " \"") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
