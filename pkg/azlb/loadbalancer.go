package azlb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/pkg/azlb/dataplane"
	"github.com/minaks/minaks/pkg/netstack"
)

// LoadBalancers is the emulated Azure Standard Load Balancer behind Services of type
// LoadBalancer: the cloudprovider.LoadBalancer the upstream service controller drives. It keeps
// what ARM would keep (each Service's frontend IP and public IP name), builds the whole model
// from it at every change, and applies the model's data plane to the fabric, level-triggered.
type LoadBalancers struct {
	cloud   *Cloud
	fabric  *netstack.Fabric
	prober  *dataplane.Prober
	applier *dataplane.Applier
	// Events records the Warning Events of annotations minaks cannot emulate.
	Events record.EventRecorder

	mu       sync.Mutex
	ctx      context.Context
	services map[string]*ServiceLB
	errors   map[string]string
	// reserved holds the frontend IPs of Services not ensured yet since the daemon started,
	// from their status, so that no other Service takes them first.
	reserved map[netip.Addr]string
	backends []Backend
	outbound []netip.Addr
	model    *Model
	resync   chan struct{}
	// status is signalled when the status file needs writing.
	status chan struct{}
	// names are the public IPs' DNS names (fqdn → address), for Azure DNS.
	names atomic.Pointer[map[string]netip.Addr]
}

// Resolve answers the DNS name of a public IP (<label>.<region>.cloudapp.azure.com).
func (l *LoadBalancers) Resolve(name string) (netip.Addr, bool) {
	m := l.names.Load()
	if m == nil {
		return netip.Addr{}, false
	}
	a, ok := (*m)[name]
	return a, ok
}

func newLoadBalancers(cloud *Cloud, fabric *netstack.Fabric) *LoadBalancers {
	l := &LoadBalancers{
		cloud:    cloud,
		fabric:   fabric,
		services: map[string]*ServiceLB{},
		errors:   map[string]string{},
		reserved: map[netip.Addr]string{},
		resync:   make(chan struct{}, 1),
		status:   make(chan struct{}, 1),
		applier:  &dataplane.Applier{Fabric: fabric},
	}
	l.prober = &dataplane.Prober{Fabric: netstack.FabricNS(fabric.Cluster), OnChange: l.trigger}
	return l
}

// resyncPeriod repairs the data plane if something removed part of it.
const resyncPeriod = 30 * time.Second

// start allocates the outbound IPs, reserves the frontend IPs existing Services have in their
// status, applies the data plane, and keeps it in sync until ctx is done.
func (l *LoadBalancers) start(ctx context.Context, existing []v1.Service, backends []Backend) error {
	l.mu.Lock()
	l.ctx = ctx
	l.backends = backends
	for _, svc := range existing {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				l.reserved[a] = key(&svc)
			}
		}
	}
	var err error
	if l.cloud.cluster.Network.OutboundType == "loadBalancer" {
		for range max(l.cloud.cluster.Network.ManagedOutboundIPCount, 1) {
			a, aerr := l.freePublicIP()
			if aerr != nil {
				err = errors.Join(err, fmt.Errorf("managed outbound IP: %w", aerr))
				break
			}
			l.outbound = append(l.outbound, a)
		}
	}
	err = errors.Join(err, l.syncLocked(true))
	l.mu.Unlock()

	go func() {
		t := time.NewTicker(resyncPeriod)
		defer t.Stop()
		for {
			full := false
			select {
			case <-ctx.Done():
				return
			case <-l.resync:
			case <-t.C:
				full = true
			}
			l.mu.Lock()
			if err := l.syncLocked(full); err != nil {
				klog.FromContext(ctx).Error(err, "Load balancer data plane")
			}
			l.mu.Unlock()
		}
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.status:
				l.writeStatus()
			}
		}
	}()
	return err
}

// trigger asks for a sync soon (a probe changed state).
func (l *LoadBalancers) trigger() {
	select {
	case l.resync <- struct{}{}:
	default:
	}
}

func key(svc *v1.Service) string { return svc.Namespace + "/" + svc.Name }

// GetLoadBalancerName is the Service's base name: "a" + its UID without dashes, cut to 32
// characters.
func (l *LoadBalancers) GetLoadBalancerName(_ context.Context, _ string, svc *v1.Service) string {
	return cloudprovider.DefaultLoadBalancerName(svc)
}

// GetLoadBalancer reports the Service's load balancer status, if it has one.
func (l *LoadBalancers) GetLoadBalancer(_ context.Context, _ string, svc *v1.Service) (*v1.LoadBalancerStatus, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.services[key(svc)]
	if !ok {
		return nil, false, nil
	}
	return lbStatus(s), true, nil
}

func lbStatus(s *ServiceLB) *v1.LoadBalancerStatus {
	vip := v1.LoadBalancerIPModeVIP
	return &v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: s.FrontendIP.String(), IPMode: &vip}}}
}

// EnsureLoadBalancer reads the Service, gives it a frontend, and applies the whole model. Bad
// input is refused before anything changes.
func (l *LoadBalancers) EnsureLoadBalancer(ctx context.Context, _ string, svc *v1.Service, nodes []*v1.Node) (*v1.LoadBalancerStatus, error) {
	cfg, err := ParseService(svc, l.cloud.cluster)
	l.mu.Lock()
	defer l.mu.Unlock()
	k := key(svc)
	if err != nil {
		l.errors[k] = err.Error()
		l.statusChanged()
		return nil, err
	}
	s, err := l.assign(svc, cfg)
	if err != nil {
		l.errors[k] = err.Error()
		l.statusChanged()
		return nil, err
	}
	backends, err := l.backendsOf(nodes)
	if err != nil {
		return nil, err
	}
	old, hadOld := l.services[k]
	l.services[k] = s
	l.backends = backends
	delete(l.reserved, s.FrontendIP)
	delete(l.errors, k)
	if err := l.syncLocked(false); err != nil {
		if hadOld {
			l.services[k] = old
		} else {
			delete(l.services, k)
		}
		l.errors[k] = err.Error()
		_ = l.syncLocked(false)
		return nil, err
	}
	if l.Events != nil {
		for _, w := range cfg.Warnings {
			l.Events.Event(svc, v1.EventTypeWarning, "AnnotationNotEmulated", w)
		}
	}
	return lbStatus(s), nil
}

