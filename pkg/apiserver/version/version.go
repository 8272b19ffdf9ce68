package version

import (
	"runtime/debug"
)

// Version is the minaks version, set at build time with
// -ldflags "-X github.com/minaks/minaks/pkg/apiserver/version.Version=...".
var Version = "dev"

// Kubernetes is the version of the embedded Kubernetes components.
func Kubernetes() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/kubernetes" {
				return d.Version
			}
		}
	}
	return "unknown"
}
