// Command minaks-run is what every container runs: the container's init, then, for built-in
// images, the image's program. It is small on purpose (no Kubernetes packages), so that an idle
// pod costs a few megabytes; `make build` embeds it into minaks, which installs it into the
// cluster's state directory when the daemon starts.
package main

import (
	"fmt"
	"os"

	"github.com/minaks/minaks/pkg/nodes/runner"
)

func main() {
	runner.Run()
	fmt.Fprintf(os.Stderr, "minaks-run: %q is not a built-in image's program\n", os.Args[0])
	os.Exit(127)
}
