// Package calico is the built-in image of Calico's node agent (mcr.microsoft.com/oss/calico/node),
// which AKS runs as the DaemonSet calico-node in calico-system with --network-policy calico.
// Like Felix's iptables dataplane, each node's agent watches pods, namespaces and
// NetworkPolicies and writes the node's workload endpoints and the policies that select them
// as Felix's cali-* chains and cali40s: ipsets, jumped to first from FORWARD and
// INPUT: standard NetworkPolicy semantics, enforced before kube-proxy's chains (so traffic
// that came through a NodePort or load balancer is policed too), with established
// connections kept. See README.md for the packet path and what differs from Calico.
//
// Calico's own code (github.com/projectcalico/calico) is not what runs: its Felix needs its
// datastore, typha and CNI plugin; this reimplements what Felix writes for Kubernetes
// NetworkPolicies (Render, a pure function) on the engine shared with azure-npm.
package calico
