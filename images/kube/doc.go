// Package kube registers the built-in images whose programs are built on Kubernetes libraries
// (images.KubeBinary): import it for its side effect. cmd/minaks-kube is their binary; minaks
// itself imports them too, to know them and to play them when nothing is embedded.
package kube

import (
	_ "github.com/minaks/minaks/images/azurenpm"
	_ "github.com/minaks/minaks/images/calico"
	_ "github.com/minaks/minaks/images/cilium"
	_ "github.com/minaks/minaks/images/coredns"
	_ "github.com/minaks/minaks/images/echobasic"
	_ "github.com/minaks/minaks/images/ingressnginx"
	_ "github.com/minaks/minaks/images/istio"
	_ "github.com/minaks/minaks/images/kubeproxy"
	_ "github.com/minaks/minaks/images/metricsserver"
)
