package nodes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/azlb"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/nodes/imagestore"
)

// parallelism bounds how many nodes are created at once.
const parallelism = 16

// Pool is a cluster's node pool: one agent per VMSS instance.
type Pool struct {
	Cluster *config.Cluster
	Cloud   *azlb.Cloud
	Fabric  *netstack.Fabric
	// Images is the host's image store, shared by the nodes.
	Images *imagestore.Store
	// ToolsRoot is the root filesystem of built-in images (package toolroot); empty, the
	// host's root.
	ToolsRoot string
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
	if p.Images != nil {
		go p.collectImages(ctx)
	}
	return errors.Join(errs...)
}

// The kubelet's image garbage collection: every imageGCPeriod, unused images go, the least
// recently used first, while the image store's filesystem is above the high threshold, down to
// the low one (--image-gc-high-threshold, --image-gc-low-threshold).
const (
	imageGCPeriod        = 5 * time.Minute
	imageGCHighThreshold = 85
	imageGCLowThreshold  = 80
)

func (p *Pool) collectImages(ctx context.Context) {
	logger := klog.FromContext(ctx)
	t := time.NewTicker(imageGCPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		removed, freed, err := p.Images.GC(imageGCHighThreshold, imageGCLowThreshold)
		if err != nil {
			logger.Error(err, "Image garbage collection")
		}
		for _, img := range removed {
			logger.Info("Image garbage collection removed an image", "image", img.ID, "names", img.RepoTags)
		}
		if freed > 0 {
			logger.Info("Image garbage collection freed space", "bytes", freed)
		}
	}
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
		ID:        Identity{Cluster: p.Cluster, Instance: in, KernelVersion: kernel},
		Client:    creds.Client,
		Fabric:    p.Fabric,
		Images:    p.Images,
		ToolsRoot: p.ToolsRoot,
		creds:     creds,
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	go a.Run(ctx)
	return nil
}
