// Package kubeconfig writes the kubeconfig of a minaks cluster and merges it into, or removes it
// from, a user's kubeconfig file the way kind does: one cluster, user and context named
// minaks-<name>, other entries left as they are, the file kept at mode 0600.
package kubeconfig
