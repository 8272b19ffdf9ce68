package cilium

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/minaks/minaks/images/internal/netpol"
	"github.com/minaks/minaks/pkg/netstack"
)

func pod(ns, name, node, ip string, labels map[string]string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Labels: labels},
		Spec:       v1.PodSpec{NodeName: node, ServiceAccountName: "default", Containers: []v1.Container{{Name: "c"}}},
		Status:     v1.PodStatus{Phase: v1.PodRunning, PodIPs: []v1.PodIP{{IP: ip}}},
	}
}

func veth(name string) string { return netstack.PodNIC{UID: "uid-" + name}.HostVeth() }

// cluster is two namespaces (a, b) with a server and a client in a on node-0, a client in b
// on node-1, and the policies given as YAML (NetworkPolicies, CiliumNetworkPolicies,
// CiliumClusterwideNetworkPolicies).
func cluster(t *testing.T, docs ...string) *netpol.Cluster {
	t.Helper()
	pods := []*v1.Pod{
		pod("a", "server", "node-0", "10.244.0.10", map[string]string{"app": "server"}),
		pod("a", "client", "node-0", "10.244.0.11", map[string]string{"role": "client"}),
		pod("b", "client-b", "node-1", "10.244.1.10", map[string]string{"role": "client"}),
	}
	nss := []*v1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"team": "a"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b", Labels: map[string]string{"team": "b"}}},
	}
	var nps []*networkingv1.NetworkPolicy
	custom := map[string][]*unstructured.Unstructured{}
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		switch u.GetKind() {
		case "NetworkPolicy":
			np := &networkingv1.NetworkPolicy{}
			if err := yaml.UnmarshalStrict([]byte(d), np); err != nil {
				t.Fatal(err)
			}
			nps = append(nps, np)
		case "CiliumNetworkPolicy":
			custom[ResourceCNP] = append(custom[ResourceCNP], u)
		case "CiliumClusterwideNetworkPolicy":
			custom[ResourceCCNP] = append(custom[ResourceCCNP], u)
		default:
			t.Fatalf("kind %q", u.GetKind())
		}
	}
	c := netpol.FromObjects(pods, nss, nps, nil)
	c.Nodes = []*netpol.Node{
		{Name: "node-0", IPs: []netip.Addr{netip.MustParseAddr("10.224.0.4")}},
		{Name: "node-1", IPs: []netip.Addr{netip.MustParseAddr("10.224.0.5")}},
	}
	c.Custom = custom
	return c
}

var apiServer = netip.MustParseAddr("10.224.0.2")

func chain(rs *netpol.Ruleset, name string) []string {
	for _, c := range rs.Chains {
		if c.Name == name {
			return c.Rules
		}
	}
	return nil
}

// chainsWith are the rules of the chains whose name starts with prefix.
func chainsWith(rs *netpol.Ruleset, prefix string) []string {
	var out []string
	for _, c := range rs.Chains {
		if strings.HasPrefix(c.Name, prefix) {
			out = append(out, c.Rules...)
		}
	}
	return out
}

func set(rs *netpol.Ruleset, name string) *netpol.Set {
	for i := range rs.Sets {
		if rs.Sets[i].Name == name {
			return &rs.Sets[i]
		}
	}
	return nil
}

// cidrSets are the members of rs's CIDR sets, each set's joined by commas, sorted.
func cidrSets(rs *netpol.Ruleset) []string {
	var nets []string
	for _, s := range rs.Sets {
		if strings.HasPrefix(s.Name, "cilium_cidr_") {
			nets = append(nets, strings.Join(s.Members, ","))
		}
	}
	slices.Sort(nets)
	return nets
}

