// Package netpol holds what the built-in network policy engines (azure-npm, Calico's Felix and
// Cilium's agent) share: the cluster as a policy engine sees it — pods with their
// IPs, labels and named ports, namespaces with their labels, NetworkPolicies — taken from
// client-go informers, and the selection rules of the NetworkPolicy API.
package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Pod is a pod as policy sees it: one with an address of its own (not hostNetwork) that is
// not finished.
type Pod struct {
	UID             types.UID
	Namespace, Name string
	Node            string
	IPs             []netip.Addr
	Labels          map[string]string
	ServiceAccount  string
	// Ports are its containers' named ports.
	Ports []NamedPort
}

// NamedPort is a container port with a name.
type NamedPort struct {
	Name     string
	Protocol v1.Protocol
	Port     int32
}

// Namespace is a namespace's name and labels.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Node is a node's name and addresses (its InternalIPs).
type Node struct {
	Name string
	IPs  []netip.Addr
}

// Cluster is the engine's input: every policy-relevant pod, namespace and NetworkPolicy, in
// a deterministic order (by namespace and name), the nodes (by name), and the objects of the
// engine's own resources (Agent.Custom), by resource.
type Cluster struct {
	Pods       []*Pod
	Namespaces []*Namespace
	Policies   []*networkingv1.NetworkPolicy
	Nodes      []*Node
	Custom     map[string][]*unstructured.Unstructured
}

// FromObjects makes a Cluster of the informers' objects. Pods that run in the node's network
// (hostNetwork), have no IP yet, or have finished are left out, as every engine leaves them.
// announced are addresses of pods that are about to start (package pkg/nodes/endpoint), by
// UID, which count as the pods' own until their status has them.
func FromObjects(pods []*v1.Pod, namespaces []*v1.Namespace, policies []*networkingv1.NetworkPolicy, announced map[types.UID][]netip.Addr) *Cluster {
	c := &Cluster{}
	for _, p := range pods {
		if p.Spec.HostNetwork || p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
			continue
		}
		pod := &Pod{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, Labels: p.Labels, ServiceAccount: p.Spec.ServiceAccountName}
		for _, ip := range p.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				pod.IPs = append(pod.IPs, a)
			}
		}
		if len(pod.IPs) == 0 {
			pod.IPs = announced[p.UID]
		}
		if len(pod.IPs) == 0 {
			continue
		}
		for _, ctr := range p.Spec.Containers {
			for _, port := range ctr.Ports {
				if port.Name != "" {
					proto := port.Protocol
					if proto == "" {
						proto = v1.ProtocolTCP
					}
					pod.Ports = append(pod.Ports, NamedPort{Name: port.Name, Protocol: proto, Port: port.ContainerPort})
				}
			}
		}
		c.Pods = append(c.Pods, pod)
	}
	for _, ns := range namespaces {
		c.Namespaces = append(c.Namespaces, &Namespace{Name: ns.Name, Labels: ns.Labels})
	}
	c.Policies = slices.Clone(policies)
	sort.Slice(c.Pods, func(i, j int) bool {
		return key(c.Pods[i].Namespace, c.Pods[i].Name) < key(c.Pods[j].Namespace, c.Pods[j].Name)
	})
	sort.Slice(c.Namespaces, func(i, j int) bool { return c.Namespaces[i].Name < c.Namespaces[j].Name })
	sort.Slice(c.Policies, func(i, j int) bool {
		return key(c.Policies[i].Namespace, c.Policies[i].Name) < key(c.Policies[j].Namespace, c.Policies[j].Name)
	})
	return c
}

func key(ns, name string) string { return ns + "/" + name }

