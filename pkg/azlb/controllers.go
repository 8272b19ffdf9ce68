package azlb

import (
	"context"
	"net"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	nodecontroller "k8s.io/cloud-provider/controllers/node"
	nodelifecycle "k8s.io/cloud-provider/controllers/nodelifecycle"
	routecontroller "k8s.io/cloud-provider/controllers/route"
	controllersmetrics "k8s.io/component-base/metrics/prometheus/controllers"
	"k8s.io/klog/v2"
)

// routeReconcilePeriod is cloud-controller-manager's --route-reconciliation-period on AKS.
const routeReconcilePeriod = 10 * time.Second

// RunControllers runs the upstream cloud controllers minaks needs, against this cloud, as AKS's
// cloud-controller-manager runs them: the cloud node controller (initializes new nodes:
// providerID, addresses, zone, instance type; removes the uninitialized taint), the cloud node
// lifecycle controller (deletes nodes whose instance is gone) and, with kubenet, the route
// controller (one route per node pod range; NetworkUnavailable). They stop with ctx.
func RunControllers(ctx context.Context, client kubernetes.Interface, cloud *Cloud) error {
	logger := klog.FromContext(ctx).WithValues("component", "cloud-controller-manager")
	ctx = klog.NewContext(ctx, logger)
	factory := informers.NewSharedInformerFactory(client, 0)
	metrics := controllersmetrics.NewControllerManagerMetrics("cloud-controller-manager")

	nodes, err := nodecontroller.NewCloudNodeController(factory.Core().V1().Nodes(), client, cloud, 5*time.Minute, 4, 2)
	if err != nil {
		return err
	}
	lifecycle, err := nodelifecycle.NewCloudNodeLifecycleController(factory.Core().V1().Nodes(), client, cloud, 5*time.Second, 1)
	if err != nil {
		return err
	}
	names := []string{"cloud-node", "cloud-node-lifecycle"}
	var routes *routecontroller.RouteController
	if rt, ok := cloud.Routes(); ok {
		var cidrs []*net.IPNet
		for _, c := range cloud.cluster.Network.PodCIDRs {
			_, n, err := net.ParseCIDR(c)
			if err != nil {
				return err
			}
			cidrs = append(cidrs, n)
		}
		if routes, err = routecontroller.New(rt, client, factory.Core().V1().Nodes(), cloud.cluster.Name, cidrs); err != nil {
			return err
		}
		names = append(names, "route")
	}
	factory.Start(ctx.Done())
	logger.Info("Starting cloud controllers", "controllers", names)
	go nodes.RunWithContext(ctx, metrics)
	go lifecycle.Run(ctx, metrics)
	if routes != nil {
		go routes.Run(ctx, routeReconcilePeriod, metrics)
	}
	return nil
}
