package cluster

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DaemonCommand is the subcommand under which the minaks binary runs a cluster's daemon.
const DaemonCommand = "daemon"

// daemonArgs is the daemon's command line after the binary: fixed, so that daemons can be found
// by their command line alone.
func daemonArgs(name, stateDir string, verbosity int) []string {
	return []string{DaemonCommand, "--name=" + name, "--state-dir=" + stateDir, "-v=" + strconv.Itoa(verbosity)}
}

// Daemon is a running minaks daemon process.
type Daemon struct {
	PID      int
	Name     string
	StateDir string
}

// procRoot is /proc; tests point it elsewhere.
var procRoot = "/proc"

// FindDaemons returns the running daemons, of the named cluster only when name is not empty.
func FindDaemons(name string) ([]Daemon, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	var out []Daemon
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		d, ok := readDaemon(pid)
		if ok && (name == "" || d.Name == name) {
			out = append(out, d)
		}
	}
	return out, nil
}

// readDaemon recognises a daemon by its command line: the minaks binary, then `daemon
// --name=… --state-dir=…`.
func readDaemon(pid int) (Daemon, bool) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return Daemon{}, false
	}
	args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
	if len(args) < 4 || args[1] != DaemonCommand || !strings.HasPrefix(filepath.Base(args[0]), "minaks") {
		return Daemon{}, false
	}
	d := Daemon{PID: pid}
	for _, a := range args[2:] {
		if v, ok := strings.CutPrefix(a, "--name="); ok {
			d.Name = v
		}
		if v, ok := strings.CutPrefix(a, "--state-dir="); ok {
			d.StateDir = v
		}
	}
	if d.Name == "" || d.StateDir == "" {
		return Daemon{}, false
	}
	return d, true
}

// alive reports whether pid still exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// stopDaemon asks a daemon to stop (SIGTERM), waits up to grace for it to exit, then kills it.
func stopDaemon(d Daemon, grace time.Duration) error {
	if err := syscall.Kill(d.PID, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return err
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(d.PID) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(d.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	for i := 0; i < 250 && alive(d.PID); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