// NodesOf are the nodes with their InternalIPs, by name.
func NodesOf(nodes []*v1.Node) []*Node {
	var out []*Node
	for _, n := range nodes {
		node := &Node{Name: n.Name}
		for _, a := range n.Status.Addresses {
			if ip, err := netip.ParseAddr(a.Address); err == nil && a.Type == v1.NodeInternalIP {
				node.IPs = append(node.IPs, ip)
			}
		}
		out = append(out, node)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Has reports whether the cluster holds the pod uid with all of ips.
func (c *Cluster) Has(uid types.UID, ips []netip.Addr) bool {
	for _, p := range c.Pods {
		if p.UID == uid {
			for _, ip := range ips {
				if !slices.Contains(p.IPs, ip) {
					return false
				}
			}
			return true
		}
	}
	return false
}

// Selector converts a LabelSelector; a nil selector selects nothing, an empty one everything,
// as the NetworkPolicy API reads them.
func Selector(s *metav1.LabelSelector) labels.Selector {
	if s == nil {
		return labels.Nothing()
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return labels.Nothing() // the API server validated it; never reached
	}
	return sel
}

// PodsIn returns the pods of namespace ns that sel selects.
func (c *Cluster) PodsIn(ns string, sel labels.Selector) []*Pod {
	var out []*Pod
	for _, p := range c.Pods {
		if p.Namespace == ns && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// NamespacesSelected returns the namespaces sel selects.
func (c *Cluster) NamespacesSelected(sel labels.Selector) []*Namespace {
	var out []*Namespace
	for _, ns := range c.Namespaces {
		if sel.Matches(labels.Set(ns.Labels)) {
			out = append(out, ns)
		}
	}
	return out
}

// PeerPods returns the pods a NetworkPolicyPeer of a policy in namespace ns selects (none for
// an ipBlock peer).
func (c *Cluster) PeerPods(ns string, peer networkingv1.NetworkPolicyPeer) []*Pod {
	switch {
	case peer.IPBlock != nil:
		return nil
	case peer.NamespaceSelector == nil:
		return c.PodsIn(ns, Selector(peer.PodSelector))
	}
	podSel := labels.Everything()
	if peer.PodSelector != nil {
		podSel = Selector(peer.PodSelector)
	}
	var out []*Pod
	for _, n := range c.NamespacesSelected(Selector(peer.NamespaceSelector)) {
		out = append(out, c.PodsIn(n.Name, podSel)...)
	}
	return out
}

// PolicyTypes are the directions a policy applies to, with the API's defaulting: Ingress
// always, Egress when it has egress rules.
func PolicyTypes(p *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(p.Spec.PolicyTypes) == 0 {
		return true, len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

// Protocol is a port's protocol, TCP when unset, in iptables's spelling.
func Protocol(p *v1.Protocol) string {
	if p == nil || *p == "" {
		return "tcp"
	}
	return strings.ToLower(string(*p))
}

// Addr returns the first IPv4 or (v6) IPv6 address of ips.
func Addr(ips []netip.Addr, v6 bool) (netip.Addr, bool) {
	for _, ip := range ips {
		if ip.IsValid() && ip.Is6() == v6 {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// Nets reads cidrs for a set of IPv4 or IPv6 (v6) nets: those of the family, masked and
// sorted, and the set's members (a /0 as its two halves: ipset cannot hold a /0). ok is false
// when none of cidrs is of the family, so that they match nothing in it.
func Nets(cidrs []string, v6 bool) (nets, members []string, ok bool) {
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is6() == v6 {
			nets = append(nets, p.Masked().String())
		}
	}
	if len(nets) == 0 && len(cidrs) > 0 {
		return nil, nil, false
	}
	sort.Strings(nets)
	for _, c := range nets {
		switch c {
		case "0.0.0.0/0":
			members = append(members, "0.0.0.0/1", "128.0.0.0/1")
		case "::/0":
			members = append(members, "::/1", "8000::/1")
		default:
			members = append(members, c)
		}
	}
	return nets, members, true
}

// NamedPortMembers are the hash:ip,port set members ("10.0.0.1,tcp:8080") of the pods'
// ports named name with protocol proto (iptables's spelling), at their IPv4 or (v6) IPv6
// addresses.
func (c *Cluster) NamedPortMembers(name, proto string, v6 bool) []string {
	var out []string
	for _, pod := range c.Pods {
		ip, ok := Addr(pod.IPs, v6)
		if !ok {
			continue
		}
		for _, np := range pod.Ports {
			if np.Name == name && strings.EqualFold(string(np.Protocol), proto) {
				out = append(out, fmt.Sprintf("%s,%s:%d", ip, proto, np.Port))
			}
		}
	}
	return out
}
