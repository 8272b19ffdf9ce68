package main

import (
	"os"

	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {
	cmd := app.NewProxyCommand()
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}
