// Package config holds the definition of one minaks cluster: the `az aks create` settings that
// shape it (network plugin and mode, address ranges, outbound type, kube-proxy configuration,
// node pool), AKS's defaults for every setting left out, and AKS's validation rules.
//
// A Cluster is built from flags by Options.Complete, which applies the defaults a fresh
// `az aks create` would and returns every problem found, each naming the flag it came from.
// The completed Cluster is what the daemon persists as cluster.json in the state directory.
package config
