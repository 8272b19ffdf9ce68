package nodes

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
)

// Sandboxes gives the pods bound to a node their network sandbox: a namespace with eth0 and an
// address from the node's CNI mode, reported in the pod's status, and removed with the pod. It
// is level-triggered: events only queue a pod's key, and sync compares the pod with what exists.
// Containers are the pod runtime's; a sandbox is what they will run in.
type Sandboxes struct {
	agent *Agent
	ipam  *IPAM
	style string
	rng   netip.Prefix
	// rngV6 is the node's IPv6 pod range in a dual-stack cluster.
	rngV6 netip.Prefix
	queue workqueue.TypedRateLimitingInterface[string]
	store cache.Store
	// uids remembers the UID of each pod key with a sandbox, to tear it down after deletion.
	uids map[string]string
	// routePerPod: the fabric routes each pod IP to the node (pod subnet).
	routePerPod bool

	rt *runtime
	// workers run the pods' containers, by pod UID; only sync touches the map.
	workers map[string]*podWorker
	// byName are the workers by pod key, for the kubelet API.
	mu     sync.Mutex
	byName map[string]*podWorker
	// hostPorts is whether the node's hostPort chain exists.
	hostPorts bool
	// ctx is the agent's, for the workers.
	ctx context.Context

	// rates turns containers' CPU times into rates for the stats summary; metrics are the
	// node's /metrics and /metrics/probes.
	rates   cpuRates
	metrics *nodeMetrics
}

