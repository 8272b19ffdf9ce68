package nodes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/azlb"
	"github.com/minaks/minaks/pkg/netstack"
)

// parallelism bounds how many nodes are created at once.
const parallelism = 16

// Pool is a cluster's node pool: one agent per VMSS instance.
type Pool struct {
	Cluster *config.Cluster
	Cloud   *azlb.Cloud
	Fabric  *netstack.Fabric
	// Credentials issues a node's client and kubelet API credentials.
	Credentials func(node string, ips []net.IP) (*apiserver.NodeCredentials, error)
}

// Start creates every node (in parallel), registers it, and keeps its agent running until ctx
// is done.
func (p *Pool) Start(ctx context.Context) error {
	instances, err := p.Cloud.ScaleSet().Instances()
	if err != nil {
		return err
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	kernel := unix.ByteSliceToString(uts.Release[:])

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, parallelism)
	)
	for _, in := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			err := p.startNode(ctx, in, kernel)
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *Pool) startNode(ctx context.Context, in azlb.Instance, kernel string) error {
	ips := []net.IP{in.IP.AsSlice()}
	if in.IPv6.IsValid() {
		ips = append(ips, in.IPv6.AsSlice())
	}
	creds, err := p.Credentials(in.Name, ips)
	if err != nil {
		return fmt.Errorf("node %s: credentials: %w", in.Name, err)
	}
	a := &Agent{
		ID:     Identity{Cluster: p.Cluster, Instance: in, KernelVersion: kernel},
		Client: creds.Client,
		Fabric: p.Fabric,
		creds:  creds,
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	go a.Run(ctx)
	return nil
}
