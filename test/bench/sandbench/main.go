// Command sandbench measures pod sandbox setup, the network half of starting a pod: creating the
// pod's namespace and plugging it into its node (netstack.AttachPod, Azure CNI style), per pod,
// next to the raw cost measured in the same run: creating a namespace and a veth pair into it
// with netlink and nothing else. It builds a throwaway fabric and node of its own and removes
// them at the end.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
)

func main() {
	pods := flag.Int("pods", 300, "pods to set up")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "sandbench: run as root")
		os.Exit(1)
	}
	if err := run(*pods); err != nil {
		fmt.Fprintln(os.Stderr, "sandbench:", err)
		os.Exit(1)
	}
}

func run(pods int) error {
	cluster := fmt.Sprintf("sandbench-%d", os.Getpid())
	defer netstack.RemoveCluster(cluster)
	f := &netstack.Fabric{Cluster: cluster, Subnet: netip.MustParsePrefix("10.232.0.0/16")}
	if err := f.Ensure(); err != nil {
		return err
	}
	node := netstack.NSPrefix(cluster) + "node"
	if err := f.AttachNode(netstack.NodeNIC{NS: node, Port: "vmss000000", Alias: "node", IP: netip.MustParseAddr("10.232.0.4")}); err != nil {
		return err
	}

	var sandbox, raw []time.Duration
	ip := netip.MustParseAddr("10.232.0.4")
	for i := range pods {
		ip = ip.Next()
		nic := netstack.PodNIC{
			NS: fmt.Sprintf("%spod-%d", netstack.NSPrefix(cluster), i), NodeNS: node,
			UID: fmt.Sprintf("pod-%d", i), IP: ip, Style: netstack.PodRouted,
		}
		start := time.Now()
		if err := netstack.AttachPod(nic); err != nil {
			return err
		}
		sandbox = append(sandbox, time.Since(start))

		d, err := rawSandbox(cluster, node, i)
		if err != nil {
			return err
		}
		raw = append(raw, d)
	}
	fmt.Printf("\n%-58s %9s %9s %9s\n", fmt.Sprintf("pod sandbox setup (%d pods)", pods), "p50", "p99", "max")
	row := func(name string, d []time.Duration) time.Duration {
		slices.Sort(d)
		p := func(q float64) time.Duration { return d[int(q*float64(len(d)-1))].Round(time.Microsecond) }
		fmt.Printf("%-58s %9v %9v %9v\n", name, p(0.5), p(0.99), d[len(d)-1].Round(time.Microsecond))
		return p(0.99)
	}
	s := row("minaks AttachPod (netns, veth, addresses, routes, sysctls)", sandbox)
	r := row("baseline: netns + veth pair with netlink, nothing else", raw)
	fmt.Printf("\nratio p99 sandbox / baseline: %.2f (target: sandbox p99 <= 5ms)\n", float64(s)/float64(r))
	return nil
}

// rawSandbox is the bare minimum a sandbox needs: a namespace and a veth pair into it.
func rawSandbox(cluster, node string, i int) (time.Duration, error) {
	ns := fmt.Sprintf("%sraw-%d", netstack.NSPrefix(cluster), i)
	start := time.Now()
	if err := netns.Create(ns); err != nil {
		return 0, err
	}
	h, err := netns.Netlink(node)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	fd, err := netns.Open(ns)
	if err != nil {
		return 0, err
	}
	defer fd.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("raw%d", i)}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(fd))}
	if err := h.LinkAdd(veth); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
