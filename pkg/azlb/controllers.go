package azlb

import (
	"context"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	nodecontroller "k8s.io/cloud-provider/controllers/node"
	nodelifecycle "k8s.io/cloud-provider/controllers/nodelifecycle"
	controllersmetrics "k8s.io/component-base/metrics/prometheus/controllers"
	"k8s.io/klog/v2"
)

// RunControllers runs the upstream cloud controllers minaks needs, against this cloud, as AKS's
// cloud-controller-manager runs them: the cloud node controller (initializes new nodes:
// providerID, addresses, zone, instance type; removes the uninitialized taint) and the cloud
// node lifecycle controller (deletes nodes whose instance is gone). They stop with ctx.
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
	factory.Start(ctx.Done())
	logger.Info("Starting cloud controllers", "controllers", []string{"cloud-node", "cloud-node-lifecycle"})
	go nodes.RunWithContext(ctx, metrics)
	go lifecycle.Run(ctx, metrics)
	return nil
}
