package app

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minaks/minaks/pkg/apiserver/cluster"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

// newAppRoutingCommand is `minaks approuting`, as `az aks approuting`: the application routing
// add-on (managed NGINX ingress) of a running cluster.
func newAppRoutingCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approuting",
		Short: "Enable, update or disable the application routing add-on (managed NGINX ingress)",
		Long: `Turn the application routing add-on of a running cluster on or off, as
'az aks approuting enable|update|disable' do on AKS: the NginxIngressController CRD and its
'default' object, the IngressClass webapprouting.kubernetes.azure.com, and the NGINX ingress
controllers in app-routing-system behind the emulated Azure load balancer.`,
		Args: cobra.NoArgs,
	}
	modes := strings.Join(config.NginxModes, ", ")
	verb := func(use, short string) *cobra.Command {
		o := config.NewOptions()
		var nginx string
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := o.ValidateName(); err != nil {
					return err
				}
				req := cluster.AppRoutingRequest{Action: use}
				if nginx != "" {
					mode, ok := config.ParseNginxMode(nginx)
					if !ok {
						return fmt.Errorf("--nginx=%s: must be one of %s", nginx, modes)
					}
					req.Nginx = mode
				} else if use == "update" {
					return fmt.Errorf("--nginx is required: one of %s", modes)
				}
				if err := cluster.SetAppRouting(o.Name, o.StateDir, req); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: done\n", short)
				return nil
			},
		}
		o.AddNameFlags(c.Flags())
		if use != "disable" {
			c.Flags().StringVar(&nginx, "nginx", "", "mode of the default NginxIngressController: "+modes+" (default AnnotationControlled)")
		}
		return c
	}
	cmd.AddCommand(
		verb("enable", "Enable the application routing add-on"),
		verb("update", "Change the default NginxIngressController's mode"),
		verb("disable", "Disable the application routing add-on and remove what it made"),
	)
	return cmd
}
