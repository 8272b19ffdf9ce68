package cluster

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver/addons"
	"github.com/minaks/minaks/pkg/apiserver/apply"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/version"
	"github.com/minaks/minaks/pkg/nodes/netpolicy"
	"github.com/minaks/minaks/pkg/nodes/proxy"
)

// startAddons applies the add-ons AKS runs in kube-system and waits until they serve: first
// the kube-proxy DaemonSet, ready on every node (each node's Service rules in sync), then the
// network policy engine's DaemonSet (each node's policy written), then CoreDNS, whose replicas then reach the API server through the kubernetes Service at once
// (with --network-plugin none or kube-proxy disabled, CoreDNS waits for what the user brings
// instead, and up does not).
func startAddons(ctx context.Context, client kubernetes.Interface, ext apiextensionsclient.Interface, c *config.Cluster) error {
	poll := func(ready func(ctx context.Context) bool) error {
		return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			return ready(ctx), nil
		})
	}
	if c.KubeProxy.IsEnabled() {
		if err := proxy.Apply(ctx, client, c, version.Kubernetes()); err != nil {
			return err
		}
		if err := poll(func(ctx context.Context) bool {
			ds, err := client.AppsV1().DaemonSets(proxy.Namespace).Get(ctx, proxy.Name, metav1.GetOptions{})
			return err == nil && daemonSetReady(ds, c.NodeCount)
		}); err != nil {
			return err
		}
	}
	if engine := netpolicy.Engine(c); engine.Name != "" {
		// Before CoreDNS: a pod's containers start once the policy agent of its node has it.
		if err := netpolicy.Apply(ctx, client, ext, c); err != nil {
			return err
		}
		if err := poll(func(ctx context.Context) bool {
			ds, err := client.AppsV1().DaemonSets(engine.Namespace).Get(ctx, engine.Name, metav1.GetOptions{})
			return err == nil && daemonSetReady(ds, c.NodeCount)
		}); err != nil {
			return err
		}
	}
	if err := addons.Apply(ctx, client, c); err != nil {
		return err
	}
	if err := apply.APIService(ctx, client.Discovery().RESTClient(), addons.MetricsServerAPIService()); err != nil {
		return fmt.Errorf("metrics-server add-on: %w", err)
	}
	if c.Network.CNI() == config.CNINone || !c.KubeProxy.IsEnabled() && c.Network.Dataplane != "cilium" {
		// No pod network until the user installs a CNI, or no Service implementation until
		// the user installs one in kube-proxy's place (Cilium's agent is one): CoreDNS waits
		// for it, as on AKS.
		return nil
	}
	return poll(func(ctx context.Context) bool {
		d, err := client.AppsV1().Deployments(addons.Namespace).Get(ctx, addons.CoreDNSName, metav1.GetOptions{})
		return err == nil && deploymentReady(d)
	})
}

// deploymentReady reports whether d's current generation has all its replicas ready.
func deploymentReady(d *appsv1.Deployment) bool {
	s, want := d.Status, ptr.Deref(d.Spec.Replicas, 1)
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas >= want && s.ReadyReplicas >= want
}

// daemonSetReady reports whether ds's current generation runs ready on at least n nodes.
func daemonSetReady(ds *appsv1.DaemonSet, n int) bool {
	s := ds.Status
	return s.ObservedGeneration >= ds.Generation && int(s.DesiredNumberScheduled) >= n &&
		s.NumberReady >= s.DesiredNumberScheduled && s.UpdatedNumberScheduled >= s.DesiredNumberScheduled
}
