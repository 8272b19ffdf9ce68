package kubeproxy

import (
	"k8s.io/kubernetes/cmd/kube-proxy/app"

	"github.com/minaks/minaks/images"
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
		Program: "kube-proxy",
		Binary:  images.KubeBinary,
		// The upstream image has no entrypoint: its pods run "kube-proxy" from the PATH.
		Env:         []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Paths:       []string{"/usr/local/bin/kube-proxy"},
		Main:        Main,
		Description: "upstream kube-proxy (iptables, nftables, ipvs), as the kube-proxy DaemonSet runs it",
	})
}

// Main runs the kube-proxy command with args.
func Main(args []string) int {
	cmd := app.NewProxyCommand()
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		return 1
	}
	return 0
}
