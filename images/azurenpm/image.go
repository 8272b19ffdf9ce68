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
	"github.com/minaks/minaks/images/internal/serve"
	"github.com/minaks/minaks/images/internal/xtables"
)

func init() {
	images.Register(&images.Image{
		Name:        "azure-npm",
		References:  []string{"mcr.microsoft.com/containernetworking/azure-npm"},
		Program:     "azure-npm",
		Binary:      images.KubeBinary,
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
	if os.Getpid() == 1 { // in a container: the node's iptables backend, as NPM detects it
		if err := xtables.Select(xtables.Dir); err != nil {
			fmt.Fprintf(os.Stderr, "azure-npm: choosing the iptables backend: %v\n", err)
			return 1
		}
	}
	node := os.Getenv("HOSTNAME")
	if node == "" {
		node, _ = os.Hostname()
	}
	ctx, _ := serve.SignalContext()
	addr := net.JoinHostPort(cfg.ListeningAddress, strconv.Itoa(cfg.ListeningPort))
	if err := run(klog.NewContext(ctx, klog.Background()), node, addr); err != nil {
		klog.ErrorS(err, "azure-npm stopped")
		return 1
	}
	return 0
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
