package netstack

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// Chain is an iptables chain minaks owns inside one of its namespaces, and the rule in a
// built-in chain that jumps to it.
type Chain struct {
	Table string
	Name  string
	// Rules are the chain's rules, in iptables-save syntax without "-A <chain>".
	Rules []string
	// From is the built-in chain that jumps here, and Jump the match part of that rule.
	From string
	Jump []string
	// First puts the jump rule at the top of From rather than at its end.
	First bool
	// IPv6 makes it an ip6tables chain.
	IPv6 bool
	// Legacy writes it with the legacy (x_tables) backend, as every rule of a node is: see
	// NodeChain.
	Legacy bool
}

// tool is the command for the chain's family and backend: iptables, ip6tables,
// iptables-legacy or ip6tables-legacy, with suffix ("-restore").
func (c Chain) tool(suffix string) string {
	t := "iptables"
	if c.IPv6 {
		t = "ip6tables"
	}
	if c.Legacy {
		t += "-legacy"
	}
	return t + suffix
}

// Nodes' rules (ip-masq-agent's, hostPorts', kube-proxy's) are written with iptables's legacy
// backend, as on AKS's Ubuntu nodes: restoring kube-proxy's rules takes a third of the time it
// takes through nf_tables (make bench measures both). The node agent marks the choice with
// the kubelet's hint chain, which kube-proxy's image reads, as upstream's iptables-wrapper
// does; `minaks exec` gives a node's shell the same iptables.

// NodeChain is c as a node's chain: written with the nodes' backend.
func NodeChain(c Chain) Chain {
	c.Legacy = true
	return c
}

// IPTablesHintChain is the kubelet's KUBE-IPTABLES-HINT: an empty chain in the mangle table of
// the backend the node's rules use, which containerized components (kube-proxy's image) look
// for to use the same.
func IPTablesHintChain(ipv6 bool) Chain {
	return NodeChain(Chain{Table: "mangle", Name: "KUBE-IPTABLES-HINT", IPv6: ipv6})
}

// NodeIPTablesTools are the commands a node's shell runs for iptables, ip6tables and their
// -save and -restore: the nodes' backend's.
func NodeIPTablesTools() map[string]string {
	tools := map[string]string{}
	for _, family := range []string{"iptables", "ip6tables"} {
		for _, suffix := range []string{"", "-save", "-restore"} {
			tools[family+suffix] = family + "-legacy" + suffix
		}
	}
	return tools
}

// Ensure replaces the chain's rules atomically and makes sure the jump rule exists once, in the
// named namespace (the host when empty):
//
//	iptables-restore -w --noflush <<< "*<table> :<chain> - [0:0] -A <chain> … COMMIT"
//	iptables -w -t <table> -C <from> <jump> -j <chain> || iptables -w -t <table> -A|-I <from> …
//
// Built-in chains are never flushed: others (kube-proxy, the host's firewall) write there too.
func (c Chain) Ensure(ns string) error {
	if err := needIPTables(); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s\n:%s - [0:0]\n", c.Table, c.Name)
	for _, r := range c.Rules {
		fmt.Fprintf(&b, "-A %s %s\n", c.Name, r)
	}
	b.WriteString("COMMIT\n")
	if _, err := netns.Run(ns, b.String(), c.tool("-restore"), "-w", "--noflush"); err != nil {
		return err
	}
	if c.From == "" {
		return nil // a chain nothing jumps to, such as the hint
	}
	if _, err := netns.Run(ns, "", c.jumpRule("-C")...); err == nil {
		return nil
	}
	op := "-A"
	if c.First {
		op = "-I"
	}
	_, err := netns.Run(ns, "", c.jumpRule(op)...)
	return err
}

// Remove deletes the jump rule (every copy of it) and the chain, in the named namespace (the
// host when empty). A chain that is not there is not an error.
//
//	iptables -w -t <table> -D <from> <jump> -j <chain> (until none is left)
//	iptables -w -t <table> -F <chain>; iptables -w -t <table> -X <chain>
func (c Chain) Remove(ns string) error {
	if needIPTables() != nil {
		return nil // without iptables there are no rules to remove
	}
	for {
		if _, err := netns.Run(ns, "", c.jumpRule("-D")...); err != nil {
			break
		}
	}
	if _, err := netns.Run(ns, "", c.tool(""), "-w", "-t", c.Table, "-n", "-L", c.Name); err != nil {
		return nil
	}
	if _, err := netns.Run(ns, "", c.tool(""), "-w", "-t", c.Table, "-F", c.Name); err != nil {
		return err
	}
	_, err := netns.Run(ns, "", c.tool(""), "-w", "-t", c.Table, "-X", c.Name)
	return err
}

// jumpRule is the iptables command line that applies op (-C, -A, -I, -D) to the jump rule.
func (c Chain) jumpRule(op string) []string {
	argv := []string{c.tool(""), "-w", "-t", c.Table, op, c.From}
	if op == "-I" {
		argv = append(argv, "1")
	}
	argv = append(argv, c.Jump...)
	return append(argv, "-j", c.Name)
}

func needIPTables() error {
	for _, tool := range []string{"iptables-restore", "iptables-legacy-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("minaks needs iptables, with its legacy backend, on the host ('sudo make up' installs it, or apt-get install iptables): %w", err)
		}
	}
	return nil
}

// MasqueradeChain is what AKS's ip-masq-agent writes on a node: traffic that leaves the
// non-masquerade ranges leaves with the node's address. Its IPv6 twin (for dual-stack) takes the
// IPv6 non-masquerade ranges.
func MasqueradeChain(nonMasquerade []string, ipv6 bool) Chain {
	var rules []string
	if !ipv6 {
		// masqLinkLocal is false on AKS: pods reach 169.254.169.254 with their own address.
		rules = append(rules, `-d 169.254.0.0/16 -m comment --comment "ip-masq-agent: cluster-local traffic should not be subject to MASQUERADE" -j RETURN`)
	}
	for _, r := range nonMasquerade {
		rules = append(rules, fmt.Sprintf(`-d %s -m comment --comment "ip-masq-agent: local traffic is not subject to MASQUERADE" -j RETURN`, r))
	}
	rules = append(rules, `-m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)" -j MASQUERADE`)
	return NodeChain(Chain{
		Table: "nat", Name: "IP-MASQ-AGENT", Rules: rules, From: "POSTROUTING", IPv6: ipv6,
		Jump: []string{"-m", "comment", "--comment", "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom IP-MASQ-AGENT chain",
			"-m", "addrtype", "!", "--dst-type", "LOCAL"},
	})
}

// VNetIsolationChain keeps a pod range that is not part of the VNet (overlay, kubenet) out of
// the VNet's reach: in the fabric, only the cluster's nodes and pods may send to it. The range
// and the node addresses are of one IP family.
func VNetIsolationChain(podRange string, nodes []netip.Addr) Chain {
	rules := []string{fmt.Sprintf(`-s %s -m comment --comment "pods reach pods" -j RETURN`, podRange)}
	for _, n := range nodes {
		rules = append(rules, fmt.Sprintf(`-s %s -m comment --comment "node reaches pods" -j RETURN`, netip.PrefixFrom(n, n.BitLen())))
	}
	rules = append(rules, `-m comment --comment "pod addresses are not part of the VNet" -j DROP`)
	return Chain{Table: "filter", Name: "MINAKS-VNET-ISOLATION", Rules: rules, From: "FORWARD", IPv6: strings.Contains(podRange, ":"),
		Jump: []string{"-d", podRange, "-m", "comment", "--comment", "minaks: traffic to pod ranges"}}
}
