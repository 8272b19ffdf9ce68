// Package proxy is kube-proxy on minaks's nodes, configured as AKS configures it: the upstream
// KubeProxyConfiguration of each node, made from the cluster's network profile and AKS's
// kubeProxyConfig (--kube-proxy-config), and checked with kube-proxy's own validation.
package proxy
