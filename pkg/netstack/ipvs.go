package netstack

import (
	"os"

	"github.com/vishvananda/netlink"
)

// HasIPVS reports whether the kernel offers IPVS, which kube-proxy's IPVS mode needs: the ip_vs
// module shows /proc/net/ip_vs once loaded, and answers to its generic netlink family "IPVS"
// (asking for the family loads the module where it exists).
func HasIPVS() bool {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		return true
	}
	_, err := netlink.GenlFamilyGet("IPVS")
	return err == nil
}
