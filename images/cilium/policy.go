package cilium

import (
	"sort"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/minaks/minaks/images/internal/netpol"
)

// The resources of Cilium's policies (cilium.io/v2).
const (
	Group       = "cilium.io"
	Version     = "v2"
	ResourceCNP = "ciliumnetworkpolicies"
	// ResourceCCNP is CiliumClusterwideNetworkPolicy's.
	ResourceCCNP = "ciliumclusterwidenetworkpolicies"
)

// Cilium's special labels of an endpoint, which selectors may use.
const (
	labelNamespace      = "io.kubernetes.pod.namespace"
	labelNamespaceLabel = "io.cilium.k8s.namespace.labels."
	labelServiceAccount = "io.cilium.k8s.policy.serviceaccount"
	labelCluster        = "io.cilium.k8s.policy.cluster"
	clusterName         = "default"
)

// Entities Cilium knows (api.Entity); those minaks has no endpoints of (health, init,
// ingress, unmanaged, none) select nothing.
var Entities = []string{"all", "world", "cluster", "host", "remote-node", "kube-apiserver", "health", "init", "ingress", "unmanaged", "none"}

// spec is a Cilium policy rule (api.Rule) as CiliumNetworkPolicy's spec and specs hold it,
// its L3/L4 part: what minaks enforces. FQDN and L7 rules are refused by the CRDs' validation.
type spec struct {
	EndpointSelector  *metav1.LabelSelector `json:"endpointSelector,omitempty"`
	NodeSelector      *metav1.LabelSelector `json:"nodeSelector,omitempty"`
	Ingress           []peerRule            `json:"ingress,omitempty"`
	IngressDeny       []peerRule            `json:"ingressDeny,omitempty"`
	Egress            []egressRule          `json:"egress,omitempty"`
	EgressDeny        []egressRule          `json:"egressDeny,omitempty"`
	EnableDefaultDeny *struct {
		Ingress *bool `json:"ingress,omitempty"`
		Egress  *bool `json:"egress,omitempty"`
	} `json:"enableDefaultDeny,omitempty"`
}

// peerRule is an ingress rule (fromX), and with egressRule's names an egress rule.
type peerRule struct {
	Endpoints []metav1.LabelSelector `json:"fromEndpoints,omitempty"`
	CIDR      []string               `json:"fromCIDR,omitempty"`
	CIDRSet   []cidrRule             `json:"fromCIDRSet,omitempty"`
	Entities  []string               `json:"fromEntities,omitempty"`
	ToPorts   []portRule             `json:"toPorts,omitempty"`
	ICMPs     []icmpRule             `json:"icmps,omitempty"`
}

type egressRule struct {
	Endpoints []metav1.LabelSelector `json:"toEndpoints,omitempty"`
	CIDR      []string               `json:"toCIDR,omitempty"`
	CIDRSet   []cidrRule             `json:"toCIDRSet,omitempty"`
	Entities  []string               `json:"toEntities,omitempty"`
	ToPorts   []portRule             `json:"toPorts,omitempty"`
	ICMPs     []icmpRule             `json:"icmps,omitempty"`
}

func (e egressRule) peerRule() peerRule { return peerRule(e) }

type cidrRule struct {
	CIDR   string   `json:"cidr"`
	Except []string `json:"except,omitempty"`
}

type portRule struct {
	Ports []struct {
		Port     string `json:"port,omitempty"`
		EndPort  int32  `json:"endPort,omitempty"`
		Protocol string `json:"protocol,omitempty"`
	} `json:"ports,omitempty"`
}

type icmpRule struct {
	Fields []struct {
		Type   intstr.IntOrString `json:"type"`
		Family string             `json:"family,omitempty"`
	} `json:"fields,omitempty"`
}

// rule is one policy rule as the engine enforces it: whom it selects and, per direction,
// whether it isolates them and what it allows and denies.
type rule struct {
	// origin names the policy ("knp <ns>/<name>", "cnp <ns>/<name>", "ccnp <name>").
	origin  string
	subject func(p *netpol.Pod) bool
	in, out direction
}

type direction struct {
	isolates    bool
	allow, deny []l4Rule
}

// l4Rule lets (or denies) peers reach ports; nil peers mean any peer, nil ports any port.
type l4Rule struct {
	peers []peer
	ports []port
}

