// Package apiserver runs the control plane of a minaks cluster inside the minaks daemon: embedded
// etcd and the upstream kube-apiserver, kube-controller-manager and kube-scheduler
// (k8s.io/kubernetes v1.37.2), each in a goroutine, the way k3s embeds them.
//
//	minaks daemon (one process per cluster)
//	├── etcd ─────────────── unix:<state>/etcd.sock (0600; no TCP listener at all)
//	├── kube-apiserver ───── https://127.0.0.1:<port>  (client certs, Node+RBAC, no anonymous)
//	│        ▲  started next to etcd; /readyz closes APIReady
//	├── kube-controller-manager ─┐ started once the API is ready; no leader election,
//	└── kube-scheduler ──────────┘ no serving ports; ControllersReady
//
// Each component is configured the way its own command would be: arguments are built as a map
// (args.go, unit-tested against the components' real flag sets), logged in full, and parsed
// into the component's options, which are completed, validated and run. What a process may do
// only once (signal handling, applying the logging configuration) is left to the daemon. A
// component that fails, panics or returns brings the others down in order; Run returns the
// first failure.
//
// The cloud controllers (service, route, cloud node lifecycle) are not in kube-controller-manager
// v1.37; minaks runs them from k8s.io/cloud-provider with its own Azure provider (pkg/azlb).
package apiserver
