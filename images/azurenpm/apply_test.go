package azurenpm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeNode keeps a node's FORWARD chain and ipsets as the commands the applier runs change them.
type fakeNode struct {
	forward  []string
	sets     []string
	restores []string
}

func (n *fakeNode) run(stdin, name string, args ...string) ([]byte, error) {
	switch {
	case name == "iptables-save":
		return []byte("*filter\n" + strings.Join(n.forward, "\n") + "\nCOMMIT\n"), nil
	case name == "iptables-restore":
		n.restores = append(n.restores, stdin)
		return nil, nil
	case name == "iptables" && slices.Equal(args[:5], []string{"-w", "-t", "filter", "-D", "FORWARD"}):
		if i := slices.Index(n.forward, savedForwardJump); i >= 0 {
			n.forward = slices.Delete(n.forward, i, i+1)
			return nil, nil
		}
		return nil, fmt.Errorf("no such rule")
	case name == "iptables" && slices.Equal(args[:5], []string{"-w", "-t", "filter", "-I", "FORWARD"}):
		at, _ := strconv.Atoi(args[5])
		if at < 1 || at > len(n.forward)+1 {
			return nil, fmt.Errorf("index of insertion too big")
		}
		n.forward = slices.Insert(n.forward, at-1, savedForwardJump)
		return nil, nil
	case name == "ipset" && slices.Equal(args, []string{"list", "-name"}):
		return []byte(strings.Join(n.sets, "\n")), nil
	case name == "ipset":
		for _, l := range strings.Split(stdin, "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "create" && f[1] != tempSet && !slices.Contains(n.sets, f[1]) {
				n.sets = append(n.sets, f[1])
			}
			if len(f) >= 2 && f[0] == "destroy" {
				n.sets = slices.DeleteFunc(n.sets, func(s string) bool { return s == f[1] })
			}
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected command %s %q", name, args)
}

func TestEnsureJump(t *testing.T) {
	kube := []string{
		`-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
		`-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD`,
		`-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
	}
	other := "-A FORWARD -i eth9 -j ACCEPT"
	for name, before := range map[string][]string{
		"none yet":             append(slices.Clone(kube), other),
		"first, before kube's": append(append([]string{savedForwardJump}, kube...), other),
		"twice":                append(append(slices.Clone(kube), savedForwardJump, other), savedForwardJump),
		"no kube-proxy (nft)":  {other},
		"already in its place": append(slices.Clone(kube), savedForwardJump, other),
	} {
		n := &fakeNode{forward: slices.Clone(before)}
		a := NewApplier(n.run)
		if err := a.Apply(&Ruleset{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want []string
		if name == "no kube-proxy (nft)" {
			want = []string{savedForwardJump, other}
		} else {
			want = append(slices.Clone(kube), savedForwardJump, other)
		}
		if !slices.Equal(n.forward, want) {
			t.Errorf("%s: FORWARD is\n%s\nwant\n%s", name, strings.Join(n.forward, "\n"), strings.Join(want, "\n"))
		}
	}
}

// Sets of a ruleset come and go with it; chains of removed policies are deleted.
func TestApply(t *testing.T) {
	n := &fakeNode{sets: []string{"kube-proxy-set"}}
	a := NewApplier(n.run)
	rs := &Ruleset{
		Sets:   []Set{{Name: "azure-npm-1", Type: setTypeNet, Options: "family inet maxelem 4294967295", Members: []string{"10.244.0.5"}}, {Name: "azure-npm-2", Type: setTypeList, Members: []string{"azure-npm-1"}}},
		Chains: []Chain{{Name: chainNPM}, {Name: "AZURE-NPM-INGRESS-7", Rules: []string{"-j DROP"}}},
	}
	if err := a.Apply(rs); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n.sets, []string{"kube-proxy-set", "azure-npm-1", "azure-npm-2"}) {
		t.Errorf("sets after the first apply: %q", n.sets)
	}
	n.forward = append(n.forward, ":AZURE-NPM-INGRESS-7 - [0:0]") // as iptables-save lists it
	if err := a.Apply(&Ruleset{Chains: []Chain{{Name: chainNPM}}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n.sets, []string{"kube-proxy-set"}) {
		t.Errorf("sets after the policies went: %q (another component's set must stay)", n.sets)
	}
	if last := n.restores[len(n.restores)-1]; !strings.Contains(last, "-X AZURE-NPM-INGRESS-7\n") {
		t.Errorf("the removed policy's chain is not deleted:\n%s", last)
	}
}
