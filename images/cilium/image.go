package cilium

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	proxyapp "k8s.io/kubernetes/cmd/kube-proxy/app"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/images/internal/netpol"
	"github.com/minaks/minaks/images/internal/xtables"
)

func init() {
	images.Register(&images.Image{
		Name:        "cilium",
		References:  []string{"mcr.microsoft.com/oss/cilium/cilium", "quay.io/cilium/cilium"},
		Program:     "cilium-agent",
		Binary:      images.KubeBinary,
		HostRoot:    true,
		Entrypoint:  []string{"cilium-agent"},
		Paths:       []string{"/usr/bin/cilium-agent"},
		Env:         []string{xtables.Path},
		Main:        Main,
		Description: "Cilium's agent (--network-dataplane cilium): NetworkPolicies and Cilium's policies with Cilium's semantics, Services by kube-proxy's nftables proxier in place of kube-proxy",
	})
}

// The agent's health (cilium-health's API, /healthz) and Prometheus ports, as Cilium's.
const (
	healthAddr  = "127.0.0.1:9879"
	metricsPort = "9962"
)

// Config keys of the ConfigMap cilium-config that the agent reads: whether it replaces
// kube-proxy, and the configuration of the kube-proxy it runs for that.
// KeyEnableIPv6 ("true") makes it enforce policy on IPv6 too, in a dual-stack cluster.
const (
	KeyKubeProxyReplacement = "kube-proxy-replacement"
	KeyKubeProxyConfig      = "kube-proxy-replacement-config.yaml"
	KeyEnableIPv6           = "enable-ipv6"
)

// Main runs `cilium-agent --config-dir=DIR`.
func Main(args []string) int {
	fs := flag.NewFlagSet("cilium-agent", flag.ContinueOnError)
	klog.InitFlags(fs)
	configDir := fs.String("config-dir", "/tmp/cilium/config-map", "the directory of the cilium-config ConfigMap's keys")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	key := func(name string) (bool, error) {
		v, err := os.ReadFile(filepath.Join(*configDir, name))
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return strings.TrimSpace(string(v)) == "true", err
	}
	kpr, err := key(KeyKubeProxyReplacement)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cilium-agent: %v\n", err)
		return 1
	}
	v6, err := key(KeyEnableIPv6)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cilium-agent: %v\n", err)
		return 1
	}
	var proxy []string
	if kpr {
		proxy = []string{"--config=" + filepath.Join(*configDir, KeyKubeProxyConfig), "--v=2"}
	}
	return netpol.Main("cilium-agent", "K8S_NODE_NAME", func(node string) *netpol.Agent { return agent(node, v6, proxy) })
}

// agent is Cilium's agent on node: policy (IPv6 too with v6), and with proxyArgs, the node's Services by the
// upstream kube-proxy's command run inside it (Cilium's kube-proxy replacement).
func agent(node string, v6 bool, proxyArgs []string) *netpol.Agent {
	appliers := []*netpol.Applier{NewApplier(netpol.RunCommand, false)}
	if v6 {
		appliers = append(appliers, NewApplier(netpol.RunCommand, true))
	}
	// The API server's address: the agent's KUBERNETES_SERVICE_HOST, as on AKS, which is
	// also what the entity kube-apiserver is.
	apiServer, _ := netip.ParseAddr(os.Getenv("KUBERNETES_SERVICE_HOST"))
	a := &netpol.Agent{
		Name: "cilium-agent",
		Write: func(c *netpol.Cluster) error {
			for _, a := range appliers {
				if err := a.Apply(Render(c, node, apiServer, a.IPv6)); err != nil {
					return err
				}
			}
			return nil
		},
		Addr:        healthAddr,
		HealthPaths: []string{"/healthz"},
		MetricsAddr: net.JoinHostPort("", metricsPort),
		MetricsPath: "/metrics",
		ApplyTime:   "cilium_policy_implementation_delay",
		Custom: []schema.GroupVersionResource{
			{Group: Group, Version: Version, Resource: ResourceCNP},
			{Group: Group, Version: Version, Resource: ResourceCCNP},
		},
	}
	if proxyArgs != nil {
		a.Beside = func(ctx context.Context) error {
			cmd := proxyapp.NewProxyCommand()
			cmd.SetArgs(append(proxyArgs, "--hostname-override="+node))
			if err := cmd.ExecuteContext(ctx); err != nil {
				return fmt.Errorf("kube-proxy replacement: %w", err)
			}
			return errors.New("kube-proxy replacement: stopped")
		}
	}
	return a
}
