package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/kubeconfig"
	"github.com/minaks/minaks/pkg/apiserver/version"
	"github.com/minaks/minaks/pkg/cluster"
)

func newDownCommand() *cobra.Command {
	o := config.NewOptions()
	var all bool
	var kubeconfigPath string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop a cluster and remove everything it made",
		Long: `Stop a cluster's daemon, remove its kubeconfig context, and delete its state and every
kernel object it created. Works after the daemon was killed and when the state is gone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names := []string{o.Name}
			if all {
				if cmd.Flags().Changed("name") {
					return errors.New("--all and --name cannot be combined")
				}
				var err error
				if names, err = cluster.Names(o.StateDir); err != nil {
					return err
				}
			} else if err := o.ValidateName(); err != nil {
				return err
			}
			var errs []error
			for _, n := range names {
				errs = append(errs, cluster.Down(n, o.StateDir, kubeconfigPath, cmd.OutOrStdout()))
			}
			return errors.Join(errs...)
		},
	}
	o.AddNameFlags(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "remove every cluster")
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig file to remove the cluster's context from")
	return cmd
}

func newStopCommand() *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop a cluster and keep its state ('up' starts it again)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.ValidateName(); err != nil {
				return err
			}
			return cluster.Stop(o.Name, cmd.OutOrStdout())
		},
	}
	o.AddNameFlags(cmd.Flags())
	return cmd
}

func newStatusCommand() *cobra.Command {
	o := config.NewOptions()
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a cluster's state, API endpoint and components",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.ValidateName(); err != nil {
				return err
			}
			s, err := cluster.GetStatus(o.Name, o.StateDir)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			if output != "" {
				return fmt.Errorf("--output=%s: must be json or empty", output)
			}
			printStatus(cmd.OutOrStdout(), s)
			if s.State == cluster.StateMissing {
				return fmt.Errorf("no cluster %q", o.Name)
			}
			return nil
		},
	}
	o.AddNameFlags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

func printStatus(out io.Writer, s *cluster.Status) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintf(w, "Cluster:\t%s\n", s.Name)
	state := s.State
	if s.PID != 0 {
		state += fmt.Sprintf(" (pid %d)", s.PID)
	}
	if d := s.Daemon; d != nil {
		state += fmt.Sprintf(", up %s", time.Since(d.Started).Round(time.Second))
		if !d.Ready {
			state += ", starting"
		}
	}
	fmt.Fprintf(w, "State:\t%s\n", state)
	if c := s.Cluster; c != nil {
		fmt.Fprintf(w, "API server:\t%s\n", apiserver.APIServerURL(c))
		fmt.Fprintf(w, "Context:\t%s\n", kubeconfig.ContextName(c.Name))
		n := c.Network
		fmt.Fprintf(w, "Network:\t%s (plugin %s%s, policy %s, dataplane %s)\n", n.CNI(), n.Plugin, modeSuffix(n.PluginMode), n.Policy, n.Dataplane)
		fmt.Fprintf(w, "Ranges:\tpods %s, services %s, DNS %s, subnet %s\n", orNone(n.PodCIDRs), strings.Join(n.ServiceCIDRs, ","), n.DNSServiceIP, n.SubnetCIDR)
		fmt.Fprintf(w, "Node pool:\t%s, %d nodes, %s, %s\n", c.NodePoolName, c.NodeCount, c.NodeVMSize, c.Location)
		var addons []string
		if c.EnableAppRouting {
			addons = append(addons, fmt.Sprintf("app routing (default NGINX controller: %s)", c.AppRoutingDefaultNginxController))
		}
		if c.EnableGatewayAPI {
			addons = append(addons, "managed Gateway API "+config.GatewayAPIBundleVersion)
		}
		if c.EnableAppRoutingIstio {
			addons = append(addons, "app routing Istio (GatewayClass approuting-istio)")
		}
		if len(addons) > 0 {
			fmt.Fprintf(w, "Add-ons:\t%s\n", strings.Join(addons, ", "))
		}
		fmt.Fprintf(w, "State dir:\t%s\n", c.StateDir)
	}
	if d := s.Daemon; d != nil {
		fmt.Fprintf(w, "Components:\t\n")
		for _, comp := range d.Components {
			fmt.Fprintf(w, "  %s\t%s\n", comp.Name, comp.State)
		}
	}
	if len(s.Nodes) > 0 {
		ready := 0
		for _, n := range s.Nodes {
			if n.Ready {
				ready++
			}
		}
		fmt.Fprintf(w, "Nodes:\t%d of %d Ready\n", ready, len(s.Nodes))
		for _, n := range s.Nodes {
			state := "NotReady"
			if n.Ready {
				state = "Ready"
			}
			fmt.Fprintf(w, "  %s\t%s %s\n", n.Name, n.IP, state)
		}
	}
	if len(s.Memory) > 0 {
		var pss, rss uint64
		for _, p := range s.Memory {
			pss, rss = pss+p.PSSBytes, rss+p.RSSBytes
		}
		fmt.Fprintf(w, "Memory:	%s PSS, %s RSS in %d processes\n", mib(pss), mib(rss), len(s.Memory))
		for _, g := range cluster.MemoryByName(s.Memory) {
			name := g.Name
			if g.Count > 1 {
				name += fmt.Sprintf(" ×%d", g.Count)
			}
			fmt.Fprintf(w, "  %s\t%s PSS, %s RSS\n", name, mib(g.PSSBytes), mib(g.RSSBytes))
		}
	}
}

// mib formats a size in MiB.
func mib(b uint64) string {
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func modeSuffix(m string) string {
	if m == "" {
		return ""
	}
	return ", mode " + m
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "from the subnet"
	}
	return strings.Join(s, ",")
}

func newListCommand() *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the clusters on this host",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := cluster.Names(o.StateDir)
			if err != nil {
				return err
			}
			if len(names) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "No clusters found.")
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 3, ' ', 0)
			defer w.Flush()
			fmt.Fprintln(w, "NAME\tSTATE\tAPI SERVER\tNODES\tNETWORK")
			for _, n := range names {
				s, err := cluster.GetStatus(n, o.StateDir)
				if err != nil {
					return err
				}
				api, nodes, network := "-", "-", "-"
				if c := s.Cluster; c != nil {
					api, nodes, network = apiserver.APIServerURL(c), fmt.Sprint(c.NodeCount), string(c.Network.CNI())
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", n, s.State, api, nodes, network)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.StateDir, "state-dir", o.StateDir, "directory holding the state of every cluster")
	return cmd
}

func newKubeconfigCommand() *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print a cluster's admin kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadCluster(o)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(apiserver.AdminKubeconfigPath(c))
			if err != nil {
				return fmt.Errorf("cluster %q has no kubeconfig yet: %w", o.Name, err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	o.AddNameFlags(cmd.Flags())
	return cmd
}

func loadCluster(o *config.Options) (*config.Cluster, error) {
	if err := o.ValidateName(); err != nil {
		return nil, err
	}
	c, err := config.Load(o.ClusterDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no cluster %q in %s; create it with 'minaks up --name %s'", o.Name, o.StateDir, o.Name)
	}
	return c, err
}

func newLogsCommand() *cobra.Command {
	o := config.NewOptions()
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Print a cluster daemon's log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadCluster(o)
			if err != nil {
				return err
			}
			return printLog(cmd, c.Path(cluster.LogFile), follow)
		},
	}
	o.AddNameFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what the daemon logs")
	return cmd
}

func printLog(cmd *cobra.Command, path string, follow bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	out := cmd.OutOrStdout()
	for {
		if _, err := io.Copy(out, f); err != nil {
			return err
		}
		if !follow {
			return nil
		}
		select {
		case <-cmd.Context().Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of minaks and of the Kubernetes it embeds",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "minaks %s (Kubernetes %s, %s %s/%s)\n",
				version.Version, version.Kubernetes(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

func newDaemonCommand(g *globals) *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:    cluster.DaemonCommand,
		Short:  "Run a cluster's daemon (started by 'minaks up')",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.ValidateName(); err != nil {
				return err
			}
			return cluster.RunDaemon(o.Name, o.StateDir, g.verbosity)
		},
	}
	o.AddNameFlags(cmd.Flags())
	return cmd
}
