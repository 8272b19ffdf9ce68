package kubeproxy

import (
	"fmt"
	"os"

	"k8s.io/kubernetes/cmd/kube-proxy/app"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/images/internal/xtables"
)

func init() {
	images.Register(&images.Image{
		Name: "kube-proxy",
		References: []string{
			"mcr.microsoft.com/oss/kubernetes/kube-proxy",
			"mcr.microsoft.com/oss/v2/kubernetes/kube-proxy",
			"registry.k8s.io/kube-proxy",
			"k8s.gcr.io/kube-proxy",
		},
		Program:  "kube-proxy",
		Binary:   images.KubeBinary,
		HostRoot: true,
		// The upstream image has no entrypoint: its pods run "kube-proxy" from the PATH.
		Env:         []string{xtables.Path},
		Paths:       []string{"/usr/local/bin/kube-proxy"},
		Main:        Main,
		Description: "upstream kube-proxy (iptables, nftables, ipvs), as the kube-proxy DaemonSet runs it",
	})
}

// Main runs the kube-proxy command with args. In a container (PID 1 of its own PID
// namespace) it first picks the node's iptables backend.
func Main(args []string) int {
	if os.Getpid() == 1 {
		if err := xtables.Select(xtables.Dir); err != nil {
			fmt.Fprintf(os.Stderr, "kube-proxy image: choosing the iptables backend: %v\n", err)
			return 1
		}
	}
	cmd := app.NewProxyCommand()
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		return 1
	}
	return 0
}
