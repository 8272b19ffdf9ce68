package cluster

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/version"
	"github.com/minaks/minaks/pkg/nodes/proxy"
)

// startAddons applies the add-ons AKS runs in kube-system and waits until they serve: the
// kube-proxy DaemonSet ready on every node (each node's Service rules in sync).
func startAddons(ctx context.Context, client kubernetes.Interface, c *config.Cluster) error {
	if !c.KubeProxy.IsEnabled() {
		return nil
	}
	if err := proxy.Apply(ctx, client, c, version.Kubernetes()); err != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		ds, err := client.AppsV1().DaemonSets(proxy.Namespace).Get(ctx, proxy.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return daemonSetReady(ds, c.NodeCount), nil
	})
}

// daemonSetReady reports whether ds's current generation runs ready on at least n nodes.
func daemonSetReady(ds *appsv1.DaemonSet, n int) bool {
	s := ds.Status
	return s.ObservedGeneration >= ds.Generation && int(s.DesiredNumberScheduled) >= n &&
		s.NumberReady >= s.DesiredNumberScheduled && s.UpdatedNumberScheduled >= s.DesiredNumberScheduled
}
