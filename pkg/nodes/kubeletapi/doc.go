// Package kubeletapi is the kubelet's HTTPS API that each node agent serves on nodeIP:10250, so
// that `kubectl logs`, `exec`, `attach`, `port-forward` and `cp` work through the API server as
// with a real kubelet. It keeps the kubelet's URL layout (pkg/kubelet/server/server.go):
//
//	GET       /healthz, /pods
//	GET       /containerLogs/{namespace}/{pod}/{container}?follow&tailLines&sinceSeconds&...
//	GET|POST  /exec/{namespace}/{pod}[/{uid}]/{container}?command=...&input&output&error&tty
//	GET|POST  /attach/{namespace}/{pod}[/{uid}]/{container}?input&output&error&tty
//	GET|POST  /portForward/{namespace}/{pod}[/{uid}]
//	POST      /run/{namespace}/{pod}[/{uid}]/{container}?cmd=...
//	GET       /stats/summary, /metrics, /metrics/resource, /metrics/probes
//
// The streaming protocols are the kubelet's own code: k8s.io/cri-streaming serves SPDY
// (v1..v4.channel.k8s.io, portforward.k8s.io) and v4 WebSockets; kubectl's v5.channel.k8s.io
// WebSockets and its SPDY-over-WebSocket port-forward tunnels go through the API server's
// translators (k8s.io/apiserver/pkg/util/proxy) to those SPDY handlers, as in a 1.37 kubelet.
//
// What reaches a node depends on the Node: the 1.37 API server proxies a WebSocket to the
// kubelet unchanged only when status.declaredFeatures lists ExtendWebSocketsToKubelet, and
// otherwise translates it to SPDY itself, as for kubelets older than 1.36. Either works here.
//
// Requests are authenticated and authorized as the kubelet does with
// authentication.webhook.enabled and authorization.mode=Webhook (cmd/kubelet/app/auth.go):
// anonymous requests are refused; client certificates signed by the cluster CA (user = CN,
// groups = O) or bearer tokens checked with a TokenReview get in; then a SubjectAccessReview
// for the node's "nodes" resource with the subresource the path maps to (proxy, pods, healthz,
// log, stats, metrics). Both reviews are made with the node's own client, which the Node
// authorizer allows.
package kubeletapi
