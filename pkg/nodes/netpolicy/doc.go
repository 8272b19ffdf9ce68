// Package netpolicy deploys the network policy engine that --network-policy chooses, as AKS
// deploys it: for azure, Azure Network Policy Manager's DaemonSet azure-npm in kube-system (the
// built-in image images/azurenpm) with its ServiceAccount, RBAC and ConfigMap azure-npm-config;
// for calico, the DaemonSet calico-node in calico-system (images/calico) with its RBAC, and
// the namespaces calico-system and tigera-operator; for cilium (--network-dataplane cilium),
// the DaemonSet cilium in kube-system (images/cilium), which also replaces kube-proxy, its
// ConfigMap cilium-config, and the CRDs of Cilium's policies. Each engine's agent runs in its node's
// network namespace and answers the node's pod runtime through package pkg/nodes/endpoint
// before a pod's containers start.
package netpolicy
