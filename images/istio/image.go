package istio

import (
	"os"
	"path/filepath"

	"github.com/minaks/minaks/images"
)

// clusterDomain is the cluster's DNS domain, as istiod's --domain says.
const clusterDomain = "cluster.local"

func init() {
	images.Register(&images.Image{
		Name: "istio-pilot",
		References: []string{
			"mcr.microsoft.com/oss/v2/istio/pilot", // AKS
			"mcr.microsoft.com/oss/istio/pilot",
			"istio/pilot", // docker.io
			"gcr.io/istio-release/pilot",
		},
		Program:     "pilot-discovery",
		Binary:      images.KubeBinary,
		Entrypoint:  []string{"/usr/local/bin/pilot-discovery"},
		Paths:       []string{"/usr/local/bin/pilot-discovery"},
		Ports:       []int{8080, 15010, 15012, 15014, 15017},
		Main:        Main,
		Description: "istiod for Gateway API (app routing's approuting-istio): Gateway deployments, statuses, proxy configuration",
	})
	images.Register(&images.Image{
		Name: "istio-proxyv2",
		References: []string{
			"mcr.microsoft.com/oss/v2/istio/proxyv2", // AKS
			"mcr.microsoft.com/oss/istio/proxyv2",
			"istio/proxyv2",
			"gcr.io/istio-release/proxyv2",
		},
		Program:     "pilot-agent",
		Binary:      images.KubeBinary,
		Entrypoint:  []string{"/usr/local/bin/pilot-agent"},
		Paths:       []string{"/usr/local/bin/pilot-agent"},
		Ports:       []int{15020, 15021, 15090},
		Main:        Main,
		Description: "Istio's gateway proxy: serves its Gateway's listeners and routes with minaks's HTTP proxy",
	})
}

// Main runs istiod (pilot-discovery) or the gateway proxy (pilot-agent), by the name it runs as.
func Main(args []string) int {
	if filepath.Base(os.Args[0]) == "pilot-agent" {
		return agentMain(args)
	}
	return pilotMain(args)
}
