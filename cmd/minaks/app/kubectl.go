package app

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // client auth plugins, as in kubectl
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

func newKubectlCommand() *cobra.Command {
	return &cobra.Command{
		Use: "kubectl [--name NAME] [--state-dir DIR] [--] KUBECTL-ARGS...",
		// kubectl's flags are kubectl's: minaks takes only its own leading ones.
		Short: "Run kubectl (the same version as the cluster) against a cluster",
		Long: `Run the upstream kubectl built into minaks, pointed at the cluster's admin kubeconfig
unless --kubeconfig or --context is among the arguments. Everything after the minaks flags is
passed to kubectl as it is.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := config.NewOptions()
			args = takeNameFlags(o, args)
			if !hasFlag(args, "kubeconfig") && !hasFlag(args, "context") {
				c, err := loadCluster(o)
				if err != nil {
					return err
				}
				os.Setenv(clientcmd.RecommendedConfigPathEnvVar, apiserver.AdminKubeconfigPath(c))
			}
			// What kubectl's own main does.
			os.Args = append([]string{"kubectl"}, args...)
			_, _ = logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args))
			if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
				kubectlutil.CheckErr(err)
			}
			return nil
		},
	}
}

// takeNameFlags removes leading --name and --state-dir flags (and a following "--") from args.
func takeNameFlags(o *config.Options, args []string) []string {
	for len(args) > 0 {
		a := args[0]
		var target *string
		switch {
		case a == "--":
			return args[1:]
		case a == "--name":
			target = &o.Name
		case a == "--state-dir":
			target = &o.StateDir
		case strings.HasPrefix(a, "--name="):
			o.Name, args = strings.TrimPrefix(a, "--name="), args[1:]
			continue
		case strings.HasPrefix(a, "--state-dir="):
			o.StateDir, args = strings.TrimPrefix(a, "--state-dir="), args[1:]
			continue
		default:
			return args
		}
		if len(args) < 2 {
			return args[1:]
		}
		*target, args = args[1], args[2:]
	}
	return args
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}