// newSandboxes prepares the node's pod networking: its address range, and the fabric's route
// to it in overlay and kubenet. It returns nil for --network-plugin none: pods there wait for a
// CNI the user brings.
func newSandboxes(a *Agent) (*Sandboxes, error) {
	s := &Sandboxes{agent: a, style: netstack.PodRouted, uids: map[string]string{}, workers: map[string]*podWorker{}, byName: map[string]*podWorker{}}
	s.metrics = newNodeMetrics(s)
	in := a.ID.Instance
	n := a.ID.Cluster.Network
	// What ip-masq-agent leaves alone: pods' own range, and the VNet where pods are part of it.
	nonMasquerade := []string{n.VNetCIDR}
	switch n.CNI() {
	case config.CNIOverlay:
		nonMasquerade = []string{n.PodCIDRs[0]}
	case config.CNIKubenet:
		nonMasquerade = []string{n.PodCIDRs[0], n.VNetCIDR}
	}
	if err := netstack.IPTablesHintChain(false).Ensure(a.NS()); err != nil {
		return nil, err
	}
	if n.CNI() == config.CNINone {
		// No pod network until the user installs a CNI: only hostNetwork pods run (kube-proxy),
		// as with a kubelet whose network plugin is not ready. ipam stays nil.
		return s, nil
	}
	s.ipam = NewIPAM(in.PodFirst, in.PodLast)
	switch n.CNI() {
	case config.CNINodeSubnet:
		s.rng = netip.MustParsePrefix(n.SubnetCIDR)
		// The pods' addresses are the NIC's secondary IPs: the node answers ARP for them on
		// the subnet, as Azure's SDN delivers them to the VM.
		if err := netns.Sysctl(a.NS(), map[string]string{"net.ipv4.conf.eth0.proxy_arp": "1"}); err != nil {
			return nil, err
		}
	case config.CNIPodSubnet:
		// The SDN delivers each pod IP of the pod subnet to its node: a fabric route per pod.
		s.rng = netip.MustParsePrefix(n.PodSubnetCIDR)
		s.routePerPod = true
	case config.CNIKubenet:
		// kubenet's routes are the route controller's, through the cloud provider.
		s.rng = netip.MustParsePrefix(in.PodCIDRs[0])
		s.style = netstack.PodBridged
	case config.CNIOverlay:
		// Overlay ranges are routed by the SDN itself, invisible to the VNet's route tables.
		s.rng = netip.MustParsePrefix(in.PodCIDRs[0])
		if err := a.Fabric.RoutePodRange(s.rng, in.IP); err != nil {
			return nil, fmt.Errorf("route %s to node %s: %w", s.rng, in.Name, err)
		}
	}
	if err := netstack.MasqueradeChain(nonMasquerade, false).Ensure(a.NS()); err != nil {
		return nil, err
	}
	if in.IPv6.IsValid() && len(in.PodCIDRs) > 1 {
		s.rngV6 = netip.MustParsePrefix(in.PodCIDRs[1])
		if err := a.Fabric.RoutePodRange(s.rngV6, in.IPv6); err != nil {
			return nil, fmt.Errorf("route %s to node %s: %w", s.rngV6, in.Name, err)
		}
		if err := netstack.MasqueradeChain([]string{n.PodCIDRs[1]}, true).Ensure(a.NS()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// podIPv6 is a dual-stack pod's IPv6 address: the host number of its IPv4 address in the node's
// IPv4 range, in the node's IPv6 range (10.244.1.7 → fd12:3456:789a:0:1::7). It needs no
// allocator of its own and survives restarts with the IPv4 address.
func podIPv6(v4 netip.Addr, r4, r6 netip.Prefix) netip.Addr {
	a, b := v4.As4(), r4.Masked().Addr().As4()
	n := binary.BigEndian.Uint32(a[:]) - binary.BigEndian.Uint32(b[:])
	v6 := r6.Masked().Addr().As16()
	binary.BigEndian.PutUint32(v6[12:], binary.BigEndian.Uint32(v6[12:])+n)
	return netip.AddrFrom16(v6)
}

// podNS is the namespace of a pod's sandbox.
func (s *Sandboxes) podNS(uid string) string {
	return PodNSName(s.agent.ID.Cluster.Name, uid)
}

// Run watches the node's pods and keeps their sandboxes until ctx is done.
func (s *Sandboxes) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("node", s.agent.ID.Instance.Name)
	factory := informers.NewSharedInformerFactoryWithOptions(s.agent.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", s.agent.ID.Instance.Name).String()
		}))
	informer := factory.Core().V1().Pods().Informer()
	s.store = informer.GetStore()
	services := informers.NewSharedInformerFactory(s.agent.Client, 0)
	svcLister := services.Core().V1().Services().Lister()
	rt, err := newRuntime(ctx, s.agent, svcLister)
	if err != nil {
		logger.Error(err, "Pod runtime")
		return
	}
	s.rt, s.ctx = rt, ctx
	services.Start(ctx.Done())
	s.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer s.queue.ShutDown()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			s.queue.Add(key)
		}
	}
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced, services.Core().V1().Services().Informer().HasSynced) {
		return
	}
	// After a restart, pods keep the addresses their status reports.
	for _, obj := range s.store.List() {
		pod := obj.(*v1.Pod)
		if ip, err := netip.ParseAddr(pod.Status.PodIP); err == nil && !pod.Spec.HostNetwork && s.ipam != nil {
			if err := s.ipam.Reserve(ip, string(pod.UID)); err != nil {
				logger.Info("Pod address not kept", "pod", klog.KObj(pod), "ip", ip, "reason", err)
			}
		}
	}
	go func() {
		for s.processNext(ctx) {
		}
	}()
	<-ctx.Done()
}

func (s *Sandboxes) processNext(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	if err := s.sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Pod sandbox", "pod", key)
		}
		s.queue.AddRateLimited(key)
		return true
	}
	s.queue.Forget(key)
	return true
}