// peer is one of: endpoints (pods, with label naming their selection), CIDRs (which never
// hold the cluster's own addresses), or an entity.
type peer struct {
	label         string
	pods          []*netpol.Pod
	cidrs, except []string
	entity        string
}

// noICMPType is the type of an ICMP port that matches nothing.
const noICMPType = "none"

// port is a protocol (tcp, udp, sctp, icmp) and a port, a range, a name or, for ICMP, a type.
type port struct {
	proto     string
	port, end int32
	name      string
	icmpType  string
}

// ICMPTypes are the names Cilium gives ICMP types (api.ICMPField's type), by family.
var ICMPTypes = map[string]map[string]int{
	"IPv4": {
		"EchoReply": 0, "DestinationUnreachable": 3, "Redirect": 5, "Echo": 8, "EchoRequest": 8,
		"RouterAdvertisement": 9, "RouterSelection": 10, "TimeExceeded": 11, "ParameterProblem": 12,
		"Timestamp": 13, "TimestampReply": 14, "Photuris": 40, "ExtendedEchoRequest": 42,
		"ExtendedEchoReply": 43,
	},
	"IPv6": {
		"DestinationUnreachable": 1, "PacketTooBig": 2, "TimeExceeded": 3, "ParameterProblem": 4,
		"EchoRequest": 128, "EchoReply": 129, "MulticastListenerQuery": 130,
		"MulticastListenerReport": 131, "MulticastListenerDone": 132, "RouterSolicitation": 133,
		"RouterAdvertisement": 134, "NeighborSolicitation": 135, "NeighborAdvertisement": 136,
		"RedirectMessage": 137, "RouterRenumbering": 138, "ICMPNodeInformationQuery": 139,
		"ICMPNodeInformationResponse": 140, "InverseNeighborDiscoverySolicitation": 141,
		"InverseNeighborDiscoveryAdvertisement": 142, "HomeAgentAddressDiscoveryRequest": 144,
		"HomeAgentAddressDiscoveryReply": 145, "MobilePrefixSolicitation": 146,
		"MobilePrefixAdvertisement": 147, "DuplicateAddressRequestCodeSixtySix": 157,
		"DuplicateAddressConfirmationCodeSixtySix": 158, "ExtendedEchoRequest": 160,
		"ExtendedEchoReply": 161,
	},
}

// icmpPort is the port of an ICMP field: ICMPv6 for family IPv6, ICMP otherwise, and the type
// by number (a number, or a name the CRD's schema admits). A name of the other family's
// types matches nothing, as Cilium imports no rule for it.
func icmpPort(family string, typ intstr.IntOrString) port {
	p := port{proto: "icmp"}
	if family == "IPv6" {
		p.proto = "ipv6-icmp"
	} else {
		family = "IPv4"
	}
	n, err := strconv.Atoi(typ.String())
	if err != nil {
		var ok bool
		if n, ok = ICMPTypes[family][typ.StrVal]; !ok {
			p.icmpType = noICMPType
			return p
		}
	}
	p.icmpType = strconv.Itoa(n)
	return p
}

// policy is the set of rules of the cluster's NetworkPolicies, CiliumNetworkPolicies and
// CiliumClusterwideNetworkPolicies, in that order and each by namespace and name.
func policy(c *netpol.Cluster) []rule {
	var rules []rule
	for _, p := range c.Policies {
		rules = append(rules, fromNetworkPolicy(c, p))
	}
	for _, resource := range []string{ResourceCNP, ResourceCCNP} {
		objs := c.Custom[resource]
		sort.Slice(objs, func(i, j int) bool {
			return objs[i].GetNamespace()+"/"+objs[i].GetName() < objs[j].GetNamespace()+"/"+objs[j].GetName()
		})
		for _, o := range objs {
			rules = append(rules, fromCilium(c, o)...)
		}
	}
	return rules
}