func TestRenderDispatchAndSets(t *testing.T) {
	rs := Render(cluster(t, `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny, namespace: a}
spec: {podSelector: {}}
`), "node-0", apiServer, false)
	if got := chain(rs, chainForward); !slices.Equal(got, []string{"-i azv+ -j CILIUM_EGRESS", "-o azv+ -j CILIUM_INGRESS"}) {
		t.Errorf("CILIUM_FORWARD = %q", got)
	}
	if got := chain(rs, chainInput); !slices.Equal(got, []string{"-i azv+ -j CILIUM_EGRESS"}) {
		t.Errorf("CILIUM_INPUT = %q: a pod's traffic to its node is egress", got)
	}
	// Replies pass; a connection's initiator is checked on every packet.
	ingress := chain(rs, chainIngress)
	if len(ingress) != 4 || !strings.Contains(ingress[0], "--ctdir REPLY") || !slices.Contains(ingress, "-o "+veth("server")+" -g CILIUM_IN_"+veth("server")) {
		t.Errorf("CILIUM_INGRESS = %q", ingress)
	}
	for _, c := range rs.Chains {
		if strings.HasPrefix(c.Name, "CILIUM_IN_") && slices.ContainsFunc(c.Rules, func(r string) bool { return strings.Contains(r, "ESTABLISHED") }) {
			t.Errorf("%s accepts established connections: %q", c.Name, c.Rules)
		}
	}
	// Policy isolates without allowing: the endpoint's chain drops.
	if got := chain(rs, "CILIUM_IN_"+veth("server")); !slices.Equal(got, []string{clearAllow, `-m comment --comment "Policy denied" -j DROP`}) {
		t.Errorf("server's ingress = %q", got)
	}
	// Only local endpoints get chains; nothing isolates egress.
	if chain(rs, "CILIUM_IN_"+veth("client-b")) != nil || chainsWith(rs, "CILIUM_OUT_") != nil {
		t.Errorf("chains: %v", rs.Chains)
	}
	if s := set(rs, ipv4.set("node_set")); s == nil || !slices.Equal(s.Members, []string{"10.224.0.4", "10.224.0.5"}) {
		t.Errorf("%s = %+v", ipv4.set("node_set"), s)
	}
	if s := set(rs, ipv4.set("cluster")); s == nil || s.Type != netpol.SetTypeList || rs.Sets[len(rs.Sets)-1].Name != ipv4.set("cluster") {
		t.Errorf("%s must be the last set, a list of the endpoints and nodes: %+v", ipv4.set("cluster"), rs.Sets)
	}
}

func TestRenderIPBlockHoldsTheWorldOnly(t *testing.T) {
	rs := Render(cluster(t, `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: ipblock, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [192.0.2.0/24]}}]
    ports: [{port: 8000, endPort: 8100}]
`), "node-0", apiServer, false)
	rules := chainsWith(rs, "CILIUM_PI_")
	if len(rules) != 1 {
		t.Fatalf("policy rules: %q", rules)
	}
	r := rules[0]
	for _, want := range []string{"-p tcp -m multiport --dports 8000:8100", "-m set ! --match-set " + ipv4.set("cluster") + " src", setAllow} {
		if !strings.Contains(r, want) {
			t.Errorf("rule %q lacks %q", r, want)
		}
	}
	if nets := cidrSets(rs); !slices.Equal(nets, []string{"0.0.0.0/1,128.0.0.0/1", "192.0.2.0/24"}) {
		t.Errorf("CIDR sets: %q", nets)
	}
}

func TestRenderCiliumPolicies(t *testing.T) {
	rs := Render(cluster(t, `
kind: CiliumNetworkPolicy
apiVersion: cilium.io/v2
metadata: {name: server, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
  egress:
  - toEntities: [host, kube-apiserver, health]
`, `
kind: CiliumClusterwideNetworkPolicy
apiVersion: cilium.io/v2
metadata: {name: deny-b}
spec:
  endpointSelector: {}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b}}]
`, `
kind: CiliumNetworkPolicy
apiVersion: cilium.io/v2
metadata: {name: default-deny, namespace: a}
spec:
  endpointSelector: {matchLabels: {role: client}}
  egress: [{}]
`), "node-0", apiServer, false)

	// The CNP's fromEndpoints {} is its namespace's endpoints: server and client, not b's.
	in := chainsWith(rs, "CILIUM_PI_")
	if len(in) != 1 || !strings.Contains(in[0], "-p tcp -m multiport --dports 8080 -m set --match-set cilium_sel_") {
		t.Fatalf("ingress allow: %q", in)
	}
	sel := strings.Fields(in[0][strings.Index(in[0], "cilium_sel_"):])[0]
	if s := set(rs, sel); s == nil || !slices.Equal(s.Members, []string{"10.244.0.10", "10.244.0.11"}) {
		t.Errorf("fromEndpoints {} of a CiliumNetworkPolicy in a: %+v", s)
	}
	// The entities: the node by address type, the API server by address; health has no
	// endpoint here.
	out := chainsWith(rs, "CILIUM_PE_")
	want := []string{
		`-m addrtype --dst-type LOCAL -m comment --comment "cnp a/server" ` + setAllow,
		`-d 10.224.0.2/32 -m comment --comment "cnp a/server" ` + setAllow,
	}
	if !slices.Equal(out, want) {
		t.Errorf("egress allow = %q, want %q", out, want)
	}
	// The clusterwide deny holds for both of node-0's endpoints and comes before allows.
	server := chain(rs, "CILIUM_IN_"+veth("server"))
	if len(server) != 5 || !strings.HasPrefix(server[1], "-j CILIUM_PDI_") || !strings.HasPrefix(server[2], "-j CILIUM_PI_") {
		t.Errorf("server's ingress = %q", server)
	}
	deny := chainsWith(rs, "CILIUM_PDI_")
	if len(deny) != 1 || !strings.HasSuffix(deny[0], "-j DROP") || !strings.Contains(deny[0], `"ccnp deny-b"`) {
		t.Errorf("deny = %q", deny)
	}
	// egress: [{}] is Cilium's default deny: the client's egress chain allows nothing.
	if got := chain(rs, "CILIUM_OUT_"+veth("client")); !slices.Equal(got, []string{clearAllow, `-m comment --comment "Policy denied" -j DROP`}) {
		t.Errorf("client's egress = %q", got)
	}
}

