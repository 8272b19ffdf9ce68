// Command minaks runs a local emulation of Azure Kubernetes Service networking.
package main

import (
	"github.com/minaks/minaks/cmd/minaks/app"
	_ "github.com/minaks/minaks/images/kube" // kube-proxy, CoreDNS
	"github.com/minaks/minaks/pkg/nodes/runner"
)

func main() {
	// The binary is also each container's init and every built-in image's program, when no
	// minaks-run is embedded.
	runner.Run()
	app.Main()
}
