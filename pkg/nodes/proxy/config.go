package proxy

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeproxyconfig "k8s.io/kubernetes/pkg/proxy/apis/config"
	"k8s.io/kubernetes/pkg/proxy/apis/config/scheme"
	"k8s.io/kubernetes/pkg/proxy/apis/config/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// Ports of kube-proxy's servers on a node, as on AKS.
const (
	HealthzPort = 10256
	MetricsPort = 10249
)

// Configuration is the kube-proxy configuration every node's kube-proxy reads, with its node's
// name from --hostname-override and its addresses from its Node:
//   - mode from kubeProxyConfig (IPTABLES by default, as on AKS), its ipvsConfig mapped to
//     kube-proxy's (RoundRobin → rr, LeastConnection → lc, timeouts);
//   - what is "local" traffic as AKS says it: the pods' veths (interface prefix "azv") with
//     Azure CNI in every mode, the cluster's pod range with kubenet;
//   - health and metrics servers on the node's addresses (0.0.0.0 in the node's network
//     namespace), NodePorts on every local address, the node's localhost included (iptables
//     mode sets route_localnet in the node's network namespace), as kube-proxy's default;
//   - conntrack left as it is (maxPerCore 0, no timeouts): those sysctls are the host's.
func Configuration(c *config.Cluster) (*kubeproxyv1alpha1.KubeProxyConfiguration, error) {
	kp := c.KubeProxy
	cfg := &kubeproxyv1alpha1.KubeProxyConfiguration{
		TypeMeta:           metav1.TypeMeta{APIVersion: kubeproxyv1alpha1.SchemeGroupVersion.String(), Kind: "KubeProxyConfiguration"},
		BindAddress:        "0.0.0.0",
		HealthzBindAddress: net.JoinHostPort("0.0.0.0", strconv.Itoa(HealthzPort)),
		MetricsBindAddress: net.JoinHostPort("0.0.0.0", strconv.Itoa(MetricsPort)),
		Mode:               kubeproxyv1alpha1.ProxyMode(strings.ToLower(kp.Mode)),
		Conntrack:          kubeproxyv1alpha1.KubeProxyConntrackConfiguration{MaxPerCore: ptr.To[int32](0)},
		ConfigSyncPeriod:   metav1.Duration{Duration: 15 * time.Minute},
	}
	cfg.ClientConnection.Kubeconfig = configDir + "/" + kubeconfigKey
	switch c.Network.CNI() {
	case config.CNIKubenet:
		cfg.DetectLocalMode = kubeproxyv1alpha1.LocalMode(kubeproxyconfig.LocalModeClusterCIDR)
		cfg.ClusterCIDR = strings.Join(c.Network.PodCIDRs, ",")
	case config.CNINone:
		cfg.DetectLocalMode = kubeproxyv1alpha1.LocalMode(kubeproxyconfig.LocalModeClusterCIDR)
	default:
		cfg.DetectLocalMode = kubeproxyv1alpha1.LocalMode(kubeproxyconfig.LocalModeInterfaceNamePrefix)
		cfg.DetectLocal.InterfaceNamePrefix = "azv"
		cfg.ClusterCIDR = strings.Join(c.Network.PodCIDRs, ",")
	}
	if ipvs := kp.IPVSConfig; ipvs != nil {
		cfg.IPVS.Scheduler = map[string]string{"": "", "RoundRobin": "rr", "LeastConnection": "lc"}[ipvs.Scheduler]
		seconds := func(s *int32) metav1.Duration {
			if s == nil {
				return metav1.Duration{}
			}
			return metav1.Duration{Duration: time.Duration(*s) * time.Second}
		}
		cfg.IPVS.TCPTimeout, cfg.IPVS.TCPFinTimeout, cfg.IPVS.UDPTimeout = seconds(ipvs.TCPTimeoutSeconds), seconds(ipvs.TCPFinTimeoutSeconds), seconds(ipvs.UDPTimeoutSeconds)
	}
	scheme.Scheme.Default(cfg)
	if err := validate(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// validate checks a configuration with kube-proxy's own validation.
func validate(cfg *kubeproxyv1alpha1.KubeProxyConfiguration) error {
	internal := &kubeproxyconfig.KubeProxyConfiguration{}
	if err := scheme.Scheme.Convert(cfg, internal, nil); err != nil {
		return err
	}
	if errs := validation.Validate(internal); len(errs) > 0 {
		return fmt.Errorf("kube-proxy configuration: %w", errs.ToAggregate())
	}
	return nil
}

// Marshal renders a configuration as the YAML file kube-proxy's --config reads.
func Marshal(cfg *kubeproxyv1alpha1.KubeProxyConfiguration) ([]byte, error) {
	return yaml.Marshal(cfg)
}
