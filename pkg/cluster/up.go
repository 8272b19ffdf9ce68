package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/kubeconfig"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/nodes/container"
	"github.com/minaks/minaks/pkg/nodes/toolroot"
)

// UpOptions are the options of `minaks up`.
type UpOptions struct {
	*config.Options
	// GivenFlags names the cluster-defining flags given on the command line.
	GivenFlags []string
	Foreground bool
	Retain     bool
	Kubeconfig string
	Wait       time.Duration
	Verbosity  int
	// Out receives the human output; Progress the bring-up steps.
	Out      io.Writer
	Progress Progress
}

// kernelHasIPVS reports whether the kernel offers IPVS, and missingPolicyFeatures which of a
// policy engine's kernel features do not work; tests fake them.
var (
	kernelHasIPVS         = netstack.HasIPVS
	missingPolicyFeatures = netstack.MissingPolicyFeatures
)

// checkKernel refuses, before anything is made, a cluster the host's kernel cannot run.
func checkKernel(c *config.Cluster) error {
	if c.KubeProxy.IsEnabled() && c.KubeProxy.Mode == config.ProxyModeIPVS && !kernelHasIPVS() {
		return &config.FlagError{Flag: "kube-proxy-config", Msg: "mode IPVS needs the kernel's IPVS (the ip_vs module), " +
			"which this host does not have (no /proc/net/ip_vs, no IPVS netlink family); use mode IPTABLES, AKS's default, or NFTABLES"}
	}
	switch p := c.Network.Policy; p {
	case "azure", "calico", "cilium":
		bridged := c.Network.CNI() == config.CNIKubenet
		if missing := missingPolicyFeatures(netstack.PolicyFeatures(p, bridged, c.Network.DualStack())); len(missing) > 0 {
			return &config.FlagError{Flag: "network-policy", Value: p, Msg: "the policy engine needs kernel features this host does not have:\n  " + strings.Join(missing, "\n  ")}
		}
	}
	return nil
}

// kubeconfigTargetFile records, in the state directory, which kubeconfig `up` merged into.
const kubeconfigTargetFile = "kubeconfig-target"

// Up starts the cluster the options describe, or restarts a stopped one with its state, and
// returns once it is ready (in the foreground: once it has stopped again).
func Up(o UpOptions) error {
	c, err := o.Complete()
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("minaks up needs root: it owns network namespaces, links and sockets of the host; run 'sudo minaks up'")
	}
	if err := checkKernel(c); err != nil {
		return err
	}
	if container.Embedded() {
		if err := toolroot.Check(); err != nil {
			return err
		}
	}
	target := kubeconfig.DefaultTarget(o.Kubeconfig)

	running, err := FindDaemons(c.Name)
	if err != nil {
		return err
	}
	if len(running) > 0 {
		d := running[0]
		if d.StateDir != o.StateDir {
			return fmt.Errorf("a cluster named %q is already running with state directory %s (pid %d)", c.Name, d.StateDir, d.PID)
		}
		saved, err := config.Load(c.StateDir)
		if err != nil {
			return fmt.Errorf("cluster %q is running (pid %d) but its state is unreadable: %w", c.Name, d.PID, err)
		}
		fmt.Fprintf(o.Out, "Cluster %q is already running (pid %d).\n", c.Name, d.PID)
		if err := writeKubeconfig(saved, target); err != nil {
			return err
		}
		printUsage(o.Out, saved, "")
		return nil
	}
	// Whose node subnet the host routes before this cluster starts and takes it over.
	routedTo, _ := netstack.HostRouteOwner(netip.MustParsePrefix(c.Network.SubnetCIDR))

	fresh := true
	if saved, err := config.Load(c.StateDir); err == nil {
		if diff := definitionDiff(saved, c, o.GivenFlags); diff != "" {
			return fmt.Errorf("cluster %q already exists with a different definition (%s); run 'minaks down --name %s' first, or 'minaks up' without those flags to start it as it is", c.Name, diff, c.Name)
		}
		if slices.Contains(o.GivenFlags, "api-port") {
			saved.APIPort, saved.APIPortFixed = c.APIPort, true
		}
		if slices.Contains(o.GivenFlags, "image-source") {
			saved.ImageSource = c.ImageSource
		}
		c, fresh = saved, false
		fmt.Fprintf(o.Out, "Starting existing cluster %q with its saved state ...\n", c.Name)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	} else {
		fmt.Fprintf(o.Out, "Creating cluster %q ...\n", c.Name)
	}
	if err := choosePort(c); err != nil {
		return err
	}
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(c.StateDir, 0o700); err != nil {
		return err
	}
	if err := c.Save(); err != nil {
		return err
	}

	failed := func(err error) error {
		logTail := ""
		if !errors.Is(err, errInterrupted) {
			logTail = logErrors(c.Path(LogFile), 10)
		}
		if daemons, _ := FindDaemons(c.Name); len(daemons) > 0 && !o.Retain {
			for _, d := range daemons {
				_ = stopDaemon(d, stopGrace)
			}
		}
		switch {
		case fresh && !o.Retain:
			_ = Down(c.Name, o.StateDir, o.Kubeconfig, io.Discard)
			err = fmt.Errorf("%w\n(cluster removed; run with --retain to keep it for debugging)", err)
		case o.Retain:
			err = fmt.Errorf("%w\n(cluster kept as it is, still running if its daemon is: see %s and 'minaks status'; remove it with 'minaks down --name %s')", err, c.Path(LogFile), c.Name)
		default:
			err = fmt.Errorf("%w\n(state kept in %s)", err, c.StateDir)
		}
		if logTail != "" {
			err = fmt.Errorf("%w\nlast errors in the daemon log:\n%s", err, logTail)
		}
		return err
	}

	daemon, err := startDaemon(c, o)
	if err != nil {
		return failed(err)
	}
	o.Progress.Start(stepKubeconfig)
	err = writeKubeconfig(c, target)
	o.Progress.End(err)
	if err != nil {
		return failed(err)
	}
	printUsage(o.Out, c, routedTo)
	if !o.Foreground {
		return nil
	}
	fmt.Fprintln(o.Out, "Running in the foreground; stop with Ctrl-C (the cluster's state is kept; 'minaks logs -f' shows its log).")
	return waitForeground(daemon)
}

