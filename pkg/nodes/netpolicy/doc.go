// Package netpolicy deploys the network policy engine that --network-policy chooses, as AKS
// deploys it in kube-system: for azure, Azure Network Policy Manager's DaemonSet azure-npm
// (the built-in image images/azurenpm) with its ServiceAccount, RBAC and ConfigMap
// azure-npm-config. Each engine's agent runs in its node's network namespace and answers the
// node's pod runtime through package pkg/nodes/endpoint before a pod's containers start.
package netpolicy