// dualStack gives c's pods and nodes IPv6 addresses too: fd00::<last byte of the IPv4 one>.
func dualStack(c *netpol.Cluster) *netpol.Cluster {
	v6 := func(ips []netip.Addr) []netip.Addr {
		return append(ips, netip.MustParseAddr(fmt.Sprintf("fd00::%d", ips[0].As4()[3])))
	}
	for _, p := range c.Pods {
		p.IPs = v6(p.IPs)
	}
	for _, n := range c.Nodes {
		n.IPs = v6(n.IPs)
	}
	return c
}

func TestRenderIPv6(t *testing.T) {
	c := dualStack(cluster(t, `
kind: CiliumNetworkPolicy
apiVersion: cilium.io/v2
metadata: {name: server, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromCIDRSet: [{cidr: 0.0.0.0/0}, {cidr: "::/0", except: ["2001:db8::/32"]}]
  - fromEndpoints: [{matchLabels: {role: client}}]
    icmps: [{fields: [{type: EchoRequest, family: IPv6}, {type: 8}, {type: PacketTooBig}]}]
  egress:
  - toEntities: [kube-apiserver, remote-node]
`))
	v4, v6 := Render(c, "node-0", apiServer, false), Render(c, "node-0", apiServer, true)

	// Each family's sets, with its own members.
	if s := set(v6, "cilium_node_set_v6"); s == nil || !slices.Equal(s.Members, []string{"fd00::4", "fd00::5"}) || s.Options != "family inet6" {
		t.Errorf("cilium_node_set_v6 = %+v", s)
	}
	for _, s := range v6.Sets {
		if !strings.HasSuffix(s.Name, "_v6") || len(s.Name) > maxSetName {
			t.Errorf("IPv6 set %q", s.Name)
		}
	}
	if nets := cidrSets(v6); !slices.Equal(nets, []string{"2001:db8::/32", "8000::/1,::/1"}) {
		t.Errorf("IPv6 CIDR sets: %q", nets)
	}
	// ICMP: each family its own type; echo request is 128 in ICMPv6.
	in6, in4 := strings.Join(chainsWith(v6, "CILIUM_PI_"), "\n"), strings.Join(chainsWith(v4, "CILIUM_PI_"), "\n")
	if !strings.Contains(in6, "-p ipv6-icmp -m icmp6 --icmpv6-type 128") || strings.Contains(in6, "--icmp-type") {
		t.Errorf("IPv6 ingress allow: %s", in6)
	}
	// PacketTooBig is ICMPv6's only: in IPv4 it matches nothing.
	if !strings.Contains(in4, "-p icmp -m icmp --icmp-type 8") || strings.Contains(in4, "icmp6") || strings.Count(in4, "--icmp-type") != 1 {
		t.Errorf("IPv4 ingress allow: %s", in4)
	}
	// The API server has an IPv4 address only: in IPv6 the entity selects nothing.
	if out6 := strings.Join(chainsWith(v6, "CILIUM_PE_"), "\n"); strings.Contains(out6, "10.224.0.2") || !strings.Contains(out6, "cilium_node_set_v6") {
		t.Errorf("IPv6 egress allow: %s", out6)
	}
	// Neighbour discovery passes before any endpoint's chain.
	egress := chain(v6, chainEgress)
	if !slices.ContainsFunc(egress, func(r string) bool { return strings.Contains(r, "neighbour-solicitation") }) {
		t.Errorf("IPv6 CILIUM_EGRESS = %q", egress)
	}
	if slices.ContainsFunc(chain(v4, chainEgress), func(r string) bool { return strings.Contains(r, "icmp6") }) {
		t.Errorf("IPv4 CILIUM_EGRESS = %q", chain(v4, chainEgress))
	}
}
