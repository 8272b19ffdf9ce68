package calico

import (
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/minaks/minaks/images/internal/netpol"
	"github.com/minaks/minaks/pkg/netstack"
)

func policy(t *testing.T, y string) *networkingv1.NetworkPolicy {
	t.Helper()
	p := &networkingv1.NetworkPolicy{}
	if err := yaml.UnmarshalStrict([]byte(y), p); err != nil {
		t.Fatal(err)
	}
	return p
}

func pod(ns, name, node string, ips []string, labels map[string]string, ports ...v1.ContainerPort) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Labels: labels},
		Spec:       v1.PodSpec{NodeName: node, Containers: []v1.Container{{Name: "c", Ports: ports}}},
		Status:     v1.PodStatus{Phase: v1.PodRunning},
	}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, v1.PodIP{IP: ip})
	}
	return p
}

func namespace(name string, labels map[string]string) *v1.Namespace {
	return &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func chain(rs *netpol.Ruleset, name string) []string {
	for _, c := range rs.Chains {
		if c.Name == name {
			out := make([]string, len(c.Rules))
			for i, r := range c.Rules {
				rest, _ := strings.CutPrefix(r, "-m comment --comment cali:")
				_, out[i], _ = strings.Cut(rest, " ") // without Felix's rule ID
			}
			return out
		}
	}
	return nil
}

func setOf(rs *netpol.Ruleset, name string) *netpol.Set {
	for i := range rs.Sets {
		if rs.Sets[i].Name == name {
			return &rs.Sets[i]
		}
	}
	return nil
}

func iface(name string) string { return netstack.PodNIC{UID: "uid-" + name}.HostVeth() }

func testCluster(t *testing.T, policies ...string) *netpol.Cluster {
	var pols []*networkingv1.NetworkPolicy
	for _, y := range policies {
		pols = append(pols, policy(t, y))
	}
	web := v1.ContainerPort{Name: "web", ContainerPort: 8080, Protocol: v1.ProtocolTCP}
	return netpol.FromObjects(
		[]*v1.Pod{
			pod("x", "a", "n1", []string{"10.244.0.5", "fd00::5"}, map[string]string{"app": "a"}, web),
			pod("x", "b", "n1", []string{"10.244.0.6", "fd00::6"}, map[string]string{"app": "b"}),
			pod("y", "c", "n2", []string{"10.244.1.7", "fd00::7"}, map[string]string{"app": "c"}, web),
		},
		[]*v1.Namespace{namespace("x", map[string]string{"team": "x"}), namespace("y", map[string]string{"team": "ty"})},
		pols, nil)
}

// A pod under a policy is dispatched to its endpoint chain, which runs the policy and drops
// what it does not accept; a pod under none gets its namespace's allow-all profile; policies
// that select no pod of the node are not rendered.
func TestRenderEndpoints(t *testing.T) {
	c := testCluster(t, `
metadata: {name: allow-y-web, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: ty}}}]
    ports: [{port: web}]
`, `
metadata: {name: deny-all, namespace: y}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`)
	rs := Render(c, "n1", false)
	a, b := iface("a"), iface("b")
	pi := limitedID("cali-pi-", "default/x/knp.default.allow-y-web", maxChainName)
	if got := chain(rs, chainFromWL); !slices.Equal(got, []string{
		"-i " + a + " -g cali-fw-" + a, "-i " + b + " -g cali-fw-" + b, `-m comment --comment "Unknown interface" -j DROP`,
	}) {
		t.Errorf("%s: %q", chainFromWL, got)
	}
	tw := chain(rs, "cali-tw-"+a)
	if !slices.Contains(tw, "-m mark --mark 0x0/0x20000 -j "+pi) ||
		tw[len(tw)-1] != `-m mark --mark 0x0/0x20000 -m comment --comment "End of tier default. Drop if no policies passed packet" -j DROP` {
		t.Errorf("cali-tw of the selected pod: %q", tw)
	}
	if fw := chain(rs, "cali-fw-"+a); !slices.Contains(fw, "-j cali-pro-kns.x") {
		t.Errorf("egress of a pod no egress policy selects goes to its profile: %q", fw)
	}
	if tw := chain(rs, "cali-tw-"+b); !slices.Contains(tw, "-j cali-pri-kns.x") {
		t.Errorf("cali-tw of an unselected pod: %q", tw)
	}
	if got := chain(rs, limitedID("cali-pi-", "default/y/knp.default.deny-all", maxChainName)); got != nil {
		t.Errorf("a policy selecting no pod of the node is rendered: %q", got)
	}

	rules := chain(rs, pi)
	if len(rules) != 2 || !strings.HasPrefix(rules[0], "-p tcp -m set --match-set cali40n:") || !strings.Contains(rules[0], " dst,dst -m set --match-set cali40s:") {
		t.Fatalf("%s: %q", pi, rules)
	}
	peer := setOf(rs, strings.Fields(rules[0])[10])
	if peer == nil || !slices.Equal(peer.Members, []string{"10.244.1.7"}) {
		t.Errorf("the namespace selector's set: %+v", peer)
	}
	named := setOf(rs, strings.Fields(rules[0])[5])
	if named == nil || !slices.Equal(named.Members, []string{"10.244.0.5,tcp:8080", "10.244.1.7,tcp:8080"}) {
		t.Errorf("the named port's set: %+v", named)
	}
}

// An ipBlock is a set of its CIDR (0.0.0.0/0 as two halves) minus its exceptions, matching
// pods' and nodes' addresses alike; a port range is a multiport range; an IPv6 ipBlock matches
// nothing.
func TestRenderIPBlock(t *testing.T) {
	c := testCluster(t, `
metadata: {name: egress, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.244.1.0/24]}}, {ipBlock: {cidr: "fd00::/64"}}]
    ports: [{protocol: UDP, port: 5000, endPort: 5010}]
`)
	po := limitedID("cali-po-", "default/x/knp.default.egress", maxChainName)
	v4 := chain(Render(c, "n1", false), po)
	if len(v4) != 2 || !strings.HasPrefix(v4[0], "-p udp -m multiport --dports 5000:5010 -m set --match-set cali40s:") ||
		!strings.Contains(v4[0], " dst -m set ! --match-set cali40s:") {
		t.Fatalf("IPv4 %s: %q", po, v4)
	}
	rs := Render(c, "n1", false)
	if s := setOf(rs, strings.Fields(v4[0])[9]); s == nil || !slices.Equal(s.Members, []string{"0.0.0.0/1", "128.0.0.0/1"}) {
		t.Errorf("0.0.0.0/0: %+v", s)
	}
}

// With kubenet's bridge, endpoints are told apart by address.
func TestRenderBridged(t *testing.T) {
	rs := Render(testCluster(t), "n1", true)
	if got := chain(rs, chainToWL); !slices.Equal(got, []string{
		"-d 10.244.0.5/32 -g cali-tw-" + iface("a"), "-d 10.244.0.6/32 -g cali-tw-" + iface("b"), `-m comment --comment "Unknown interface" -j DROP`,
	}) {
		t.Errorf("%s: %q", chainToWL, got)
	}
	if got := chain(rs, chainInput); !slices.Equal(got, []string{"-i cbr0 -g " + chainWLToHost}) {
		t.Errorf("%s: %q", chainInput, got)
	}
}

// Felix's jumps: cali-FORWARD and cali-INPUT first, the accept of accepted packets last.
func TestApplierJumps(t *testing.T) {
	var cmds []string
	save := "*filter\n-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n-A INPUT -j KUBE-FIREWALL\nCOMMIT\n"
	run := func(stdin, name string, args ...string) ([]byte, error) {
		cmds = append(cmds, name+" "+strings.Join(args, " "))
		if name == "iptables-save" {
			return []byte(save), nil
		}
		return nil, nil
	}
	a := NewApplier(run)
	if err := a.Apply(&netpol.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"iptables -w -t filter -I FORWARD 1 -m comment --comment cali:wUHhoiAYhphO9Mso -j cali-FORWARD",
		"iptables -w -t filter -I FORWARD 3 -m comment --comment cali:S93hcgKJrXEqnTfs -m comment --comment Policy explicitly accepted packet. -m mark --mark 0x10000/0x10000 -j ACCEPT",
		"iptables -w -t filter -I INPUT 1 -m comment --comment cali:Cz_u1IQiXIMmKD4c -j cali-INPUT",
	}
	var got []string
	for _, c := range cmds {
		if strings.HasPrefix(c, "iptables -w") {
			got = append(got, c)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("jumps:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// In place already: nothing to do.
	save = "*filter\n-A FORWARD -m comment --comment cali:wUHhoiAYhphO9Mso -j cali-FORWARD\n-A FORWARD -j KUBE-FORWARD\n" +
		`-A FORWARD -m comment --comment cali:S93hcgKJrXEqnTfs -m comment --comment "Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT` +
		"\n-A INPUT -m comment --comment cali:Cz_u1IQiXIMmKD4c -j cali-INPUT\nCOMMIT\n"
	cmds = nil
	if err := a.Apply(&netpol.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if strings.HasPrefix(c, "iptables -w") {
			t.Errorf("a jump in its place is rewritten: %s", c)
		}
	}
}
