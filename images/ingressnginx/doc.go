// Package ingressnginx is the built-in ingress-nginx controller image: AKS's application routing
// add-on runs it as mcr.microsoft.com/oss/kubernetes/ingress/nginx-ingress-controller, the
// community chart as registry.k8s.io/ingress-nginx/controller. It takes ingress-nginx's command
// line (flags.go), watches what ingress-nginx watches (Ingresses, IngressClasses, Services,
// EndpointSlices, Secrets, its ConfigMap), translates them with ingress-nginx's rules
// (package translate) and serves the result with minaks's own HTTP proxy (images/internal/l7)
// in nginx's place: configuration and endpoint changes apply at once, with no reload and no
// connection dropped.
//
// Around the proxy it does what the controller does: the Ingresses' status.loadBalancer from
// --publish-service (written by the leader of the --election-id Lease), the "Sync" Events and
// Warning Events for what it refuses or does not emulate, /healthz and Prometheus metrics on
// --healthz-port with ingress-nginx's names, the access log on stdout in ingress-nginx's
// default format, and the shutdown sequence (--shutdown-grace-period, then the requests in
// flight finish).
//
// Its program lives in images.KubeBinary, with the other images built on client-go. The image's
// entrypoint is dumb-init, as upstream's: the image answers to that name too and execs its
// arguments.
package ingressnginx