// waitForeground waits for a foreground daemon to exit, passing SIGINT and SIGTERM on to it.
func waitForeground(daemon *exec.Cmd) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	for {
		select {
		case <-sigs:
			_ = daemon.Process.Signal(syscall.SIGTERM)
		case err := <-exited:
			if err != nil {
				return fmt.Errorf("the cluster's daemon stopped: %w", err)
			}
			return nil
		}
	}
}

// startDaemon re-executes the binary as the cluster's daemon and relays its progress until it is
// ready, fails, or o.Wait runs out. In the background the daemon gets a session of its own and
// outlives `up`; in the foreground it stays in the terminal's process group and dies with `up`.
func startDaemon(c *config.Cluster, o UpOptions) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(c.Path(LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command(self, daemonArgs(c.Name, o.StateDir, o.Verbosity)...)
	cmd.Dir = c.StateDir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(os.Environ(), progressFDEnv+"=3")
	if o.Foreground {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	w.Close()
	if !o.Foreground {
		// Reap the daemon if it dies while we wait; once `up` returns it belongs to init.
		go func() { _ = cmd.Wait() }()
	}

	// Ctrl-C while waiting fails the bring-up, which then cleans up as any failure does.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	result := make(chan error, 1)
	go func() { result <- relay(r, o.Progress) }()
	var fail error
	select {
	case err := <-result:
		return cmd, err
	case <-time.After(o.Wait):
		fail = fmt.Errorf("the cluster was not ready within --wait=%s", o.Wait)
	case s := <-sigs:
		fail = fmt.Errorf("%w (%v)", errInterrupted, s)
	}
	o.Progress.End(fail)
	return cmd, fail
}

// writeKubeconfig merges the cluster's admin kubeconfig into the user's kubeconfig file and
// remembers where, so that `down` removes it from there.
func writeKubeconfig(c *config.Cluster, t kubeconfig.Target) error {
	cfg, err := clientcmd.LoadFromFile(apiserver.AdminKubeconfigPath(c))
	if err != nil {
		return err
	}
	if err := kubeconfig.Merge(t, cfg); err != nil {
		return err
	}
	abs, err := filepath.Abs(t.Path)
	if err != nil {
		return err
	}
	return os.WriteFile(c.Path(kubeconfigTargetFile), []byte(abs+"\n"), 0o600)
}

// printUsage tells how to reach the cluster, where the host routes its node subnet when that
// is not (or was not until now: routedBefore) this cluster, and what of its network policy
// is not enforced.
func printUsage(out io.Writer, c *config.Cluster, routedBefore string) {
	subnet := netip.MustParsePrefix(c.Network.SubnetCIDR)
	switch owner, err := netstack.HostRouteOwner(subnet); {
	case err != nil:
	case owner == c.Name && routedBefore != "" && routedBefore != c.Name:
		fmt.Fprintf(out, "Note: this host now routes the node subnet %s to this cluster instead of cluster %q, which gets it back when this one stops.\n", subnet, routedBefore)
	case owner != c.Name && owner != "":
		fmt.Fprintf(out, "Note: this host routes the node subnet %s to cluster %q, so this cluster's node IPs are reachable only from inside it.\n", subnet, owner)
	case owner != c.Name:
		fmt.Fprintf(out, "Note: this host routes the node subnet %s elsewhere ('ip route show %s'), so this cluster's node IPs are reachable only from inside it.\n", subnet, subnet)
	}
	ctx := kubeconfig.ContextName(c.Name)
	fmt.Fprintf(out, "Set kubectl context to %q\nYou can now use your cluster with:\n\nkubectl cluster-info --context %s\n\n", ctx, ctx)
}

// choosePort keeps the cluster's API port if it is free, and otherwise (unless the user fixed it)
// takes the first free port from 6443 on.
func choosePort(c *config.Cluster) error {
	if c.APIPort != 0 && portFree(c.APIPort) {
		return nil
	}
	if c.APIPortFixed {
		return &config.FlagError{Flag: "api-port", Value: fmt.Sprint(c.APIPort), Msg: "the port is in use on 127.0.0.1"}
	}
	for p := config.DefaultAPIPort; p < config.DefaultAPIPort+100; p++ {
		if portFree(p) {
			c.APIPort = p
			return nil
		}
	}
	return fmt.Errorf("no free port in %d-%d on 127.0.0.1 for the API server; choose one with --api-port", config.DefaultAPIPort, config.DefaultAPIPort+99)
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// definitionDiff describes how the cluster defined by the flags given now differs from the saved
// one; without such flags, starting the saved cluster as it is is what the user asked for.
// --api-port and --image-source may change on a stopped cluster.
func definitionDiff(saved, now *config.Cluster, given []string) string {
	if len(slices.DeleteFunc(slices.Clone(given), func(f string) bool { return f == "api-port" || f == "image-source" })) == 0 {
		return ""
	}
	a, b := *saved, *now
	// The port is chosen at start unless fixed; --api-port may move a stopped cluster.
	a.APIPort, b.APIPort, a.APIPortFixed, b.APIPortFixed = 0, 0, false, false
	a.ImageSource, b.ImageSource = "", ""
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if bytes.Equal(ja, jb) {
		return ""
	}
	var ma, mb map[string]any
	_ = json.Unmarshal(ja, &ma)
	_ = json.Unmarshal(jb, &mb)
	var diffs []string
	diffMaps("", ma, mb, &diffs)
	return strings.Join(diffs, ", ")
}

func diffMaps(prefix string, a, b map[string]any, out *[]string) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		am, aok := a[k].(map[string]any)
		bm, bok := b[k].(map[string]any)
		if aok && bok {
			diffMaps(prefix+k+".", am, bm, out)
			continue
		}
		ja, _ := json.Marshal(a[k])
		jb, _ := json.Marshal(b[k])
		if !bytes.Equal(ja, jb) {
			*out = append(*out, fmt.Sprintf("%s%s: %s now, %s before", prefix, k, jb, ja))
		}
	}
}

var errInterrupted = errors.New("interrupted")

// logErrors returns the last n error lines of a daemon log: klog's E and F lines, etcd's error
// entries and panics.
func logErrors(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "E") || strings.HasPrefix(l, "F") || strings.HasPrefix(l, "panic") ||
			strings.HasPrefix(l, "Error") || strings.Contains(l, `"level":"error"`) || strings.Contains(l, `"level":"fatal"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
