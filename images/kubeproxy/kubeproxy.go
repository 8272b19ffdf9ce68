package kubeproxy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

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
		Env:         []string{"PATH=" + sbin + ":/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Paths:       []string{"/usr/local/bin/kube-proxy"},
		Main:        Main,
		Description: "upstream kube-proxy (iptables, nftables, ipvs), as the kube-proxy DaemonSet runs it",
	})
}

// sbin is where the image's iptables commands are, first in its PATH.
const sbin = "/usr/local/sbin"

// Main runs the kube-proxy command with args. In a container (PID 1 of its own PID
// namespace) it first picks the node's iptables backend.
func Main(args []string) int {
	if os.Getpid() == 1 {
		if err := selectIPTables(sbin); err != nil {
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

// selectIPTables does what the upstream image's iptables-wrapper does: it uses the backend
// whose mangle table holds the kubelet's KUBE-IPTABLES-HINT chain (else the one with more
// rules, nf_tables on a tie) and makes dir's iptables, ip6tables and their -save and -restore
// that backend's, in the container's own filesystem.
func selectIPTables(dir string) error {
	hint := func(mode string) bool {
		out, err := exec.Command("iptables-"+mode+"-save", "-t", "mangle").Output()
		return err == nil && bytes.Contains(out, []byte(":KUBE-IPTABLES-HINT"))
	}
	rules := func(mode string) int {
		n := 0
		for _, family := range []string{"iptables", "ip6tables"} {
			out, _ := exec.Command(family + "-" + mode + "-save").Output()
			n += bytes.Count(out, []byte("\n-"))
		}
		return n
	}
	mode := "nft"
	switch {
	case hint("legacy"):
		mode = "legacy"
	case hint("nft"):
	case rules("legacy") > rules("nft"):
		mode = "legacy"
	}
	multi, err := exec.LookPath("xtables-" + mode + "-multi")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, family := range []string{"iptables", "ip6tables"} {
		for _, suffix := range []string{"", "-save", "-restore"} {
			link := filepath.Join(dir, family+suffix)
			if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
				return err
			}
			if err := os.Symlink(multi, link); err != nil {
				return err
			}
		}
	}
	return nil
}
