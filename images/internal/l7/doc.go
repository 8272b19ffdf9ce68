// Package l7 is the HTTP data plane that minaks's ingress and gateway images share: one route
// model (Config: listeners, virtual hosts, routes, upstreams) that each translator builds —
// the ingress-nginx controller's from Ingresses, the Gateway API implementation's from
// HTTPRoutes — and one proxy that serves it.
//
// A Config is immutable; Proxy.Update swaps it atomically, so configuration and endpoint
// changes apply without a reload and without dropping connections in flight. Every request
// the proxy serves is reported to an Observer (access log lines, metrics).
//
// The Proxy behaves as nginx configured by ingress-nginx v1.13: the same server and location
// selection (Select is that decision alone, for tests and tools), the same order of checks,
// the same headers to backends, retries as proxy_next_upstream, nginx's own error pages
// (NginxErrorPage) and the fields of its "upstreaminfo" access log (Entry.UpstreamInfo).
// README.md draws the request path, and lists what the Gateway API translator sets to
// behave as Envoy instead (Forwarding.Envoy, WeightedBackend.Status, Route.Mirrors,
// Listener.H2C).
package l7
