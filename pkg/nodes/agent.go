package nodes

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/nodes/imagestore"
	"github.com/minaks/minaks/pkg/nodes/kubeletapi"
)

// Heartbeats, as the kubelet's defaults.
const (
	leaseDuration      = 40 * time.Second
	leaseRenewInterval = 10 * time.Second
	statusInterval     = time.Minute
)

// Agent is a node's agent: minaks's kubelet. It plugs the node into the fabric, registers the
// Node, and keeps it alive with Lease heartbeats and status updates. It runs as a goroutine of
// the daemon with the node's own credentials (system:node:<name>), so the Node authorizer and
// NodeRestriction apply to it as to a kubelet.
type Agent struct {
	ID     Identity
	Client kubernetes.Interface
	Fabric *netstack.Fabric
	// Images is the host's image store.
	Images *imagestore.Store
	// ToolsRoot is the root filesystem of built-in images; empty, the host's root.
	ToolsRoot string

	creds     *apiserver.NodeCredentials
	sandboxes *Sandboxes
	// started is when the agent started: the node's start in its stats.
	started time.Time
	// statusNow asks for a status update before the next period (an image pulled).
	statusNow chan struct{}
}

// refreshStatus has the node's status written soon.
func (a *Agent) refreshStatus() {
	select {
	case a.statusNow <- struct{}{}:
	default:
	}
}

// NS is the node's network namespace.
func (a *Agent) NS() string { return NodeNSName(a.ID.Cluster.Name, a.ID.Instance.Name) }

// Start plugs the node into the fabric and registers it.
func (a *Agent) Start(ctx context.Context) error {
	a.started = time.Now()
	nic := netstack.NodeNIC{
		NS:    a.NS(),
		Port:  portName(a.ID.Instance.Name),
		Alias: a.ID.Instance.Name,
		IP:    a.ID.Instance.IP,
		IPv6:  a.ID.Instance.IPv6,
	}
	if err := a.Fabric.AttachNode(nic); err != nil {
		return fmt.Errorf("node %s: network: %w", a.ID.Instance.Name, err)
	}
	if err := writeResolvConf(a.ID); err != nil {
		return fmt.Errorf("node %s: %w", a.ID.Instance.Name, err)
	}
	sb, err := newSandboxes(a)
	if err != nil {
		return fmt.Errorf("node %s: pod network: %w", a.ID.Instance.Name, err)
	}
	a.sandboxes = sb
	a.statusNow = make(chan struct{}, 1)
	if err := a.register(ctx); err != nil {
		return fmt.Errorf("node %s: register: %w", a.ID.Instance.Name, err)
	}
	return a.renewLease(ctx)
}

// Run keeps the node alive until ctx is done.
func (a *Agent) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("node", a.ID.Instance.Name)
	if a.sandboxes != nil {
		go a.sandboxes.Run(ctx)
		if err := a.serveKubeletAPI(ctx); err != nil {
			logger.Error(err, "Kubelet API")
		}
	}
	lease := time.NewTicker(leaseRenewInterval)
	defer lease.Stop()
	status := time.NewTicker(statusInterval)
	defer status.Stop()
	updateStatus := func() {
		if err := a.updateStatus(ctx); err != nil && ctx.Err() == nil {
			logger.Error(err, "Updating node status")
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C:
			if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
				logger.Error(err, "Renewing lease")
			}
		case <-status.C:
			updateStatus()
		case <-a.statusNow:
			updateStatus()
		}
	}
}

// register creates the Node, or brings an existing one (from an earlier run) up to date.
func (a *Agent) register(ctx context.Context) error {
	want := a.ID.Node()
	_, err := a.Client.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := a.Client.CoreV1().Nodes().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		for k, v := range want.Labels {
			node.Labels[k] = v
		}
		_, err = a.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	}); err != nil {
		return err
	}
	return a.updateStatus(ctx)
}

// updateStatus reports the node's status, keeping the addresses the cloud node controller set.
func (a *Agent) updateStatus(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := a.Client.CoreV1().Nodes().Get(ctx, a.ID.Instance.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := a.ID.Status()
		if len(node.Status.Addresses) > 0 {
			st.Addresses = node.Status.Addresses
		}
		// Keep the transition times of conditions whose status did not change.
		for i, c := range st.Conditions {
			for _, old := range node.Status.Conditions {
				if old.Type == c.Type && old.Status == c.Status {
					st.Conditions[i].LastTransitionTime = old.LastTransitionTime
				}
			}
		}
		for _, old := range node.Status.Conditions {
			if old.Type == v1.NodeNetworkUnavailable {
				st.Conditions = append(st.Conditions, old) // the route controller's
			}
		}
		st.Images = a.images()
		node.Status = st
		_, err = a.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

// maxStatusImages is how many images the node's status lists at most, the largest first, as
// the kubelet's --node-status-max-images.
const maxStatusImages = 50

// images are the images of the host's store, as the node's status lists them.
func (a *Agent) images() []v1.ContainerImage {
	if a.Images == nil {
		return nil
	}
	all, err := a.Images.List()
	if err != nil {
		return nil
	}
	var out []v1.ContainerImage
	for _, img := range all {
		names := slices.Concat(img.RepoDigests, img.RepoTags)
		if len(names) == 0 {
			continue
		}
		out = append(out, v1.ContainerImage{Names: names, SizeBytes: img.Size})
	}
	slices.SortStableFunc(out, func(x, y v1.ContainerImage) int { return cmp.Compare(y.SizeBytes, x.SizeBytes) })
	return out[:min(len(out), maxStatusImages)]
}

// renewLease writes the node's heartbeat into kube-node-lease.
func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.Client.CoordinationV1().Leases(v1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, a.ID.Instance.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err := a.Client.CoreV1().Nodes().Get(ctx, a.ID.Instance.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name:      a.ID.Instance.Name,
				Namespace: v1.NamespaceNodeLease,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
				}},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(a.ID.Instance.Name),
				LeaseDurationSeconds: ptr.To(int32(leaseDuration.Seconds())),
				RenewTime:            &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// serveKubeletAPI serves the kubelet's API on the node's address, port 10250, for logs, exec,
// attach and port-forward through the API server, and for the node's stats and metrics.
func (a *Agent) serveKubeletAPI(ctx context.Context) error {
	srv, err := kubeletapi.New(kubeletapi.Config{
		NodeName:     a.ID.Instance.Name,
		Cert:         a.creds.Serving,
		ClientCA:     a.creds.CA,
		Client:       a.Client,
		Metrics:      a.sandboxes.metrics.registry,
		ProbeMetrics: a.sandboxes.metrics.probes,
		LogDir:       a.ID.Cluster.Path("logs"),
	}, a.sandboxes)
	if err != nil {
		return err
	}
	var l net.Listener
	if err := netns.Do(a.NS(), func() (err error) {
		l, err = net.Listen("tcp", net.JoinHostPort(a.ID.Instance.IP.String(), fmt.Sprint(KubeletPort)))
		return err
	}); err != nil {
		return err
	}
	go func() { _ = srv.Serve(ctx, l) }()
	return nil
}
