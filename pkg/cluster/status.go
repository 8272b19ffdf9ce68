package cluster

import (
	"context"
	"path/filepath"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/nodes"
	"github.com/minaks/minaks/pkg/nodes/container"
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
	// Nodes are the cluster's nodes, as the API reports them, when it answers.
	Nodes []NodeStatus `json:",omitempty"`
	// Memory is the memory of the running daemon and of every process below it: node agents,
	// kube-proxies and the pods' containers.
	Memory []ProcessMemory `json:",omitempty"`
}

// NodeStatus is one node in a status report.
type NodeStatus struct {
	Name  string
	IP    string
	Ready bool
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
		s.Memory, _ = TreeMemory(s.PID)
		if ds, err := QueryDaemon(filepath.Join(daemons[0].StateDir, name)); err == nil {
			s.Daemon = ds
		}
		if s.Cluster == nil {
			s.Cluster, _ = config.Load(filepath.Join(daemons[0].StateDir, name))
		}
		if s.Cluster != nil {
			s.Nodes = listNodes(s.Cluster)
		}
	}
	if s.State == StateMissing {
		if left, _ := netns.List(netstack.NSPrefix(name)); len(left) > 0 || slices.Contains(container.CgroupClusters(), name) {
			s.State = StateLeftover
		}
	}
	return s, nil
}

// listNodes asks the API for the cluster's nodes; nil when it does not answer in time.
func listNodes(c *config.Cluster) []NodeStatus {
	client, err := apiserver.AdminClient(c)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []NodeStatus
	for _, n := range list.Items {
		ns := NodeStatus{Name: n.Name, Ready: nodes.IsReady(&n, true)}
		for _, a := range n.Status.Addresses {
			if a.Type == v1.NodeInternalIP {
				ns.IP = a.Address
			}
		}
		out = append(out, ns)
	}
	return out
}
