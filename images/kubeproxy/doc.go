// Package kubeproxy is the built-in kube-proxy image (AKS's mcr.microsoft.com/oss/kubernetes/kube-proxy,
// upstream's registry.k8s.io/kube-proxy): the upstream kube-proxy command of the Kubernetes
// version minaks embeds, unchanged. It runs on every node as the kube-proxy DaemonSet's pod,
// with the node's network namespace (hostNetwork), where it writes the node's Service rules.
package kubeproxy
