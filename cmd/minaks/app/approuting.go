package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/cluster"
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
		newAppRoutingGatewayCommand(),
	)
	return cmd
}

// newAppRoutingGatewayCommand is `minaks approuting gateway istio enable|disable`, as
// `az aks approuting gateway istio`: app routing's Gateway API implementation.
func newAppRoutingGatewayCommand() *cobra.Command {
	istio := &cobra.Command{
		Use:   "istio",
		Short: "App routing's Istio-based Gateway API implementation (GatewayClass approuting-istio)",
		Args:  cobra.NoArgs,
	}
	for _, on := range []bool{true, false} {
		o := config.NewOptions()
		use, short := "enable", "Enable Gateway API based ingress on app routing via Istio (needs the managed Gateway API: minaks update --enable-gateway-api)"
		if !on {
			use, short = "disable", "Disable Gateway API based ingress on app routing via Istio"
		}
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := o.ValidateName(); err != nil {
					return err
				}
				if err := cluster.SetGatewayAPI(o.Name, o.StateDir, cluster.GatewayAPIRequest{AppRoutingIstio: &on}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: done\n", short)
				return nil
			},
		}
		o.AddNameFlags(c.Flags())
		istio.AddCommand(c)
	}
	gateway := &cobra.Command{
		Use:   "gateway",
		Short: "Gateway API implementations of app routing",
		Args:  cobra.NoArgs,
	}
	gateway.AddCommand(istio)
	return gateway
}

// newUpdateCommand is `minaks update`, as `az aks update` for the add-ons it can change on a
// running cluster: the managed Gateway API and app routing's Gateway API implementation.
func newUpdateCommand() *cobra.Command {
	o := config.NewOptions()
	var enableAPI, disableAPI, enableIstio, disableIstio bool
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Change a running cluster's Gateway API add-ons, as az aks update",
		Long: `Install or remove the managed Gateway API CRDs (standard channel ` + config.GatewayAPIBundleVersion + `) and app routing's
Gateway API implementation (istiod in aks-istio-system, GatewayClass approuting-istio) on a running
cluster, as 'az aks update --enable-gateway-api|--disable-gateway-api|--enable-app-routing-istio|
--disable-app-routing-istio' does. The change is remembered across stop and up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.ValidateName(); err != nil {
				return err
			}
			var req cluster.GatewayAPIRequest
			switch {
			case enableAPI && disableAPI:
				return errors.New("--enable-gateway-api and --disable-gateway-api cannot be combined")
			case enableIstio && disableIstio:
				return errors.New("--enable-app-routing-istio and --disable-app-routing-istio cannot be combined")
			}
			if enableAPI || disableAPI {
				req.GatewayAPI = &enableAPI
			}
			if enableIstio || disableIstio {
				req.AppRoutingIstio = &enableIstio
			}
			if req.GatewayAPI == nil && req.AppRoutingIstio == nil {
				return errors.New("nothing to update: give --enable-gateway-api, --disable-gateway-api, --enable-app-routing-istio or --disable-app-routing-istio")
			}
			if err := cluster.SetGatewayAPI(o.Name, o.StateDir, req); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Cluster updated.")
			return nil
		},
	}
	o.AddNameFlags(cmd.Flags())
	cmd.Flags().BoolVar(&enableAPI, "enable-gateway-api", false, "install the managed Gateway API CRDs")
	cmd.Flags().BoolVar(&disableAPI, "disable-gateway-api", false, "remove the managed Gateway API CRDs (and every Gateway API object)")
	cmd.Flags().BoolVar(&enableIstio, "enable-app-routing-istio", false, "enable app routing's Gateway API implementation (needs the managed Gateway API)")
	cmd.Flags().BoolVar(&disableIstio, "disable-app-routing-istio", false, "disable app routing's Gateway API implementation")
	return cmd
}
