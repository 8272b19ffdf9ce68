// Package addons holds the add-ons that AKS runs in kube-system and that minaks deploys the
// same way: for now CoreDNS, as the Deployment `coredns` behind the Service `kube-dns`.
//
// Generating the objects is a pure function of the cluster's DNS settings (CoreDNSObjects,
// Corefile); Apply sends them to the API server by server-side apply (package apply, field
// manager "minaks") at every daemon start, so that the add-on comes back to what minaks ships
// while the fields other managers set stay. The ConfigMap coredns-custom is the users': Apply
// creates it empty when it is missing and never touches it otherwise.
//
// The Corefile is AKS's: the kubernetes plugin for the cluster domain and the reverse zones,
// Azure DNS through the node's resolv.conf, NXDOMAIN for the search-list completions under
// internal.cloudapp.net and reddog.microsoft.com, and the two hooks of coredns-custom:
// `import custom/*.override` inside the default server block, `import custom/*.server` beside
// it. The built-in CoreDNS image (images/coredns) reloads both without a pod restart.
package addons
