package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
)

func TestConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*config.Options)
		check func(t *testing.T, yaml string)
	}{
		{"AKS default: iptables, Azure CNI local detection", nil, func(t *testing.T, y string) {
			for _, want := range []string{
				"mode: iptables", "detectLocalMode: InterfaceNamePrefix", "interfaceNamePrefix: azv", "clusterCIDR: 10.244.0.0/16",
				"healthzBindAddress: 0.0.0.0:10256", "metricsBindAddress: 0.0.0.0:10249", "bindAddress: 0.0.0.0",
				"nodePortAddresses: null", "localhostNodePorts: true", "maxPerCore: 0", "kubeconfig: /var/lib/kube-proxy/kubeconfig.conf",
			} {
				if !strings.Contains(y, want) {
					t.Errorf("lacks %q:\n%s", want, y)
				}
			}
		}},
		{"kubenet: the pod range is local", func(o *config.Options) { o.NetworkPlugin = "kubenet" }, func(t *testing.T, y string) {
			if !strings.Contains(y, "detectLocalMode: ClusterCIDR") || !strings.Contains(y, "clusterCIDR: 10.244.0.0/16") {
				t.Errorf("kubenet:\n%s", y)
			}
		}},
		{"dual-stack: both pod ranges", func(o *config.Options) { o.IPFamilies = []string{"ipv4", "ipv6"} }, func(t *testing.T, y string) {
			if !strings.Contains(y, "clusterCIDR: 10.244.0.0/16,fd12:3456:789a::/64") {
				t.Errorf("dual-stack:\n%s", y)
			}
		}},
		{"IPVS with AKS's ipvsConfig", func(o *config.Options) {
			o.KubeProxyConfig = `{"mode":"IPVS","ipvsConfig":{"scheduler":"LeastConnection","tcpTimeoutSeconds":900,"tcpFinTimeoutSeconds":120,"udpTimeoutSeconds":300}}`
		}, func(t *testing.T, y string) {
			for _, want := range []string{"mode: ipvs", "scheduler: lc", "tcpTimeout: " + (900 * time.Second).String(), "tcpFinTimeout: 2m0s", "udpTimeout: 5m0s"} {
				if !strings.Contains(y, want) {
					t.Errorf("lacks %q:\n%s", want, y)
				}
			}
		}},
		{"NFTABLES", func(o *config.Options) { o.KubeProxyConfig = `{"mode":"NFTABLES"}` }, func(t *testing.T, y string) {
			if !strings.Contains(y, "mode: nftables") {
				t.Errorf("nftables:\n%s", y)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Configuration(configtest.Cluster(t, tc.set))
			if err != nil {
				t.Fatal(err)
			}
			y, err := Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, string(y))
		})
	}
}

// TestConfigurationInvalid: kube-proxy's own validation stands behind the configuration.
func TestConfigurationInvalid(t *testing.T) {
	cfg, err := Configuration(configtest.Cluster(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg.IPTables.MasqueradeBit = new(int32)
	*cfg.IPTables.MasqueradeBit = 40
	if err := validate(cfg); err == nil || !strings.Contains(err.Error(), "MasqueradeBit") {
		t.Errorf("masqueradeBit 40 accepted: %v", err)
	}
}
