// Package apply creates and updates the objects minaks owns in a cluster (its add-ons: the
// kube-proxy DaemonSet, CoreDNS, the app routing add-on's NGINX controllers) by server-side
// apply with field manager "minaks", so that a daemon restart brings them back to what minaks
// ships while fields other managers set stay. Objects takes the kinds of the typed client;
// Resource takes custom resources (the Gateway API's GatewayClass) through the dynamic client.
package apply
