// Package pause is the built-in pause image (registry.k8s.io/pause): the sandbox container
// that holds a pod's namespaces and does nothing until it is told to stop.
package pause
