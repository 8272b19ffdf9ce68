package netstack

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// PolicyFeature is a kernel feature a network policy engine writes rules with, and how to
// try it.
type PolicyFeature struct {
	// Name names it as the kernel does (module or option).
	Name string
	// Script is a shell script that succeeds only where the feature works. Scripts of a list
	// run one after the other in one shell must not clash (each names its sets its own way).
	Script string
}

// PolicyFeatures are what the policy engine of --network-policy policy (azure, calico,
// cilium) needs: ipset's set types, and iptables's set, conntrack, comment, mark and
// multiport matches and MARK target; bridge netfilter where pods sit on kubenet's bridge
// (bridged); with cilium, the addrtype match and the nftables features of the kube-proxy
// replacement's nftables proxier, and in a dual-stack cluster (ipv6) ip6tables's matches.
func PolicyFeatures(policy string, bridged, ipv6 bool) []PolicyFeature {
	var f []PolicyFeature
	add := func(name, script string) {
		f = append(f, PolicyFeature{Name: name, Script: strings.ReplaceAll(script, "SET", fmt.Sprintf("minaks-probe-%d", len(f)))})
	}
	rule := func(match string) string {
		return fmt.Sprintf("ipset create SET hash:net\n"+
			"printf '*filter\\n:MINAKS-PROBE - [0:0]\\n-A MINAKS-PROBE %s\\nCOMMIT\\n' | iptables-restore --noflush\n", match)
	}
	add("ip_set_hash_net (ipset hash:net)", "ipset create SET hash:net\n")
	add("ip_set_hash_ipport (ipset hash:ip,port)", "ipset create SET hash:ip,port\n")
	add("ip_set_list_set (ipset list:set)", "ipset create SET-n hash:net\nipset create SET list:set\nipset add SET SET-n\n")
	add("xt_set (iptables -m set)", rule("-m set --match-set SET src -j RETURN"))
	add("xt_conntrack (iptables -m conntrack)", rule("-m conntrack --ctstate NEW -j RETURN"))
	add("xt_comment (iptables -m comment)", rule("-m comment --comment probe -j RETURN"))
	add("xt_mark (iptables -m mark, -j MARK)", rule("-m mark --mark 0x10000/0x10000 -j MARK --set-xmark 0x0/0x10000"))
	add("xt_multiport (iptables -m multiport)", rule("-p tcp -m multiport --dports 80:90 -j RETURN"))
	if policy == "cilium" {
		add("xt_addrtype (iptables -m addrtype)", rule("-m addrtype --dst-type LOCAL -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j RETURN"))
		add("nf_tables (nft: maps, numgen, fib, ct, nat; the kube-proxy replacement's nftables proxier)",
			"printf 'table ip SET {\n map m { type ipv4_addr . inet_proto . inet_service : verdict; }\n"+
				" chain c { type nat hook prerouting priority -100; ct state new numgen random mod 2 vmap { 0 : accept, 1 : accept }; ip daddr . meta l4proto . th dport vmap @m; fib daddr type local accept; }\n}\n' | nft -f -\n")
		if ipv6 {
			add("ip6_tables (ip6tables -m set, conntrack, addrtype, icmp6, multiport; ipset family inet6)",
				"ipset create SET hash:net family inet6\n"+
					"printf '*filter\\n:MINAKS-PROBE - [0:0]\\n-A MINAKS-PROBE -m set --match-set SET src -m addrtype --dst-type LOCAL -m conntrack --ctstate NEW -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j RETURN\\n"+
					"-A MINAKS-PROBE -p tcp -m multiport --dports 80:90 -m comment --comment probe -j MARK --set-xmark 0x0/0x10000\\nCOMMIT\\n' | ip6tables-restore --noflush\n")
		}
	}
	if bridged {
		add("br_netfilter (net.bridge.bridge-nf-call-iptables)", "test -e /proc/sys/net/bridge/bridge-nf-call-iptables\n")
	}
	return f
}

// MissingPolicyFeatures tries the features in a network namespace of their own, which goes
// with the probe (nothing is left on the host): all at once, and one by one when that fails.
// It returns those that do not work, each with what the kernel or tool said.
func MissingPolicyFeatures(features []PolicyFeature) []string {
	var all strings.Builder
	for _, f := range features {
		all.WriteString(f.Script)
	}
	if _, err := probe(all.String()); err == nil {
		return nil
	}
	var missing []string
	for _, f := range features {
		if out, err := probe(f.Script); err != nil {
			why := strings.TrimSpace(out)
			if why == "" {
				why = err.Error()
			}
			missing = append(missing, fmt.Sprintf("%s: %s", f.Name, why))
		}
	}
	return missing
}

// probe runs script in a new network namespace.
func probe(script string) (string, error) {
	cmd := exec.Command("unshare", "--net", "sh", "-ec", script)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
