package metricsserver

import (
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/logs"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"sigs.k8s.io/metrics-server/cmd/metrics-server/app/options"

	"github.com/minaks/minaks/images"
)

func init() {
	images.Register(&images.Image{
		Name: "metrics-server",
		References: []string{
			"mcr.microsoft.com/oss/v2/kubernetes/metrics-server",
			"mcr.microsoft.com/oss/kubernetes/metrics-server",
			"registry.k8s.io/metrics-server/metrics-server",
			"k8s.gcr.io/metrics-server/metrics-server",
		},
		Program: "metrics-server",
		Binary:  images.KubeBinary,
		// As the upstream image: ENTRYPOINT ["/metrics-server"]; its pods choose the port.
		Entrypoint:  []string{"/metrics-server"},
		Paths:       []string{"/metrics-server"},
		Main:        Main,
		Description: "upstream metrics-server " + Version + ": the metrics.k8s.io API for kubectl top and the HPA",
	})
}

// Version is the upstream metrics-server minaks builds in.
const Version = "v0.8.0"

// Main runs metrics-server with args until SIGTERM or SIGINT: upstream's command
// (app.NewMetricsServerCommand), with its OpenAPI definitions also under the model names that
// the Kubernetes libraries minaks builds with look them up by (see modelNames).
func Main(args []string) int {
	o := options.NewOptions()
	cmd := &cobra.Command{
		Use:          "metrics-server",
		Short:        "Launch metrics-server",
		SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error {
			if o.ShowVersion {
				fmt.Println(Version)
				return nil
			}
			if errs := o.Validate(); len(errs) > 0 {
				return errs[0]
			}
			config, err := o.ServerConfig()
			if err != nil {
				return err
			}
			v2, v3 := config.Apiserver.OpenAPIConfig, config.Apiserver.OpenAPIV3Config
			v2.GetDefinitions = modelNames(v2.GetDefinitions)
			v3.GetDefinitions = modelNames(v3.GetDefinitions)
			if v3.Definitions != nil { // computed once, and used in GetDefinitions' place
				v3.Definitions = withModelNames(v3.Definitions)
			}
			s, err := config.Complete()
			if err != nil {
				return err
			}
			return s.RunUntil(genericapiserver.SetupSignalHandler())
		},
	}
	fs := cmd.Flags()
	for _, f := range o.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	local := flag.NewFlagSet("metrics-server", flag.ExitOnError)
	logs.AddGoFlags(local)
	fs.AddGoFlagSet(local)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "metrics-server:", err)
		return 1
	}
	return 0
}

// modelNames adds each of get's definitions, which metrics-server v0.8.0 generated keyed by Go
// type name ("k8s.io/metrics/pkg/apis/metrics/v1beta1.NodeMetrics"), under its OpenAPI model
// name too ("io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"): the API machinery of
// Kubernetes 1.37 names its types by the latter (their OpenAPIModelName method), and the
// server would not start, unable to find the model of NodeMetrics.
func modelNames(get common.GetOpenAPIDefinitions) common.GetOpenAPIDefinitions {
	return func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		return withModelNames(get(ref))
	}
}

// withModelNames returns defs with each definition under its model name as well.
func withModelNames(defs map[string]common.OpenAPIDefinition) map[string]common.OpenAPIDefinition {
	out := make(map[string]common.OpenAPIDefinition, 2*len(defs))
	for name, d := range defs {
		out[name] = d
		out[util.ToRESTFriendlyName(name)] = d
	}
	return out
}
