// Package azurenpm is the built-in image of Azure Network Policy Manager
// (mcr.microsoft.com/containernetworking/azure-npm), which AKS runs as the DaemonSet azure-npm
// in kube-system with --network-policy azure. Like NPM v2 on Linux, each node's agent watches
// pods, namespaces and NetworkPolicies and writes them into the node (whose network it shares)
// as ipsets named azure-npm-<hash> and the chains AZURE-NPM, AZURE-NPM-INGRESS,
// AZURE-NPM-INGRESS-ALLOW-MARK, AZURE-NPM-EGRESS, AZURE-NPM-ACCEPT and one chain per policy
// and direction, jumped to from FORWARD for new connections right after kube-proxy's chains:
// `minaks exec NODE -- iptables-save` reads as on an AKS node. See README.md for the packet
// path and what differs from NPM.
//
// NPM's own code (github.com/Azure/azure-container-networking/npm) is not what runs: the Go
// module proxy serves no version of that module, so this is a reimplementation of its
// translation (Render, a pure function) and of its dataplane's writes (applier), after NPM's
// source.
package azurenpm
