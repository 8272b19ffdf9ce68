// Package metricsserver is the built-in metrics-server image (mcr.microsoft.com/oss/v2/kubernetes/
// metrics-server, registry.k8s.io/metrics-server/metrics-server): upstream metrics-server
// (sigs.k8s.io/metrics-server) run as a library, as AKS deploys it in kube-system. It scrapes
// each node's kubelet at /metrics/resource (package pkg/nodes/kubeletapi serves it from the
// pods' cgroups or /proc) and serves the metrics.k8s.io API that `kubectl top` and the
// HorizontalPodAutoscaler read, through the API server's aggregation layer.
//
// Its program lives in images.KubeBinary, with the other programs built on Kubernetes libraries.
package metricsserver
