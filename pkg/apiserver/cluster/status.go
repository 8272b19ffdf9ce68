package cluster

import (
	"path/filepath"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
)

// States of a cluster.
const (
	StateRunning = "running"
	StateStopped = "stopped"
	StateMissing = "not found"
	// StateLeftover is a cluster of which only kernel objects remain; `minaks down` removes them.
	StateLeftover = "leftovers (run minaks down)"
)

// Status is what `minaks status` and `minaks list` report about a cluster.
type Status struct {
	Name    string
	State   string
	PID     int
	Cluster *config.Cluster
	// Daemon is the daemon's own report; nil when it is not running or does not answer.
	Daemon *DaemonStatus
}

// GetStatus inspects the named cluster.
func GetStatus(name, stateDir string) (*Status, error) {
	s := &Status{Name: name, State: StateMissing}
	dir := filepath.Join(stateDir, name)
	if c, err := config.Load(dir); err == nil {
		s.Cluster, s.State = c, StateStopped
	}
	daemons, err := FindDaemons(name)
	if err != nil {
		return nil, err
	}
	if len(daemons) > 0 {
		s.State, s.PID = StateRunning, daemons[0].PID
		if ds, err := QueryDaemon(filepath.Join(daemons[0].StateDir, name)); err == nil {
			s.Daemon = ds
		}
		if s.Cluster == nil {
			s.Cluster, _ = config.Load(filepath.Join(daemons[0].StateDir, name))
		}
	}
	if s.State == StateMissing {
		if left, _ := netns.List(netstack.NSPrefix(name)); len(left) > 0 {
			s.State = StateLeftover
		}
	}
	return s, nil
}
