package azurenpm

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
)

// Names are NPM's: the hashes are those of a real NPM node's iptables-save
// (npm/pkg/dataplane/testdata/iptablesave-v2) and of NPM's translation of the same policies.
func TestHashNames(t *testing.T) {
	for in, want := range map[string]string{
		"ns-y":                             "2837910840",
		"podlabel-pod:a":                   "3922407721",
		"nslabel-ns:y":                     "2146053937",
		"y/base":                           "2697641196",
		"nslabel-all-namespaces":           "1639206293",
		"default/allow-frontend":           "3195749847",
		"podlabel-app:web":                 "504389988",
		"ns-default":                       "784554818",
		"podlabel-app:frontend":            "3613997434",
		"default/egress-dns":               "694789598",
		"ns-kube-system":                   "2064349730",
		"kube-system/default-deny-ingress": "3750705395",
	} {
		if got := hash(in); got != want {
			t.Errorf("hash(%q) = %s, want %s", in, got, want)
		}
	}
}

func policy(t *testing.T, y string) *networkingv1.NetworkPolicy {
	t.Helper()
	p := &networkingv1.NetworkPolicy{}
	if err := yaml.UnmarshalStrict([]byte(y), p); err != nil {
		t.Fatal(err)
	}
	return p
}

func pod(ns, name, ip string, labels map[string]string, ports ...v1.ContainerPort) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Labels: labels},
		Spec:       v1.PodSpec{NodeName: "node0", Containers: []v1.Container{{Name: "c", Ports: ports}}},
		Status:     v1.PodStatus{Phase: v1.PodRunning, PodIPs: []v1.PodIP{{IP: ip}}},
	}
}

func namespace(name string) *v1.Namespace {
	return &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
}

func rules(rs *Ruleset, chain string) []string {
	for _, c := range rs.Chains {
		if c.Name == chain {
			return c.Rules
		}
	}
	return nil
}

func set(rs *Ruleset, prefixed string) *Set {
	for i := range rs.Sets {
		if rs.Sets[i].Label == prefixed {
			return &rs.Sets[i]
		}
	}
	return nil
}

func TestRenderIngress(t *testing.T) {
	c := netpol.FromObjects(
		[]*v1.Pod{
			pod("default", "web", "10.244.0.5", map[string]string{"app": "web"}, v1.ContainerPort{Name: "http", ContainerPort: 8080}),
			pod("default", "frontend", "10.244.1.7", map[string]string{"app": "frontend"}),
			{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "host", Labels: map[string]string{"app": "web"}},
				Spec: v1.PodSpec{HostNetwork: true}, Status: v1.PodStatus{PodIPs: []v1.PodIP{{IP: "10.224.0.4"}}}},
		},
		[]*v1.Namespace{namespace("default"), namespace("kube-system")},
		[]*networkingv1.NetworkPolicy{policy(t, `
metadata: {name: allow-frontend, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}], ports: [{protocol: TCP, port: 80}]}]
`)}, nil)
	rs := Render(c, "node0")

	if got := rules(rs, "AZURE-NPM-INGRESS-3195749847"); !slices.Equal(got, []string{
		"-j AZURE-NPM-INGRESS-ALLOW-MARK -p TCP --dport 80 -m set --match-set azure-npm-3613997434 src -m set --match-set azure-npm-784554818 src -m comment --comment ALLOW-FROM-podlabel-app:frontend-AND-ns-default-ON-TCP-TO-PORT-80",
		"-j MARK --set-mark 0x400/0x400 -m comment --comment DROP-ALL",
	}) {
		t.Errorf("policy chain:\n%s", strings.Join(got, "\n"))
	}
	if got := rules(rs, "AZURE-NPM-INGRESS"); !slices.Equal(got, []string{
		"-j AZURE-NPM-INGRESS-3195749847 -m set --match-set azure-npm-504389988 dst -m set --match-set azure-npm-784554818 dst -m comment --comment INGRESS-POLICY-default/allow-frontend-TO-podlabel-app:web-AND-ns-default-IN-ns-default",
		"-j DROP -m mark --mark 0x400/0x400 -m comment --comment DROP-ON-INGRESS-DROP-MARK-0x400/0x400",
	}) {
		t.Errorf("AZURE-NPM-INGRESS:\n%s", strings.Join(got, "\n"))
	}
	if got := rules(rs, "AZURE-NPM"); !slices.Equal(got, []string{"-j AZURE-NPM-INGRESS", "-j AZURE-NPM-EGRESS", "-j AZURE-NPM-ACCEPT"}) {
		t.Errorf("AZURE-NPM: %q", got)
	}
	// Sets: hostNetwork pods are in none; every pod in its namespace's and labels' sets.
	for prefixed, want := range map[string][]string{
		"ns-default":             {"10.244.0.5", "10.244.1.7"},
		"podlabel-app:web":       {"10.244.0.5"},
		"podlabel-app":           {"10.244.0.5", "10.244.1.7"},
		"namedport:http":         {"10.244.0.5,tcp:8080"},
		"nslabel-all-namespaces": {"azure-npm-2064349730", "azure-npm-784554818"},
	} {
		if s := set(rs, prefixed); s == nil || !slices.Equal(s.Members, want) {
			t.Errorf("set %s: %+v, want members %q", prefixed, s, want)
		}
	}
	// Hash sets come before list sets, which refer to them.
	seenList := false
	for _, s := range rs.Sets {
		if s.Type == setTypeList {
			seenList = true
		} else if seenList {
			t.Errorf("hash set %s after a list set", s.Label)
		}
	}
}

