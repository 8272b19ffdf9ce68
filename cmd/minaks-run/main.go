// Command minaks-run is what every container runs: the container's init, then, for built-in
// images, the image's program. It is small on purpose (no Kubernetes packages), so that an idle
// pod costs a few megabytes; `make build` embeds it into minaks, which installs it into the
// cluster's state directory when the daemon starts.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/minaks/minaks/images"
	_ "github.com/minaks/minaks/images/all"
	"github.com/minaks/minaks/pkg/nodes/container"
)

func main() {
	if filepath.Base(os.Args[0]) == container.InitName {
		err := container.Init()
		fmt.Fprintf(os.Stderr, "minaks: cannot start the container: %v\n", err)
		os.Exit(128)
	}
	if code, ok := images.Main(os.Args[0], os.Args[1:]); ok {
		os.Exit(code)
	}
	fmt.Fprintf(os.Stderr, "minaks-run: %q is not a built-in image's program\n", os.Args[0])
	os.Exit(127)
}