// sync brings one pod's sandbox and worker in line with the pod.
func (s *Sandboxes) sync(ctx context.Context, key string) error {
	obj, exists, err := s.store.GetByKey(key)
	if err != nil {
		return err
	}
	if !exists {
		// Gone from the API (a forced deletion): nothing is waited for.
		if uid, ok := s.uids[key]; ok {
			if !s.stopWorker(key, uid, 0) {
				return nil
			}
			return s.teardown(key, uid, true)
		}
		return nil
	}
	pod := obj.(*v1.Pod)
	uid := string(pod.UID)
	if old, ok := s.uids[key]; ok && old != uid {
		// The same name, a new pod: the old one goes first.
		if !s.stopWorker(key, old, 0) {
			return nil
		}
		if err := s.teardown(key, old, true); err != nil {
			return err
		}
	}
	terminal := pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
	if pod.DeletionTimestamp != nil || terminal {
		if !s.stopWorker(key, uid, gracePeriod(pod)) {
			return nil // sync runs again when the containers have stopped
		}
		if err := s.teardown(key, uid, pod.DeletionTimestamp != nil); err != nil {
			return err
		}
		if pod.DeletionTimestamp != nil {
			// Nothing runs any more: the node confirms the deletion, as the kubelet does.
			err := s.agent.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name,
				metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &pod.UID}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return err
			}
		}
		return nil
	}

	if w := s.workers[uid]; w != nil {
		w.update(pod)
		return nil
	}
	in := s.agent.ID.Instance
	podIPs := []netip.Addr{in.IP}
	if in.IPv6.IsValid() {
		podIPs = append(podIPs, in.IPv6)
	}
	if !pod.Spec.HostNetwork && s.ipam == nil {
		return nil // no pod network (--network-plugin none): the pod waits for one
	}
	if !pod.Spec.HostNetwork {
		ip, err := s.ipam.Allocate(uid)
		if err != nil {
			return err
		}
		nic := netstack.PodNIC{NS: s.podNS(uid), NodeNS: s.agent.NS(), UID: uid, IP: ip, Range: s.rng, Style: s.style}
		podIPs = []netip.Addr{ip}
		if s.rngV6.IsValid() {
			nic.IPv6 = podIPv6(ip, s.rng, s.rngV6)
			podIPs = append(podIPs, nic.IPv6)
		}
		s.uids[key] = uid
		if err := netstack.AttachPod(nic); err != nil {
			return fmt.Errorf("sandbox of %s: %w", key, err)
		}
		if s.routePerPod {
			if err := s.agent.Fabric.RoutePodRange(netip.PrefixFrom(ip, 32), in.IP); err != nil {
				return err
			}
		}
	}
	s.uids[key] = uid
	w := newPodWorker(s.rt, pod, podIPs)
	s.workers[uid] = w
	s.mu.Lock()
	s.byName[key] = w
	s.mu.Unlock()
	go w.run(s.ctx)
	if hasHostPorts(pod) {
		return s.syncHostPorts()
	}
	return nil
}

func hasHostPorts(pod *v1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				return true
			}
		}
	}
	return false
}

// stopWorker asks a pod's worker to stop its containers within grace, and reports whether it
// has; if not, the pod's key is queued again for when it has.
func (s *Sandboxes) stopWorker(key, uid string, grace time.Duration) bool {
	w := s.workers[uid]
	if w == nil {
		return true
	}
	w.stop(grace)
	select {
	case <-w.done:
		return true
	default:
	}
	go func() {
		<-w.done
		s.queue.Add(key)
	}()
	return false
}

// gracePeriod is how long a pod's containers get to stop: the deletion's grace period, or the
// pod's terminationGracePeriodSeconds.
func gracePeriod(pod *v1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return v1.DefaultTerminationGracePeriodSeconds * time.Second
}

func hasCondition(pod *v1.Pod, t v1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t && c.Status == v1.ConditionTrue {
			return true
		}
	}
	return false
}

// teardown removes a pod's sandbox (its network namespace and address) and, when the pod is
// being deleted, its files and logs.
func (s *Sandboxes) teardown(key, uid string, deleted bool) error {
	if err := netstack.DetachPod(s.podNS(uid)); err != nil {
		return err
	}
	if s.ipam != nil {
		if ip, ok := s.ipam.AddressOf(uid); ok && s.routePerPod {
			if err := s.agent.Fabric.UnroutePodRange(netip.PrefixFrom(ip, 32)); err != nil {
				return err
			}
		}
		s.ipam.Release(uid)
	}
	if deleted {
		if w := s.workers[uid]; w != nil {
			if err := os.RemoveAll(s.agent.podLogDir(w.pod)); err != nil {
				return err
			}
		}
		if err := os.RemoveAll(s.agent.podDir(uid)); err != nil {
			return err
		}
		delete(s.workers, uid)
		if s.uids[key] == uid {
			delete(s.uids, key)
		}
		s.mu.Lock()
		if w := s.byName[key]; w != nil && string(w.uid) == uid {
			delete(s.byName, key)
		}
		s.mu.Unlock()
		if s.hostPorts {
			return s.syncHostPorts()
		}
	}
	return nil
}

// workersExcept are the node's pod workers but w.
func (s *Sandboxes) workersExcept(w *podWorker) []*podWorker {
	s.mu.Lock()
	defer s.mu.Unlock()
	var others []*podWorker
	for _, o := range s.byName {
		if o != w {
			others = append(others, o)
		}
	}
	return others
}
