package coredns

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/minaks/minaks/images"
)

// Version is the CoreDNS release compiled in.
const Version = coremain.CoreVersion

const (
	name       = coremain.CoreName
	serverType = "dns"
)

func init() {
	images.Register(&images.Image{
		Name: "coredns",
		References: []string{
			"mcr.microsoft.com/oss/v2/kubernetes/coredns", // AKS
			"mcr.microsoft.com/oss/kubernetes/coredns",    // AKS before the v2 images
			"registry.k8s.io/coredns/coredns",
			"coredns/coredns", // docker.io
		},
		Program:     "coredns",
		Binary:      images.KubeBinary,
		Entrypoint:  []string{"/coredns"},
		Paths:       []string{"/coredns"},
		Ports:       []int{53},
		Main:        Main,
		Description: "CoreDNS " + Version + " with the plugins of AKS's Corefile and coredns-custom",
	})

	if err := dnsserver.SetDirectives(Directives); err != nil {
		panic(fmt.Sprintf("coredns: %v", err))
	}
	caddy.RegisterEventHook("minaks-coredns", trackInstance)
	takeCoremainFlags()
}

// coremainFlags are the flags that coremain's init puts on the process's FlagSet. coremain comes
// in with the prometheus and kubernetes plugins (for its version), and its init also registers
// the Corefile loaders (-conf, else ./Corefile) that Main uses.
var coremainFlags = []string{"conf", "plugins", "pidfile", "version", "quiet", "log-format", "dns.port", "p"}

// confFlag is coremain's -conf, which its Corefile loader reads at start and at every reload.
var confFlag *flag.Flag

// takeCoremainFlags takes coremain's flags off the process's FlagSet, keeping -conf for Main:
// minaks-kube also runs kube-proxy, which adds the process's FlagSet to its command line
// (for --boot-id-file), and must not grow --conf, -p or a second --version there.
func takeCoremainFlags() {
	confFlag = flag.Lookup("conf")
	if confFlag == nil {
		panic("coredns: coremain registered no -conf flag")
	}
	fs := flag.NewFlagSet(flag.CommandLine.Name(), flag.CommandLine.ErrorHandling())
	fs.Usage = flag.CommandLine.Usage
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(coremainFlags, f.Name) {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	flag.CommandLine = fs
}

var (
	// running serializes Main: Caddy's state is process-wide.
	running sync.Mutex
	// current is the running instance: Caddy replaces it on every reload.
	current atomic.Pointer[caddy.Instance]
)

// trackInstance follows the running instance across reloads (the reload plugin's, SIGUSR1's).
func trackInstance(event caddy.EventName, info any) error {
	if event == caddy.InstanceStartupEvent {
		if inst, ok := info.(*caddy.Instance); ok {
			current.Store(inst)
		}
	}
	return nil
}

// options are coredns's command-line flags (coremain/run.go).
type options struct {
	conf, pidfile, logFormat, port string
	version, plugins, quiet        bool
}

func parseFlags(args []string, stderr io.Writer) (*options, []string, error) {
	o := &options{}
	fs := flag.NewFlagSet("coredns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.conf, "conf", "", `Corefile to load (default "`+caddy.DefaultConfigFile+`")`)
	fs.BoolVar(&o.plugins, "plugins", false, "List installed plugins")
	fs.StringVar(&o.pidfile, "pidfile", "", "Path to write pid file")
	fs.BoolVar(&o.version, "version", false, "Show version")
	fs.BoolVar(&o.quiet, "quiet", false, "Quiet mode (no initialization output)")
	fs.StringVar(&o.logFormat, "log-format", "text", "Log format (text or json)")
	fs.StringVar(&o.port, serverType+".port", dnsserver.DefaultPort, "Default port")
	fs.StringVar(&o.port, "p", dnsserver.DefaultPort, "Default port")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return o, fs.Args(), nil
}

// Main runs CoreDNS with coredns's command-line flags and returns its exit code: 0 after
// SIGTERM or SIGINT (4 when a shutdown callback failed), 1 when the Corefile cannot be loaded
// or served or arguments are left over, 2 for unknown flags.
func Main(args []string) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP,
		syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	return run(args, os.Stdout, os.Stderr, sigs)
}

// run is Main with its output and its signals given: CoreDNS logs to stdout as upstream does,
// fatal start-up errors go to stderr.
func run(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	o, extra, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2 // the FlagSet has said why
	}
	// As upstream's mustLogFatal: the bare error on stderr, exit code 1.
	fatal := func(err error) int {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if len(extra) > 0 {
		return fatal(fmt.Errorf("extra command line arguments: %s", extra))
	}
	if o.version {
		fmt.Fprint(stdout, versionString())
		return 0
	}
	if o.plugins {
		fmt.Fprintln(stdout, caddy.DescribePlugins())
		return 0
	}
	if !running.TryLock() {
		return fatal(errors.New("CoreDNS is already running in this process"))
	}
	defer running.Unlock()
	if err := clog.Configure(o.logFormat, stdout); err != nil {
		return fatal(err)
	}
	if !clog.IsJSON() {
		log.SetFlags(0)
	}

	dnsserver.Port = o.port
	dnsserver.Quiet = o.quiet
	caddy.PidFile = o.pidfile
	if err := confFlag.Value.Set(o.conf); err != nil {
		return fatal(err)
	}
	defer func() {
		if o.pidfile != "" {
			os.Remove(o.pidfile)
		}
	}()

	corefile, err := caddy.LoadCaddyfile(serverType)
	if err != nil {
		return fatal(err)
	}
	inst, err := caddy.Start(corefile)
	if err != nil {
		return fatal(err)
	}
	current.Store(inst)
	if !o.quiet {
		fmt.Fprint(stdout, versionString())
	}

	// The instance's wait group outlives reloads: it drains when the last servers stop.
	stopped := make(chan struct{})
	go func() {
		inst.Wait()
		close(stopped)
	}()
	for {
		select {
		case <-stopped:
			return 0
		case sig := <-sigs:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				code := shutdown(signalName(sig))
				<-stopped
				return code
			case syscall.SIGQUIT:
				log.Println("[INFO] SIGQUIT: Quitting process immediately")
				caddy.Stop()
				<-stopped
				return 0
			case syscall.SIGUSR1:
				log.Println("[INFO] SIGUSR1: Reloading")
				if err := reload(); err != nil {
					log.Printf("[ERROR] SIGUSR1: %v", err)
				}
			case syscall.SIGUSR2:
				log.Println("[INFO] SIGUSR2: ignored: a built-in image has no binary to upgrade to")
			}
			// SIGHUP is ignored, as upstream does: it is sometimes sent outside the user's control.
		}
	}
}

