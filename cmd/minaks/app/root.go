package app

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globals are the flags every command has.
type globals struct {
	verbosity int
}

// Main runs the minaks command line and exits.
func Main() {
	if err := NewCommand().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		os.Exit(1)
	}
}

// NewCommand returns the root command.
func NewCommand() *cobra.Command {
	// Upstream packages register flags of their own (--version) on the global flag set, which
	// cobra would show on every command; minaks's flags are its own.
	pflag.CommandLine = pflag.NewFlagSet("minaks", pflag.ExitOnError)
	g := &globals{}
	cmd := &cobra.Command{
		Use:   "minaks",
		Short: "Azure Kubernetes Service networking, emulated on one Linux host",
		Long: `minaks runs a real Kubernetes control plane in one process and builds an AKS-shaped
cluster out of Linux network namespaces: the same IP plan, node names, labels, load balancer
and DNS as AKS, with real packets and no VMs.

Start a cluster with 'minaks up', use it with kubectl (context minaks-<name>), and remove it
with 'minaks down'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// A bare 'minaks' prints help; unknown subcommands are errors.
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().IntVarP(&g.verbosity, "verbosity", "v", 0, "log verbosity of the daemon and the embedded components (klog levels)")
	cmd.AddCommand(
		newUpCommand(g),
		newDownCommand(),
		newStopCommand(),
		newStatusCommand(),
		newListCommand(),
		newNodesCommand(),
		newExecCommand(),
		newLBCommand(),
		newAppRoutingCommand(),
		newUpdateCommand(),
		newImagesCommand(),
		newImageCommand(),
		newLoadCommand(),
		newKubeconfigCommand(),
		newLogsCommand(),
		newKubectlCommand(),
		newVersionCommand(),
		newDaemonCommand(g),
	)
	return cmd
}
