package nodes

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	cloudproviderapi "k8s.io/cloud-provider/api"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// WaitReady waits until the cluster's nodes are initialized by the cloud node controller and
// Ready (with --network-plugin none, initialized only: such nodes stay NotReady until a CNI is
// installed, as on AKS), and until the default namespace has its service account, without
// which no pod can be created there.
func WaitReady(ctx context.Context, client kubernetes.Interface, c *config.Cluster) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err == nil && countReady(list.Items, c.Network.CNI() != config.CNINone) >= c.NodeCount {
			_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func countReady(nodes []v1.Node, needReady bool) int {
	n := 0
	for _, node := range nodes {
		if IsReady(&node, needReady) {
			n++
		}
	}
	return n
}

// IsReady reports whether a node is initialized (has its providerID and no uninitialized
// taint), has its network (no NetworkUnavailable, which kubenet nodes have until their route
// exists) and, when needReady, is Ready.
func IsReady(node *v1.Node, needReady bool) bool {
	if node.Spec.ProviderID == "" {
		return false
	}
	for _, t := range node.Spec.Taints {
		if t.Key == cloudproviderapi.TaintExternalCloudProvider {
			return false
		}
	}
	ready := !needReady
	for _, cond := range node.Status.Conditions {
		switch cond.Type {
		case v1.NodeNetworkUnavailable:
			if cond.Status == v1.ConditionTrue {
				return false
			}
		case v1.NodeReady:
			ready = ready || cond.Status == v1.ConditionTrue
		}
	}
	return ready
}
