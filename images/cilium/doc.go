// Package cilium is the built-in image of Cilium's agent (mcr.microsoft.com/oss/cilium/cilium),
// which AKS runs as the DaemonSet cilium in kube-system with --network-dataplane cilium (Azure
// CNI powered by Cilium), in place of kube-proxy. Each node's agent:
//   - enforces NetworkPolicies, CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies
//     (cilium.io/v2, L3/L4) with Cilium's semantics (Render): CIDR rules never select a pod's
//     or a node's address, a pod reaches its own node only when policy allows the entity
//     host, policy holds for load-balanced traffic, established connections are re-checked;
//   - implements Services as Cilium's kube-proxy replacement does, here by running the
//     upstream kube-proxy's nftables proxier in its own process (ConfigMap cilium-config,
//     kube-proxy-replacement "true"), so nodes have no kube-proxy and no KUBE-* iptables
//     chains.
//
// Cilium's own code (github.com/cilium/cilium) is not what runs: its datapath is eBPF
// programs and maps bound to its own CNI plugin and identity allocation. This engine keeps
// Cilium's observable behaviour with iptables and ipsets on the engine shared with azure-npm
// and calico-node. See README.md for the packet path.
package cilium
