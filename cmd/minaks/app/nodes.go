package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/nodes"
)

func newNodesCommand() *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List a cluster's nodes with their IPs, pod ranges and namespaces",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadCluster(o)
			if err != nil {
				return err
			}
			client, err := apiserver.AdminClient(c)
			if err != nil {
				return err
			}
			list, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("list nodes (is the cluster running?): %w", err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 3, ' ', 0)
			defer w.Flush()
			fmt.Fprintln(w, "NAME\tSTATUS\tINTERNAL-IP\tPOD-CIDR\tZONE\tNETNS")
			for _, n := range list.Items {
				status := "NotReady"
				if nodes.IsReady(&n, true) {
					status = "Ready"
				}
				ip := ""
				for _, a := range n.Status.Addresses {
					if a.Type == v1.NodeInternalIP {
						ip = a.Address
					}
				}
				cidrs := strings.Join(n.Spec.PodCIDRs, ",")
				if cidrs == "" {
					cidrs = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, status, ip, cidrs, n.Labels[v1.LabelTopologyZone], nodes.NodeNSName(c.Name, n.Name))
			}
			return nil
		},
	}
	o.AddNameFlags(cmd.Flags())
	return cmd
}

// nodeTools makes dir hold the node's iptables commands and puts it first in the PATH.
func nodeTools(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, tool := range netstack.NodeIPTablesTools() {
		path, err := exec.LookPath(tool)
		if err != nil {
			continue // the host has no such tool: the node shell has none either
		}
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == path {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(path, link); err != nil {
			return err
		}
	}
	return os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func newExecCommand() *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:   "exec NODE -- COMMAND [ARGS...]",
		Short: "Run a command in a node's network namespace",
		Long: `Run a command in a node's network namespace, as 'ip netns exec' would: the node's eth0,
routes and iptables rules, its hostname, and its /etc/resolv.conf (Azure DNS, 168.63.129.16)
over the host's filesystem. iptables, ip6tables and their -save and -restore are the node's
backend (legacy, as on AKS's Ubuntu nodes), whatever the host's default. Without a command,
runs $SHELL.`,
		Example: `  minaks exec aks-nodepool1-12345678-vmss000000 -- ip route
  minaks exec aks-nodepool1-12345678-vmss000000 -- iptables-save`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadCluster(o)
			if err != nil {
				return err
			}
			ns := nodes.NodeNSName(c.Name, args[0])
			if !netns.Exists(ns) {
				return fmt.Errorf("node %q of cluster %q has no network namespace (%s); see 'minaks nodes'", args[0], c.Name, ns)
			}
			if err := nodeTools(c.Path("bin", "node")); err != nil {
				return err
			}
			argv := args[1:]
			if len(argv) == 0 {
				shell := os.Getenv("SHELL")
				if shell == "" {
					shell = "/bin/sh"
				}
				argv = []string{shell}
			}
			path, err := exec.LookPath(argv[0])
			if err != nil {
				return err
			}
			argv[0] = path
			binds := map[string]string{}
			if resolv := nodes.ResolvConfPath(c, args[0]); fileExists(resolv) {
				binds["/etc/resolv.conf"] = resolv
			}
			return netns.Exec(ns, args[0], binds, argv, os.Environ())
		},
	}
	o.AddNameFlags(cmd.Flags())
	return cmd
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
