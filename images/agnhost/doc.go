// Package agnhost is the built-in registry.k8s.io/e2e-test-images/agnhost: the Kubernetes
// end-to-end test image, one binary with a subcommand per tool, so that upstream networking
// tests and the manifests built on them run unchanged. The subcommands follow upstream agnhost
// (k8s.io/kubernetes/test/images/agnhost) in flags, endpoints, output and exit codes.
package agnhost
