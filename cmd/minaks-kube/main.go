// Command minaks-kube holds the built-in images' programs that are built on Kubernetes
// libraries: kube-proxy, CoreDNS, azure-npm, the ingress-nginx controller and Istio. It is apart from minaks-run
// so that an ordinary pod stays small; `make build` embeds it into minaks, which installs it
// next to minaks-run.
package main

import (
	"fmt"
	"os"

	"github.com/minaks/minaks/images"
	_ "github.com/minaks/minaks/images/kube"
)

func main() {
	if code, ok := images.Main(os.Args[0], os.Args[1:]); ok {
		os.Exit(code)
	}
	fmt.Fprintf(os.Stderr, "minaks-kube: %q is not a built-in image's program\n", os.Args[0])
	os.Exit(127)
}