// shutdown runs every instance's shutdown callbacks (health's lameduck among them) and then
// stops the servers, as upstream does on SIGTERM. It returns the exit code: 4 when a
// callback failed, 3 when stopping failed.
func shutdown(sig string) int {
	log.Printf("[INFO] %s: Shutting down servers then terminating", sig)
	code := 0
	caddy.EmitEvent(caddy.ShutdownEvent, sig)
	for _, inst := range append([]*caddy.Instance(nil), caddy.Instances()...) {
		for _, err := range inst.ShutdownCallbacks() {
			log.Printf("[ERROR] %s shutdown: %v", sig, err)
			code = 4
		}
	}
	if err := caddy.Stop(); err != nil {
		log.Printf("[ERROR] %s stop: %v", sig, err)
		code = 3
	}
	return code
}

// reload restarts the running instance with the Corefile read again, as SIGUSR1 does upstream
// (caddy's sigtrap_posix.go), but keeps the event hooks, the reload plugin's among them.
func reload() error {
	inst := current.Load()
	if inst == nil {
		return errors.New("no running instance")
	}
	corefile, err := caddy.LoadCaddyfile(serverType)
	if err != nil {
		return fmt.Errorf("loading updated Corefile: %w", err)
	}
	caddy.EmitEvent(caddy.InstanceRestartEvent, nil)
	_, err = inst.Restart(corefile)
	return err
}

// versionString is what `coredns -version` prints: "CoreDNS-1.15.0" and
// "linux/amd64, go1.26.8, " (no git commit: this is not a build of the coredns repository).
func versionString() string {
	return fmt.Sprintf("%s-%s\n%s/%s, %s, \n", name, Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return sig.String()
}
