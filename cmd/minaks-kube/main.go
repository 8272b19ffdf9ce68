// Command minaks-kube holds the built-in images' programs that are built on Kubernetes
// libraries: kube-proxy, CoreDNS, azure-npm, the ingress-nginx controller and Istio. It is apart from minaks-run
// so that an ordinary pod stays small; `make build` embeds it into minaks, which installs it
// next to minaks-run.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/minaks/minaks/images"
	_ "github.com/minaks/minaks/images/kube"
	"github.com/minaks/minaks/pkg/nodes/resident"
)

// gcPercent is these programs' GOGC unless the pod's environment sets one: a cluster runs
// seven or more of them, so each heap grows by half its live size between collections, not by
// all of it, as the daemon's does.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	// Seven or more of these processes share the binary's pages: each gives back those only its
	// start-up read.
	time.AfterFunc(resident.Settle, func() { _, _ = resident.Code() })
	if code, ok := images.Main(os.Args[0], os.Args[1:]); ok {
		os.Exit(code)
	}
	fmt.Fprintf(os.Stderr, "minaks-kube: %q is not a built-in image's program\n", os.Args[0])
	os.Exit(127)
}
