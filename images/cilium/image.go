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
const (
	KeyKubeProxyReplacement = "kube-proxy-replacement"
	KeyKubeProxyConfig      = "kube-proxy-replacement-config.yaml"
)

// Main runs `cilium-agent --config-dir=DIR`.
func Main(args []string) int {
	fs := flag.NewFlagSet("cilium-agent", flag.ContinueOnError)
	klog.InitFlags(fs)
	configDir := fs.String("config-dir", "/tmp/cilium/config-map", "the directory of the cilium-config ConfigMap's keys")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var proxy []string
	kpr, err := os.ReadFile(filepath.Join(*configDir, KeyKubeProxyReplacement))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "cilium-agent: %v\n", err)
		return 1
	}
	if strings.TrimSpace(string(kpr)) == "true" {
		proxy = []string{"--config=" + filepath.Join(*configDir, KeyKubeProxyConfig), "--v=2"}
	}
	return netpol.Main("cilium-agent", "K8S_NODE_NAME", func(node string) *netpol.Agent { return agent(node, proxy) })
}

// agent is Cilium's agent on node: policy, and with proxyArgs, the node's Services by the
// upstream kube-proxy's command run inside it (Cilium's kube-proxy replacement).
func agent(node string, proxyArgs []string) *netpol.Agent {
	applier := NewApplier(netpol.RunCommand)
	// The API server's address: the agent's KUBERNETES_SERVICE_HOST, as on AKS, which is
	// also what the entity kube-apiserver is.
	apiServer, _ := netip.ParseAddr(os.Getenv("KUBERNETES_SERVICE_HOST"))
	a := &netpol.Agent{
		Name: "cilium-agent",
		Write: func(c *netpol.Cluster) error {
			return applier.Apply(Render(c, node, apiServer))
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
