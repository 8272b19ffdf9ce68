// Package nodes makes a cluster's nodes: for each VMSS instance of the node pool (pkg/azlb), a
// network namespace plugged into the fabric (pkg/netstack) and an agent — minaks's kubelet, a
// goroutine of the daemon with the node's own credentials — that registers the Node as an AKS
// node registers (name, labels, capacity per VM size and max-pods, node info, conditions) and
// keeps it alive with Lease heartbeats. The upstream cloud node controller then initializes it
// from the cloud provider (providerID, addresses, zone, instance type), as on AKS. The agent
// runs the pods bound to its node: a sandbox per pod, a pod worker that runs its containers as
// the kubelet does (volumes, init containers, restart back-off, probes, hooks, status and
// events), and the kubelet's API for logs, exec, attach and port-forward. See README.md.
package nodes
