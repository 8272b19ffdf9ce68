// Package cluster manages the life of minaks clusters on a host: `up` (start a daemon per
// cluster, report its progress, merge the kubeconfig), `down` (stop it and remove every trace),
// status and listing. It is the top of minaks's packages: the daemon brings together the
// control plane (pkg/apiserver), the fabric (pkg/netstack), the Azure load balancer (pkg/azlb)
// and the node agents (pkg/nodes), none of which imports it (TestLayers).
//
// Each cluster has a state directory <state-dir>/<name> (mode 0700) holding cluster.json, the
// PKI, etcd's data and sockets, the kubeconfigs and the daemon's log. The daemon is the minaks
// binary re-executed as `minaks daemon --name=<name> --state-dir=<dir>`; it runs the control
// plane and reports progress to `up` over an inherited pipe (fd 3) as JSON lines.
//
// Nothing here treats a file as the truth about what runs: daemons are found by scanning /proc
// for that command line, so `down` works after `kill -9` of the daemon and after the state
// directory is gone.
package cluster
