package agnhost

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/minaks/minaks/images"
)

// version is the upstream agnhost release these subcommands follow.
const version = "2.66.1"

func init() {
	images.Register(&images.Image{
		Name: "agnhost",
		References: []string{
			"registry.k8s.io/e2e-test-images/agnhost",
			"k8s.gcr.io/e2e-test-images/agnhost",
			"gcr.io/kubernetes-e2e-test-images/agnhost",
			"gcr.io/k8s-staging-e2e-test-images/agnhost",
		},
		Program:    "agnhost",
		Aliases:    []string{"agnhost-2"},
		Entrypoint: []string{"/agnhost"},
		Cmd:        []string{"pause"},
		Ports:      []int{80, 8080, 8081, 9376, 5000},
		Paths:      []string{"/agnhost", "/agnhost-2"},
		// As in the real image, CoreDNS at /coredns (upstream's DNS tests run it).
		Carries:     []images.Carried{{Path: "/coredns", Binary: images.KubeBinary}},
		Main:        Main,
		Description: "Kubernetes e2e test image " + version + ": netexec, serve-hostname, connect, porter, pause, …",
	})
}

// command is one agnhost subcommand.
type command struct {
	short string
	run   func(args []string) int
}

var commands = map[string]command{
	"connect":              {"Attempts a TCP, UDP or SCTP connection and returns useful errors", connectMain},
	"dns-server-list":      {"Prints the host's DNS Server list", dnsServerListMain},
	"dns-suffix":           {"Prints the host's DNS suffix list", dnsSuffixMain},
	"entrypoint-tester":    {"Prints the args it's passed and exits", entrypointTesterMain},
	"etc-hosts":            {"Prints the host's /etc/hosts file", etcHostsMain},
	"fake-registry-server": {"Starts a fake registry server for testing", fakeRegistryServerMain},
	"grpc-health-checking": {"Starts a simple grpc health checking endpoint", grpcHealthCheckingMain},
	"liveness":             {"Starts a server that is alive for 10 seconds", livenessMain},
	"logs-generator":       {"Outputs lines of logs to stdout uniformly", logsGeneratorMain},
	"mounttest":            {"Creates files with given permissions and outputs FS type, owner, mode, permissions, contents of files", mounttestMain},
	"net":                  {"Creates webserver or runner for various networking tests", netMain},
	"netexec":              {"Creates HTTP(S), UDP, and (optionally) SCTP servers with various endpoints", netexecMain},
	"pause":                {"Pauses the execution", pauseMain},
	"porter":               {"Serves requested data on ports specified in ENV variables", porterMain},
	"serve-hostname":       {"Serves the hostname", serveHostnameMain},
	"test-webserver":       {"Starts a simple HTTP fileserver", testWebserverMain},
}

// Main runs agnhost with args, the arguments after argv[0]: a subcommand and its flags.
func Main(args []string) int {
	if len(args) == 0 {
		usage(os.Stdout)
		return 0
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(os.Stdout)
		return 0
	case "-v", "--version", "version":
		fmt.Printf("app version %s\n", version)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "Error: unknown command %q for \"app\"\nRun 'app --help' for usage.\n", args[0])
		usage(os.Stderr)
		return 1
	}
	return c.run(args[1:])
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "agnhost %s (minaks built-in)\n\nUsage:\n  app [command]\n\nAvailable Commands:\n", version)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].short)
	}
	fmt.Fprintln(w, "\nUse \"app [command] --help\" for more information about a command.")
}

// newFlags returns a flag set for a subcommand. It also accepts the logging flags upstream's
// command line takes on every subcommand (-v, --vmodule, …) and ignores them.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Int("v", 0, "number for the log level verbosity (ignored)")
	fs.String("vmodule", "", "per-file log verbosity (ignored)")
	fs.String("logging-format", "text", "log format (ignored)")
	fs.Duration("log-flush-frequency", 0, "log flush frequency (ignored)")
	return fs
}

// parseFlags parses args with flags and positional arguments in any order, as cobra does; "--"
// ends the flags. It returns the positional arguments, or the exit code for a parse error
// (0 after --help).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 1, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		// fs.Parse stops at "--" (consumed) or at the first non-flag.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// maxArgs reports, as cobra does, positional arguments beyond n.
func maxArgs(name string, pos []string, n int) bool {
	if len(pos) > n {
		fmt.Fprintf(os.Stderr, "Error: accepts at most %d arg(s), received %d\nRun 'app %s --help' for usage.\n", n, len(pos), name)
		return false
	}
	return true
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error occurred: failed to get hostname:%v\n", err)
		os.Exit(1)
	}
	return h
}

// exit ends the process; a variable so that tests can catch it.
var exit = os.Exit
