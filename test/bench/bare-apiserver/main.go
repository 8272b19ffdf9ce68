// Command bare-apiserver runs embedded etcd and kube-apiserver alone, with nothing around them,
// and prints "ready" when /readyz answers ok. It is the lower bound that `make bench` compares
// `minaks up` with: the same components, built from the same code, minus everything minaks adds.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/klog/v2"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

func main() {
	stateDir := flag.String("state-dir", "", "state directory (created)")
	port := flag.Int("port", 0, "API server port")
	prepare := flag.Bool("prepare", false, "only write the cluster definition and certificates, then exit")
	flag.Parse()
	if err := run(*stateDir, *port, *prepare); err != nil {
		fmt.Fprintln(os.Stderr, "bare-apiserver:", err)
		os.Exit(1)
	}
}

func run(stateDir string, port int, prepare bool) error {
	o := config.NewOptions()
	o.Name, o.StateDir, o.APIPort = "bare", stateDir, port
	c, err := o.Complete()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		return err
	}
	if err := os.Chdir(c.StateDir); err != nil {
		return err
	}
	log, err := os.OpenFile(c.Path("bare.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	klog.LogToStderr(false)
	klog.SetOutput(log)
	logOpts, err := apiserver.ConfigureLogging(0)
	if err != nil {
		return err
	}
	cp := apiserver.New(c, logOpts).Bare()
	if prepare {
		return cp.Prepare()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	select {
	case <-cp.APIReady():
		fmt.Println("ready")
	case err := <-done:
		return err
	}
	return <-done
}
