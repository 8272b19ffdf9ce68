package azurenpm

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"

	"k8s.io/klog/v2"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/images/internal/netpol"
	"github.com/minaks/minaks/images/internal/xtables"
)

func init() {
	images.Register(&images.Image{
		Name:        "azure-npm",
		References:  []string{"mcr.microsoft.com/containernetworking/azure-npm"},
		Program:     "azure-npm",
		Binary:      images.KubeBinary,
		HostRoot:    true,
		Entrypoint:  []string{"/usr/bin/azure-npm", "start"},
		Paths:       []string{"/usr/bin/azure-npm"},
		Env:         []string{xtables.Path},
		Ports:       []int{defaultPort},
		Main:        Main,
		Description: "Azure Network Policy Manager (--network-policy azure): NetworkPolicies as NPM v2's iptables chains and ipsets in the node",
	})
}

// defaultPort is NPM's ListeningPort: metrics and health.
const defaultPort = 10091

// Config is the part of NPM's configuration (the ConfigMap azure-npm-config, file $NPM_CONFIG)
// that the built-in image reads.
type Config struct {
	ListeningPort    int    `json:"ListeningPort"`
	ListeningAddress string `json:"ListeningAddress"`
}

// Main runs `azure-npm start`.
func Main(args []string) int {
	fs := flag.NewFlagSet("azure-npm", flag.ContinueOnError)
	klog.InitFlags(fs)
	if len(args) == 0 || args[0] != "start" {
		fmt.Fprintln(os.Stderr, "usage: azure-npm start [flags]")
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := loadConfig(os.Getenv("NPM_CONFIG"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "azure-npm: %v\n", err)
		return 1
	}
	addr := net.JoinHostPort(cfg.ListeningAddress, strconv.Itoa(cfg.ListeningPort))
	return netpol.Main("azure-npm", "HOSTNAME", func(node string) *netpol.Agent { return npm(node, addr) })
}

// loadConfig reads NPM's JSON configuration; a missing file gives NPM's defaults.
func loadConfig(path string) (Config, error) {
	cfg := Config{ListeningPort: defaultPort, ListeningAddress: "0.0.0.0"}
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// npm is NPM's agent on node: the cluster's policy as NPM's rules, written by the applier.
func npm(node, metricsAddr string) *netpol.Agent {
	applier := NewApplier(netpol.RunCommand)
	return &netpol.Agent{
		Name: "azure-npm",
		Write: func(c *netpol.Cluster) error {
			return applier.Apply(Render(c, node))
		},
		Addr:        metricsAddr,
		HealthPaths: []string{"/healthz"},
		MetricsPath: "/node-metrics",
		ApplyTime:   "npm_add_policy_exec_time",
	}
}