// UpdateLoadBalancer follows a change of the backend nodes.
func (l *LoadBalancers) UpdateLoadBalancer(_ context.Context, _ string, svc *v1.Service, nodes []*v1.Node) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	backends, err := l.backendsOf(nodes)
	if err != nil {
		return err
	}
	l.backends = backends
	return l.syncLocked(false)
}

// EnsureLoadBalancerDeleted removes the Service's frontend (and its public IP, unless another
// Service shares it), rules and probes.
func (l *LoadBalancers) EnsureLoadBalancerDeleted(_ context.Context, _ string, svc *v1.Service) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := key(svc)
	delete(l.services, k)
	delete(l.errors, k)
	for a, owner := range l.reserved {
		if owner == k {
			delete(l.reserved, a)
		}
	}
	return l.syncLocked(false)
}

// backendsOf maps the service controller's nodes to backend pool members.
func (l *LoadBalancers) backendsOf(nodes []*v1.Node) ([]Backend, error) {
	var out []Backend
	for _, n := range nodes {
		in, ok, err := l.cloud.instance(n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, Backend{Name: in.Name, InstanceID: in.ID, IP: in.IP})
		}
	}
	slices.SortFunc(out, func(a, b Backend) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// syncLocked builds the model and applies its data plane (all of it when full, else what
// changed), then has the status file written.
func (l *LoadBalancers) syncLocked(full bool) error {
	if l.ctx == nil {
		return errors.New("load balancers not started")
	}
	in := Input{
		Cluster:             l.cloud.cluster,
		Backends:            l.backends,
		OutboundIPs:         l.outbound,
		OutboundPorts:       int32(l.cloud.cluster.Network.OutboundPorts),
		OutboundIdleTimeout: int32(l.cloud.cluster.Network.IdleTimeout),
	}
	for _, k := range slices.Sorted(maps.Keys(l.services)) {
		in.Services = append(in.Services, *l.services[k])
	}
	l.model = Build(in)
	names := map[string]netip.Addr{}
	for _, p := range l.model.PublicIPAddresses {
		if a, err := netip.ParseAddr(p.IPAddress); err == nil && p.DNSSettings != nil {
			names[strings.ToLower(p.DNSSettings.FQDN)] = a
		}
	}
	l.names.Store(&names)
	l.prober.Set(l.ctx, probeTargets(l.model, l.backends))
	err := l.applier.Apply(dataplaneConfig(l.cloud.cluster, l.model, l.backends, l.prober.Health(), l.fabric.Edge.Addr().Next()), full)
	l.statusChanged()
	return err
}

// statusChanged asks for the status file to be written, soon and off the caller's path.
func (l *LoadBalancers) statusChanged() {
	select {
	case l.status <- struct{}{}:
	default:
	}
}

// writeStatus saves the model, the Services and the probe states for `minaks lb` (atomically).
func (l *LoadBalancers) writeStatus() {
	st := l.snapshot()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return
	}
	path := l.cloud.cluster.Path(StatusFile)
	tmp := filepath.Join(filepath.Dir(path), "."+StatusFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		_ = os.Rename(tmp, path)
	}
}

// snapshot is the Status now. The model is never changed once built, so it is shared.
func (l *LoadBalancers) snapshot() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Status{}
	if l.model != nil {
		st.Model = *l.model
	}
	for _, k := range slices.Sorted(maps.Keys(l.services)) {
		s := l.services[k]
		lb := "kubernetes"
		if s.Config.Internal {
			lb = "kubernetes-internal"
		}
		st.Services = append(st.Services, ServiceStatus{
			Namespace: s.Service.Namespace, Name: s.Service.Name, UID: string(s.Service.UID),
			Base: s.Config.Base, LoadBalancer: lb, Frontend: frontendName(l.model, s), FrontendIP: s.FrontendIP.String(),
			PublicIP: s.PublicIPName, Error: l.errors[k],
		})
	}
	for _, k := range slices.Sorted(maps.Keys(l.errors)) {
		if _, ok := l.services[k]; !ok {
			ns, name, _ := strings.Cut(k, "/")
			st.Services = append(st.Services, ServiceStatus{Namespace: ns, Name: name, Error: l.errors[k]})
		}
	}
	health := l.prober.Health()
	for _, k := range slices.SortedFunc(maps.Keys(health), func(a, b dataplane.Key) int {
		return strings.Compare(a.LoadBalancer+"/"+a.Probe+"/"+a.Backend, b.LoadBalancer+"/"+b.Probe+"/"+b.Backend)
	}) {
		h := health[k]
		bh := BackendHealth{LoadBalancer: k.LoadBalancer, Probe: k.Probe, Backend: k.Backend, State: h.State, Detail: h.Detail}
		if !h.Since.IsZero() {
			bh.Since = h.Since.UTC().Format(time.RFC3339)
		}
		for _, be := range l.backends {
			if be.Name == k.Backend {
				bh.IPAddress = be.IP.String()
			}
		}
		st.Health = append(st.Health, bh)
	}
	return st
}
