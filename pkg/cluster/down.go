package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/kubeconfig"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/nodes/container"
)

// stopGrace is how long a daemon gets to stop its components before it is killed.
const stopGrace = 30 * time.Second

// Down stops the named cluster's daemon, removes its kubeconfig entries, and deletes its state
// directory. It finds the daemon by its command line, so it works after the daemon was killed and
// after the state directory was lost; a cluster that does not exist is not an error.
func Down(name, stateDir, kubeconfigFlag string, out io.Writer) error {
	dir := filepath.Join(stateDir, name)
	daemons, err := FindDaemons(name)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(dir)
	leftovers, _ := netns.List(netstack.NSPrefix(name))
	if len(daemons) == 0 && errors.Is(statErr, os.ErrNotExist) && len(leftovers) == 0 &&
		!slices.Contains(container.CgroupClusters(), name) && !hasContext(name, dir, kubeconfigFlag) {
		fmt.Fprintf(out, "No cluster %q; nothing to do.\n", name)
		return nil
	}
	fmt.Fprintf(out, "Deleting cluster %q ...\n", name)

	var errs []error
	dirs := []string{dir}
	for _, d := range daemons {
		if err := stopDaemon(d, stopGrace); err != nil {
			errs = append(errs, fmt.Errorf("stop daemon %d: %w", d.PID, err))
		}
		if d.StateDir != stateDir {
			dirs = append(dirs, filepath.Join(d.StateDir, name))
		}
	}
	// The daemon removes the cluster's network when it stops; after a kill -9 this does.
	if err := netstack.RemoveCluster(name); err != nil {
		errs = append(errs, err)
	}
	// The containers' cgroups; their processes died with the daemon, any left over are killed.
	if err := container.RemoveCgroups(name); err != nil {
		errs = append(errs, err)
	}
	for _, t := range kubeconfigTargets(dir, kubeconfigFlag) {
		if err := kubeconfig.Remove(t, kubeconfig.ContextName(name)); err != nil {
			errs = append(errs, fmt.Errorf("remove context from %s: %w", t.Path, err))
		}
	}
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	// minaks made /var/lib/minaks for its first cluster; the last one leaving takes it along.
	if stateDir == config.DefaultStateDir {
		_ = os.Remove(stateDir) // fails, as it should, while other clusters are there
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "Deleted cluster %q.\n", name)
	return nil
}

// kubeconfigTargets are the kubeconfig files that may hold a cluster's context: where `up` wrote
// it (recorded in the state directory), and where it would write it now.
func kubeconfigTargets(dir, flag string) []kubeconfig.Target {
	targets := []kubeconfig.Target{kubeconfig.DefaultTarget(flag)}
	if b, err := os.ReadFile(filepath.Join(dir, kubeconfigTargetFile)); err == nil {
		p := strings.TrimSpace(string(b))
		if p != "" && !slices.ContainsFunc(targets, func(t kubeconfig.Target) bool { return t.Path == p }) {
			targets = append(targets, kubeconfig.Target{Path: p})
		}
	}
	return targets
}

func hasContext(name, dir, flag string) bool {
	for _, t := range kubeconfigTargets(dir, flag) {
		if kubeconfig.Has(t, kubeconfig.ContextName(name)) {
			return true
		}
	}
	return false
}

// Names lists the clusters on this host: those with a state directory under stateDir, those
// whose daemon runs, and those that left namespaces or cgroups behind.
func Names(stateDir string) ([]string, error) {
	seen := map[string]bool{}
	entries, err := os.ReadDir(stateDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(stateDir, e.Name(), config.FileName)); err == nil {
			seen[e.Name()] = true
		}
	}
	daemons, err := FindDaemons("")
	if err != nil {
		return nil, err
	}
	for _, d := range daemons {
		seen[d.Name] = true
	}
	leftovers, err := netns.List("minaks.")
	if err != nil {
		return nil, err
	}
	for _, ns := range leftovers {
		if name, _, ok := strings.Cut(strings.TrimPrefix(ns, "minaks."), "."); ok {
			seen[name] = true
		}
	}
	for _, n := range container.CgroupClusters() {
		seen[n] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// Stop stops the named cluster's daemon and keeps its state, so that `up` starts it again with
// its etcd data.
func Stop(name string, out io.Writer) error {
	daemons, err := FindDaemons(name)
	if err != nil {
		return err
	}
	if len(daemons) == 0 {
		fmt.Fprintf(out, "Cluster %q is not running.\n", name)
		return nil
	}
	var errs []error
	for _, d := range daemons {
		errs = append(errs, stopDaemon(d, stopGrace))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "Stopped cluster %q; 'minaks up --name %s' starts it again with its state.\n", name, name)
	return nil
}
