// Package upstream runs Kubernetes's own e2e tests against a minaks cluster: those of the
// Kubernetes version minaks embeds (k8s.io/kubernetes/test/e2e) for networking ([sig-network],
// its NetworkPolicy suite included) and for what every node does (test/e2e/common: pods,
// probes, volumes, logs, exec). It is a module of its own, so that the e2e framework's
// dependencies stay out of minaks's; make builds it with `go test -c` once (cached), and
// test/e2e runs it against the clusters it starts.
package upstream

import (
	"flag"
	"os"
	"testing"

	"k8s.io/kubernetes/test/e2e"
	"k8s.io/kubernetes/test/e2e/framework"
	"k8s.io/kubernetes/test/e2e/framework/config"

	_ "k8s.io/kubernetes/test/e2e/common"
	_ "k8s.io/kubernetes/test/e2e/framework/debug/init"
	_ "k8s.io/kubernetes/test/e2e/framework/node/init"
	_ "k8s.io/kubernetes/test/e2e/network"
	_ "k8s.io/kubernetes/test/e2e/network/netpol"
)

func TestMain(m *testing.M) {
	config.CopyFlags(config.Flags, flag.CommandLine)
	framework.RegisterCommonFlags(flag.CommandLine)
	framework.RegisterClusterFlags(flag.CommandLine)
	flag.Parse()
	framework.AfterReadingAllFlags(&framework.TestContext)
	os.Exit(m.Run())
}

func TestE2E(t *testing.T) {
	e2e.RunE2ETests(t)
}