// fromNetworkPolicy is a NetworkPolicy as Cilium reads it: its peers select pods (never
// nodes); an ipBlock holds what is outside the cluster.
func fromNetworkPolicy(c *netpol.Cluster, p *networkingv1.NetworkPolicy) rule {
	sel := netpol.Selector(&p.Spec.PodSelector)
	r := rule{
		origin:  "knp " + p.Namespace + "/" + p.Name,
		subject: func(pod *netpol.Pod) bool { return pod.Namespace == p.Namespace && sel.Matches(labels.Set(pod.Labels)) },
	}
	r.in.isolates, r.out.isolates = netpol.PolicyTypes(p)
	convert := func(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) l4Rule {
		var l4 l4Rule
		for _, pr := range peers {
			if b := pr.IPBlock; b != nil {
				l4.peers = append(l4.peers, peer{cidrs: []string{b.CIDR}, except: b.Except})
				continue
			}
			label := "knp " + p.Namespace + " pods " + formatSelector(pr.PodSelector) + " namespaces " + formatSelector(pr.NamespaceSelector)
			l4.peers = append(l4.peers, peer{label: label, pods: c.PeerPods(p.Namespace, pr)})
		}
		for _, pt := range ports {
			proto := netpol.Protocol(pt.Protocol)
			switch {
			case pt.Port == nil:
				l4.ports = append(l4.ports, port{proto: proto})
			case pt.Port.Type == intstr.String:
				l4.ports = append(l4.ports, port{proto: proto, name: pt.Port.StrVal})
			default:
				l4.ports = append(l4.ports, port{proto: proto, port: pt.Port.IntVal, end: ptrValue(pt.EndPort)})
			}
		}
		return l4
	}
	for _, in := range p.Spec.Ingress {
		r.in.allow = append(r.in.allow, convert(in.From, in.Ports))
	}
	for _, out := range p.Spec.Egress {
		r.out.allow = append(r.out.allow, convert(out.To, out.Ports))
	}
	return r
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func formatSelector(s *metav1.LabelSelector) string {
	if s == nil {
		return "<none>"
	}
	return "{" + metav1.FormatLabelSelector(s) + "}"
}

// fromCilium reads a CiliumNetworkPolicy (namespace set) or CiliumClusterwideNetworkPolicy:
// each of spec and specs is a rule. Rules of the host (nodeSelector) are left out, as Cilium
// leaves them without its host firewall, which AKS does not enable.
func fromCilium(c *netpol.Cluster, o *unstructured.Unstructured) []rule {
	ns := o.GetNamespace()
	origin := "ccnp " + o.GetName()
	if ns != "" {
		origin = "cnp " + ns + "/" + o.GetName()
	}
	var specs []spec
	if raw, ok := o.Object["spec"].(map[string]any); ok {
		var s spec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &s); err == nil {
			specs = append(specs, s)
		}
	}
	if raw, ok := o.Object["specs"].([]any); ok {
		for _, item := range raw {
			var s spec
			if m, ok := item.(map[string]any); ok && runtime.DefaultUnstructuredConverter.FromUnstructured(m, &s) == nil {
				specs = append(specs, s)
			}
		}
	}
	var out []rule
	for _, s := range specs {
		if s.EndpointSelector == nil {
			continue
		}
		sel := endpointSelector(*s.EndpointSelector, ns)
		r := rule{origin: origin, subject: func(p *netpol.Pod) bool { return sel(c, p) }}
		r.in.isolates = (s.Ingress != nil || s.IngressDeny != nil) && (s.EnableDefaultDeny == nil || s.EnableDefaultDeny.Ingress == nil || *s.EnableDefaultDeny.Ingress)
		r.out.isolates = (s.Egress != nil || s.EgressDeny != nil) && (s.EnableDefaultDeny == nil || s.EnableDefaultDeny.Egress == nil || *s.EnableDefaultDeny.Egress)
		for _, pr := range s.Ingress {
			r.in.allow = append(r.in.allow, ciliumL4(c, ns, origin, pr))
		}
		for _, pr := range s.IngressDeny {
			r.in.deny = append(r.in.deny, ciliumL4(c, ns, origin, pr))
		}
		for _, er := range s.Egress {
			r.out.allow = append(r.out.allow, ciliumL4(c, ns, origin, er.peerRule()))
		}
		for _, er := range s.EgressDeny {
			r.out.deny = append(r.out.deny, ciliumL4(c, ns, origin, er.peerRule()))
		}
		out = append(out, r)
	}
	return out
}

