package app

import (
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/cluster"
)

func newUpCommand(g *globals) *cobra.Command {
	o := cluster.UpOptions{Options: config.NewOptions(), Wait: 2 * time.Minute}
	clusterFlags := pflag.NewFlagSet("cluster", pflag.ContinueOnError)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create and start a cluster, or start a stopped one",
		Long: `Create and start a cluster, or start a stopped one with its saved state.

The cluster's daemon runs in the background (or in the terminal with --foreground). 'up'
returns once the API server is ready, and merges the kubeconfig context minaks-<name> into
--kubeconfig, $KUBECONFIG or ~/.kube/config (under sudo: the invoking user's).

The networking flags take the names and values of 'az aks create'; AKS's defaults apply to
those left out, and AKS's rules validate those given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			clusterFlags.VisitAll(func(f *pflag.Flag) {
				if f.Changed {
					o.GivenFlags = append(o.GivenFlags, f.Name)
				}
			})
			o.Verbosity = g.verbosity
			o.Out = cmd.OutOrStdout()
			o.Progress = cluster.NewStatusPrinter(os.Stdout)
			return cluster.Up(o)
		},
	}
	fs := cmd.Flags()
	o.AddNameFlags(fs)
	o.AddClusterFlags(clusterFlags)
	fs.AddFlagSet(clusterFlags)
	fs.BoolVar(&o.Foreground, "foreground", false, "run the cluster in this terminal instead of a background daemon (for CI and systemd)")
	fs.BoolVar(&o.Retain, "retain", false, "keep the cluster's state when up fails, for debugging")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file to merge the cluster's context into")
	fs.DurationVar(&o.Wait, "wait", o.Wait, "how long to wait for the cluster to be ready")
	return cmd
}
