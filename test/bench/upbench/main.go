// Command upbench measures how long `minaks up` takes to give a ready API, and the daemon's
// memory, side by side with the bare lower bound measured in the same run: embedded etcd plus
// kube-apiserver alone (bare-apiserver) reaching /readyz. Runs alternate between the two so that
// both see the same machine. Everything it starts lives under a temporary state directory and
// is removed at the end. After the first run of each it waits -idle, then prints the memory
// (PSS and RSS) of the whole process tree of the idle cluster, by process, next to the bare
// lower bound's.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minaks/minaks/pkg/cluster"
	"github.com/minaks/minaks/pkg/nodes/resident"
)

func main() {
	minaks := flag.String("minaks", "bin/minaks", "minaks binary")
	bare := flag.String("bare", "bin/bare-apiserver", "bare-apiserver binary")
	runs := flag.Int("runs", 5, "runs of each measurement")
	flag.DurationVar(&idle, "idle", resident.Settle+20*time.Second, "how long a new cluster idles before its memory is measured: "+
		"its programs give back their start-up pages a minute after they start")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "upbench: run as root (minaks up needs it)")
		os.Exit(1)
	}
	if err := bench(*minaks, *bare, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "upbench:", err)
		os.Exit(1)
	}
}

// idle is how long a new cluster (and the baseline) idles before their memory is measured.
var idle time.Duration

type sample struct {
	ready time.Duration
	// api is when the API server was ready, from the daemon's log (0 for the baseline).
	api   time.Duration
	rssMB float64
	// tree is the memory of the process tree after idle (first runs only).
	tree []cluster.ProcessMemory
}