func TestRenderEgressAndPeers(t *testing.T) {
	c := netpol.FromObjects(nil, []*v1.Namespace{namespace("default"), namespace("kube-system")}, []*networkingv1.NetworkPolicy{policy(t, `
metadata: {name: egress-dns, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
    ports: [{protocol: UDP, port: 53}]
  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
`)}, nil)
	rs := Render(c, "node0")
	if got := rules(rs, "AZURE-NPM-EGRESS-694789598"); !slices.Equal(got, []string{
		"-j AZURE-NPM-ACCEPT -p UDP --dport 53 -m set --match-set azure-npm-1977654781 dst -m comment --comment ALLOW-TO-nslabel-kubernetes.io/metadata.name:kube-system-ON-UDP-TO-PORT-53",
		"-j AZURE-NPM-ACCEPT -m set --match-set azure-npm-2139333968 dst -m comment --comment ALLOW-TO-cidr-egress-dns-in-ns-default-1-0OUT",
		"-j MARK --set-mark 0x800/0x800 -m comment --comment DROP-ALL",
	}) {
		t.Errorf("egress chain:\n%s", strings.Join(got, "\n"))
	}
	if s := set(rs, "cidr-egress-dns-in-ns-default-1-0OUT"); s == nil || !slices.Equal(s.Members, []string{"10.0.0.0/8", "10.1.0.0/16 nomatch"}) {
		t.Errorf("ipBlock set: %+v", s)
	}
	if s := set(rs, "nslabel-kubernetes.io/metadata.name:kube-system"); s == nil || !slices.Equal(s.Members, []string{"azure-npm-2064349730"}) {
		t.Errorf("namespace label list: %+v", s)
	}
	if got := rules(rs, "AZURE-NPM-INGRESS"); len(got) != 1 {
		t.Errorf("an egress-only policy jumps from AZURE-NPM-INGRESS: %q", got)
	}
}

func TestRenderForms(t *testing.T) {
	pols := []*networkingv1.NetworkPolicy{
		policy(t, `
metadata: {name: deny, namespace: ns1}
spec: {podSelector: {}}
`),
		policy(t, `
metadata: {name: allow-all-egress, namespace: ns1}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}
`),
		policy(t, `
metadata: {name: mixed, namespace: ns1}
spec:
  podSelector: {matchExpressions: [{key: tier, operator: In, values: [a, b]}, {key: canary, operator: DoesNotExist}]}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [x, "y"]}]}
      podSelector: {matchLabels: {role: client}}
    - ipBlock: {cidr: 0.0.0.0/0, except: [10.244.0.0/16]}
    ports: [{port: http}, {protocol: UDP, port: 5000, endPort: 5010}]
`),
	}
	rs := Render(netpol.FromObjects(nil, nil, pols, nil), "node0")
	deny := rules(rs, "AZURE-NPM-INGRESS-"+hash("ns1/deny"))
	if !slices.Equal(deny, []string{"-j MARK --set-mark 0x400/0x400 -m comment --comment DROP-ALL"}) {
		t.Errorf("deny-all: %q", deny)
	}
	if got := rules(rs, "AZURE-NPM-EGRESS-"+hash("ns1/allow-all-egress")); !slices.Equal(got, []string{"-j AZURE-NPM-ACCEPT -m comment --comment ALLOW-ALL"}) {
		t.Errorf("allow-all egress: %q", got)
	}
	mixed := rules(rs, "AZURE-NPM-INGRESS-"+hash("ns1/mixed"))
	// Two namespace alternatives × two ports, then the ipBlock × two ports, then the drop.
	if len(mixed) != 7 {
		t.Fatalf("mixed: %d rules:\n%s", len(mixed), strings.Join(mixed, "\n"))
	}
	for i, want := range []string{
		"-p TCP -m set --match-set " + setPrefix + hash("namedport:http") + " dst,dst -m set --match-set " + setPrefix + hash("nslabel-team:x") + " src -m set --match-set " + setPrefix + hash("podlabel-role:client") + " src",
		"-p UDP --dport 5000:5010 -m set --match-set " + setPrefix + hash("nslabel-team:x"),
		"-p TCP -m set --match-set " + setPrefix + hash("namedport:http") + " dst,dst -m set --match-set " + setPrefix + hash("nslabel-team:y"),
	} {
		if !strings.Contains(mixed[i], want) {
			t.Errorf("mixed rule %d: %s\nwant it to contain %s", i, mixed[i], want)
		}
	}
	if s := set(rs, "cidr-mixed-in-ns-ns1-0-1IN"); s == nil || !slices.Equal(s.Members, []string{"0.0.0.0/1", "10.244.0.0/16 nomatch", "128.0.0.0/1"}) {
		t.Errorf("0.0.0.0/0 with an exception: %+v", s)
	}
	jump := rules(rs, "AZURE-NPM-INGRESS")[1]
	nested := set(rs, "nestedlabel-ns1/mixed-tier:a:b")
	if nested == nil || !strings.Contains(jump, "--match-set "+nested.Name+" dst -m set ! --match-set "+setPrefix+hash("podlabel-canary")+" dst") {
		t.Errorf("jump of mixed: %s (nested set %+v)", jump, nested)
	}
}