// ciliumL4 is one rule of a Cilium policy. A rule with neither peers nor ports selects
// nothing (`ingress: [{}]` is Cilium's default deny); with ports only, any peer.
func ciliumL4(c *netpol.Cluster, ns, origin string, pr peerRule) l4Rule {
	var l4 l4Rule
	for _, s := range pr.Endpoints {
		if entity, ok := reservedEntity(s); ok {
			l4.peers = append(l4.peers, peer{entity: entity})
			continue
		}
		sel := endpointSelector(s, ns)
		var pods []*netpol.Pod
		for _, p := range c.Pods {
			if sel(c, p) {
				pods = append(pods, p)
			}
		}
		l4.peers = append(l4.peers, peer{label: "cilium " + ns + " endpoints " + formatSelector(&s), pods: pods})
	}
	for _, cidr := range pr.CIDR {
		l4.peers = append(l4.peers, peer{cidrs: []string{cidr}})
	}
	for _, set := range pr.CIDRSet {
		l4.peers = append(l4.peers, peer{cidrs: []string{set.CIDR}, except: set.Except})
	}
	for _, e := range pr.Entities {
		l4.peers = append(l4.peers, peer{entity: e})
	}
	for _, tp := range pr.ToPorts {
		for _, p := range tp.Ports {
			protos := []string{strings.ToLower(p.Protocol)}
			if p.Protocol == "" || p.Protocol == "ANY" {
				protos = []string{"tcp", "udp", "sctp"}
			}
			for _, proto := range protos {
				pt := port{proto: proto}
				switch n, err := strconv.Atoi(p.Port); {
				case p.Port == "" || (err == nil && n == 0): // any port
				case err != nil:
					pt.name = p.Port
				default:
					pt.port, pt.end = int32(n), p.EndPort
				}
				l4.ports = append(l4.ports, pt)
			}
		}
	}
	for _, icmp := range pr.ICMPs {
		for _, f := range icmp.Fields {
			l4.ports = append(l4.ports, icmpPort(f.Family, f.Type))
		}
	}
	if len(l4.peers) == 0 && len(l4.ports) == 0 {
		l4.peers = []peer{{entity: "none"}}
	}
	return l4
}

// reservedEntity reads a selector of reserved labels ("reserved:host": "") as the entity it
// selects.
func reservedEntity(s metav1.LabelSelector) (string, bool) {
	for k := range s.MatchLabels {
		if e, ok := strings.CutPrefix(k, "reserved:"); ok {
			return e, true
		}
	}
	return "", false
}

// endpointSelector is a Cilium endpoint selector of a policy in namespace ns ("" for a
// clusterwide one): label keys may carry a source ("k8s:", "any:"); a namespaced policy's
// selector is confined to its namespace unless it names one itself.
func endpointSelector(s metav1.LabelSelector, ns string) func(*netpol.Cluster, *netpol.Pod) bool {
	norm := metav1.LabelSelector{MatchLabels: map[string]string{}}
	hasNS := false
	key := func(k string) string {
		for _, src := range []string{"k8s:", "any:"} {
			k = strings.TrimPrefix(k, src)
		}
		if k == labelNamespace {
			hasNS = true
		}
		return k
	}
	for k, v := range s.MatchLabels {
		norm.MatchLabels[key(k)] = v
	}
	for _, e := range s.MatchExpressions {
		e.Key = key(e.Key)
		norm.MatchExpressions = append(norm.MatchExpressions, e)
	}
	if ns != "" && !hasNS {
		norm.MatchLabels[labelNamespace] = ns
	}
	sel, err := metav1.LabelSelectorAsSelector(&norm)
	if err != nil {
		sel = labels.Nothing()
	}
	return func(c *netpol.Cluster, p *netpol.Pod) bool { return sel.Matches(endpointLabels(c, p)) }
}

// endpointLabels are a pod's labels as Cilium's identity has them.
func endpointLabels(c *netpol.Cluster, p *netpol.Pod) labels.Set {
	set := labels.Set{labelNamespace: p.Namespace, labelCluster: clusterName, labelServiceAccount: p.ServiceAccount}
	for k, v := range p.Labels {
		set[k] = v
	}
	for _, n := range c.Namespaces {
		if n.Name == p.Namespace {
			for k, v := range n.Labels {
				set[labelNamespaceLabel+k] = v
			}
		}
	}
	return set
}
