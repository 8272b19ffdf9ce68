package pause

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/minaks/minaks/images"
)

// version is the pause release this program stands for.
const version = "3.10"

func init() {
	images.Register(&images.Image{
		Name: "pause",
		References: []string{
			"registry.k8s.io/pause",
			"k8s.gcr.io/pause",
			"gcr.io/google_containers/pause",
			"gcr.io/google-containers/pause",
			"mcr.microsoft.com/oss/kubernetes/pause",
			"mcr.microsoft.com/oss/v2/kubernetes/pause",
		},
		Program:     "pause",
		Entrypoint:  []string{"/pause"},
		Paths:       []string{"/pause"},
		Main:        Main,
		Description: "pod sandbox: waits for SIGTERM or SIGINT",
	})
}

// Main waits for SIGINT or SIGTERM and returns 0, as pause.c does. As pid 1 of a pid
// namespace it also reaps orphans; otherwise it leaves children alone.
func Main(args []string) int {
	for _, a := range args {
		if strings.EqualFold(a, "-v") {
			fmt.Printf("pause.c v%s\n", version)
			return 0
		}
	}
	pid1 := os.Getpid() == 1
	if !pid1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	ch := make(chan os.Signal, 4)
	defer signal.Stop(ch)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	if pid1 {
		signal.Notify(ch, syscall.SIGCHLD)
	}
	for sig := range ch {
		if sig == syscall.SIGCHLD {
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		fmt.Fprintf(os.Stderr, "Shutting down, got signal: %s\n", signalName(sig))
		return 0
	}
	return 42
}

// signalName is strsignal's name for sig ("Terminated", "Interrupt").
func signalName(sig os.Signal) string {
	s := sig.String()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
