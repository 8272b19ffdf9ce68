// Package xtables gives a node component's image (kube-proxy, azure-npm) the iptables of the
// node's backend, as upstream's iptables-wrapper does.
package xtables

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
)

// Dir is where an image's iptables commands are, first in its PATH.
const Dir = "/usr/local/sbin"

// Path is the PATH of such an image's config.
const Path = "PATH=" + Dir + ":/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Select does what the upstream image's iptables-wrapper does: it uses the backend
// whose mangle table holds the kubelet's KUBE-IPTABLES-HINT chain (else the one with more
// rules, nf_tables on a tie) and makes dir's iptables, ip6tables and their -save and -restore
// that backend's, in the container's own filesystem.
func Select(dir string) error {
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
