// Command minaks runs a local emulation of Azure Kubernetes Service networking.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/minaks/minaks/cmd/minaks/app"
	"github.com/minaks/minaks/images"
	_ "github.com/minaks/minaks/images/all"
	"github.com/minaks/minaks/pkg/nodes/container"
)

func main() {
	// The binary is also each container's init, and the program of every built-in image.
	if filepath.Base(os.Args[0]) == container.InitName {
		err := container.Init()
		fmt.Fprintf(os.Stderr, "minaks: cannot start the container: %v\n", err)
		os.Exit(128)
	}
	if code, ok := images.Main(os.Args[0], os.Args[1:]); ok {
		os.Exit(code)
	}
	app.Main()
}
