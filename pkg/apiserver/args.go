package apiserver

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/pki"
)

// Args are a component's command-line arguments, as a map from flag name to value. Building them
// as a map keeps each flag in one place; List turns them into the sorted `--flag=value` form
// that is parsed and logged.
type Args map[string]string

// List returns the arguments as sorted `--flag=value` strings.
func (a Args) List() []string {
	out := make([]string, 0, len(a))
	for _, k := range slices.Sorted(maps.Keys(a)) {
		out = append(out, fmt.Sprintf("--%s=%s", k, a[k]))
	}
	return out
}

// String is the argument line as logged.
func (a Args) String() string { return strings.Join(a.List(), " ") }

// Paths are the files the components read, all inside the cluster's state directory.
type Paths struct {
	PKI                         pki.Dir
	EtcdSocket                  string
	ControllerManagerKubeconfig string
	SchedulerKubeconfig         string
	// EgressSelectorConfig sends the API server's "cluster" connections (kubelets, pods,
	// services) to ClusterEgressSocket, an HTTP CONNECT proxy the daemon serves.
	EgressSelectorConfig string
	ClusterEgressSocket  string
}

// NewPaths lays the files out inside the cluster's state directory.
func NewPaths(c *config.Cluster) Paths {
	return Paths{
		PKI:                         pki.Dir(c.Path("pki")),
		EtcdSocket:                  c.Path("etcd.sock"),
		ControllerManagerKubeconfig: c.Path("controller-manager.kubeconfig"),
		SchedulerKubeconfig:         c.Path("scheduler.kubeconfig"),
		EgressSelectorConfig:        c.Path("egress-selector.yaml"),
		ClusterEgressSocket:         c.Path("egress.sock"),
	}
}

// ServiceAccountIssuer is the issuer of service-account tokens, as on AKS without OIDC issuer.
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// APIServerArgs are the kube-apiserver arguments for a cluster.
func APIServerArgs(c *config.Cluster, p Paths) Args {
	return Args{
		// Loopback only: the API is not reachable from the LAN. The cluster reaches it at the
		// subnet's .2 in the fabric, forwarded to this listener, which it advertises: the lease
		// endpoint reconciler publishes it as the endpoint of the kubernetes Service.
		"bind-address":             "127.0.0.1",
		"advertise-address":        c.Network.APIServerIP().String(),
		"secure-port":              fmt.Sprint(c.APIPort),
		"endpoint-reconciler-type": "lease",

		"etcd-servers": "unix://" + p.EtcdSocket,

		"tls-cert-file":        p.PKI.CertPath(pki.APIServer),
		"tls-private-key-file": p.PKI.KeyPath(pki.APIServer),
		"client-ca-file":       p.PKI.CertPath(pki.CA),
		"anonymous-auth":       "false",
		"authorization-mode":   "Node,RBAC",
		// The default admission plugins, plus NodeRestriction as on AKS.
		"enable-admission-plugins": "NodeRestriction",
		"allow-privileged":         "true",
		"profiling":                "false",

		"kubelet-client-certificate":         p.PKI.CertPath(pki.APIServerKubeletClient),
		"kubelet-client-key":                 p.PKI.KeyPath(pki.APIServerKubeletClient),
		"kubelet-preferred-address-types":    "InternalIP,Hostname",
		"egress-selector-config-file":        p.EgressSelectorConfig,
		"proxy-client-cert-file":             p.PKI.CertPath(pki.FrontProxyClient),
		"proxy-client-key-file":              p.PKI.KeyPath(pki.FrontProxyClient),
		"requestheader-client-ca-file":       p.PKI.CertPath(pki.FrontProxyCA),
		"requestheader-allowed-names":        "front-proxy-client",
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-username-headers":     "X-Remote-User",

		"service-account-issuer":           ServiceAccountIssuer,
		"service-account-key-file":         p.PKI.SAPublicKeyPath(),
		"service-account-signing-key-file": p.PKI.KeyPath(pki.ServiceAccount),
		"service-cluster-ip-range":         strings.Join(c.Network.ServiceCIDRs, ","),

		// One process: no reason to wait for load balancers to notice a shutdown.
		"shutdown-delay-duration":   "0s",
		"shutdown-send-retry-after": "false",
	}
}

// ControllerManagerArgs are the kube-controller-manager arguments for a cluster. The cloud
// controllers (service, route, cloud node lifecycle) are not part of it: the daemon runs them from
// k8s.io/cloud-provider with minaks's Azure provider.
func ControllerManagerArgs(c *config.Cluster, p Paths) Args {
	a := Args{
		"kubeconfig":                       p.ControllerManagerKubeconfig,
		"leader-elect":                     "false",
		"secure-port":                      "0",
		"controllers":                      "*,bootstrapsigner,tokencleaner",
		"use-service-account-credentials":  "true",
		"kube-api-qps":                     "200",
		"kube-api-burst":                   "400",
		"root-ca-file":                     p.PKI.CertPath(pki.CA),
		"service-account-private-key-file": p.PKI.KeyPath(pki.ServiceAccount),
		"cluster-signing-cert-file":        p.PKI.CertPath(pki.CA),
		"cluster-signing-key-file":         p.PKI.KeyPath(pki.CA),
		"cluster-name":                     c.Name,
		"service-cluster-ip-range":         strings.Join(c.Network.ServiceCIDRs, ","),
		"profiling":                        "false",
	}
	if c.Network.AllocatesNodeCIDRs() {
		// Node IPAM: a /24 per node from the pod range (and a /80 per node for IPv6), as AKS.
		a["allocate-node-cidrs"] = "true"
		a["cluster-cidr"] = strings.Join(c.Network.PodCIDRs, ",")
		a["node-cidr-mask-size-ipv4"] = "24"
		if len(c.Network.PodCIDRs) > 1 {
			a["node-cidr-mask-size-ipv6"] = "80"
		}
	}
	return a
}

// SchedulerArgs are the kube-scheduler arguments for a cluster.
func SchedulerArgs(p Paths) Args {
	return Args{
		"kubeconfig":   p.SchedulerKubeconfig,
		"leader-elect": "false",
		"secure-port":  "0",
		"profiling":    "false",
	}
}