func bench(minaks, bare string, runs int) error {
	root, err := os.MkdirTemp("", "minaks-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)

	var up, restart, lower, big []sample
	for i := range runs {
		fns := []func() error{
			func() error {
				s, err := runBare(bare, filepath.Join(root, fmt.Sprintf("bare%d", i)), i == 0)
				lower = append(lower, s)
				return err
			},
			func() error {
				s, r, err := runUp(minaks, root, fmt.Sprintf("bench%d", i), 3, i == 0)
				up, restart = append(up, s), append(restart, r)
				return err
			},
		}
		if i%2 == 1 {
			slices.Reverse(fns)
		}
		for _, fn := range fns {
			if err := fn(); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "run %d/%d: up %v, restart %v, bare %v\n", i+1, runs,
			up[i].ready.Round(time.Millisecond), restart[i].ready.Round(time.Millisecond), lower[i].ready.Round(time.Millisecond))
	}

	for i := range max(1, runs/2) {
		s, _, err := runUp(minaks, root, fmt.Sprintf("big%d", i), 100, false)
		if err != nil {
			return err
		}
		big = append(big, s)
		fmt.Fprintf(os.Stderr, "100 nodes, run %d: %v\n", i+1, s.ready.Round(time.Millisecond))
	}

	fmt.Printf("\n%-50s %6s %10s %10s %10s %10s\n", "minaks up (medians)", "runs", "median", "min", "max", "RSS MB")
	row := func(name string, s []sample, pick func(sample) time.Duration) (time.Duration, float64) {
		d := make([]time.Duration, len(s))
		r := make([]float64, len(s))
		for i := range s {
			d[i], r[i] = pick(s[i]), s[i].rssMB
		}
		slices.Sort(d)
		slices.Sort(r)
		fmt.Printf("%-50s %6d %10v %10v %10v %10.0f\n", name, len(s), d[len(d)/2].Round(time.Millisecond),
			d[0].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond), r[len(r)/2])
		return d[len(d)/2], r[len(r)/2]
	}
	ready := func(s sample) time.Duration { return s.ready }
	api, _ := row("new cluster: API ready", up, func(s sample) time.Duration { return s.api })
	_, rss3 := row("new cluster: 3 nodes, kube-proxy, DNS ready (up returns)", up, ready)
	row("restart with saved state (up returns)", restart, ready)
	b, _ := row("baseline: bare etcd + kube-apiserver /readyz", lower, ready)
	_, rss100 := row("new cluster: 100 nodes Ready, kube-proxy off (up returns)", big, ready)
	fmt.Printf("\nratio API ready / baseline (medians): %.2f (target <= 1.20)\n", float64(api)/float64(b))
	fmt.Printf("daemon RSS per node: %.2f MiB ((RSS at 100 nodes - RSS at 3) / 97; target <= 10)\n", (rss100-rss3)/97)

	fmt.Printf("\n%-50s %6s %10s %10s\n", fmt.Sprintf("memory after %v idle (first run)", idle), "procs", "PSS MiB", "RSS MiB")
	printTree := func(what string, tree []cluster.ProcessMemory) {
		var pss, rss uint64
		for _, p := range tree {
			pss, rss = pss+p.PSSBytes, rss+p.RSSBytes
		}
		fmt.Printf("%-50s %6d %10.0f %10.0f\n", what, len(tree), mb(pss), mb(rss))
		for _, g := range cluster.MemoryByName(tree) {
			fmt.Printf("  %-48s %6d %10.1f %10.1f\n", g.Name, g.Count, mb(g.PSSBytes), mb(g.RSSBytes))
		}
	}
	printTree("new cluster: 3 nodes, kube-proxy, DNS (target <= 400 PSS)", up[0].tree)
	printTree("baseline: bare etcd + kube-apiserver", lower[0].tree)
	return nil
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// runUp times `minaks up` of a new cluster of n nodes, then (for small clusters) stops it and
// times `minaks up` again (a restart with the saved etcd data), and removes the cluster. With
// measure, it reads the new cluster's memory after idle.
func runUp(minaks, root, name string, n int, measure bool) (first, again sample, err error) {
	stateDir := filepath.Join(root, "state")
	kubeconfig := filepath.Join(root, "kubeconfig")
	common := []string{"--name", name, "--state-dir", stateDir}
	defer func() {
		out, derr := exec.Command(minaks, append([]string{"down", "--kubeconfig", kubeconfig}, common...)...).CombinedOutput()
		if derr != nil && err == nil {
			err = fmt.Errorf("minaks down: %v: %s", derr, out)
		}
	}()
	upArgs := append([]string{"up", "--kubeconfig", kubeconfig, "--node-count", strconv.Itoa(n), "--image-source", "builtin"}, common...)
	runs := []*sample{&first, &again}
	if n > 3 {
		// Node scale, without a kube-proxy process per node (each is ~60 MiB and its own
		// start-up), which would measure 100 kube-proxies on this host's cores instead.
		upArgs = append(upArgs, "--kube-proxy-config", `{"enabled": false}`)
		runs = runs[:1]
	}
	for i, s := range runs {
		if i == 1 {
			if out, err := exec.Command(minaks, append([]string{"stop"}, common...)...).CombinedOutput(); err != nil {
				return first, again, fmt.Errorf("minaks stop: %v: %s", err, out)
			}
		}
		start := time.Now()
		out, err := exec.Command(minaks, upArgs...).CombinedOutput()
		s.ready = time.Since(start)
		if err != nil {
			return first, again, fmt.Errorf("minaks up: %v: %s", err, out)
		}
		if at, err := apiReadyAt(filepath.Join(stateDir, name, "minaks.log"), start); err == nil {
			s.api = at.Sub(start)
		}
		pid, err := os.ReadFile(filepath.Join(stateDir, name, "daemon.pid"))
		if err != nil {
			return first, again, err
		}
		s.rssMB = rssMB(strings.TrimSpace(string(pid)))
		if i == 0 && measure {
			if s.tree, err = idleTree(strings.TrimSpace(string(pid))); err != nil {
				return first, again, err
			}
		}
	}
	return first, again, nil
}

// runBare times bare-apiserver from exec to its "ready" line; with measure, it then reads its
// memory after idle.
func runBare(bare, dir string, measure bool) (sample, error) {
	port, err := freePort()
	if err != nil {
		return sample{}, err
	}
	args := []string{"-state-dir", dir, "-port", strconv.Itoa(port)}
	if out, err := exec.Command(bare, append(args, "-prepare")...).CombinedOutput(); err != nil {
		return sample{}, fmt.Errorf("bare-apiserver -prepare: %v: %s", err, out)
	}
	cmd := exec.Command(bare, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	s := sample{ready: time.Since(start)}
	if err != nil || strings.TrimSpace(line) != "ready" {
		return s, fmt.Errorf("bare-apiserver did not become ready (%q, %v); see %s", line, err, filepath.Join(dir, "bare", "bare.log"))
	}
	s.rssMB = rssMB(strconv.Itoa(cmd.Process.Pid))
	if measure {
		s.tree, err = idleTree(strconv.Itoa(cmd.Process.Pid))
	}
	return s, err
}

// idleTree waits idle, then reads the memory of pid's process tree.
func idleTree(pid string) ([]cluster.ProcessMemory, error) {
	time.Sleep(idle)
	p, err := strconv.Atoi(pid)
	if err != nil {
		return nil, err
	}
	return cluster.TreeMemory(p)
}

func rssMB(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// apiReadyAt finds, in a daemon log, the last time the API server became ready after since.
func apiReadyAt(path string, since time.Time) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	var at time.Time
	for _, l := range strings.Split(string(b), "\n") {
		// klog: "I1125 20:44:35.667141   31993 controlplane.go:255] "API server ready" ..."
		if !strings.Contains(l, `"API server ready"`) || len(l) < 21 {
			continue
		}
		t, err := time.ParseInLocation("0102 15:04:05.000000", l[1:21], time.Local)
		if err != nil {
			continue
		}
		t = t.AddDate(since.Year(), 0, 0)
		if !t.Before(since) {
			at = t
		}
	}
	if at.IsZero() {
		return at, fmt.Errorf("no API-ready line in %s", path)
	}
	return at, nil
}
