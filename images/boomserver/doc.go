// Package boomserver is the built-in registry.k8s.io/e2e-test-images/regression-issue-74839,
// the server of upstream's test for kubernetes#74839: on every connection to its port 9000 it
// injects, through a raw socket, a TCP segment whose sequence number is out of the client's
// window. A proxy that lets conntrack's INVALID packets through un-NATed makes the client
// answer with a RST, which the server reports as "ERROR: RST received"; kube-proxy drops them
// (or sets nf_conntrack_tcp_be_liberal), and no RST comes.
package boomserver
