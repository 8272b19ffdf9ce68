package azlb

import (
	"context"
	"net"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	nodecontroller "k8s.io/cloud-provider/controllers/node"
	nodelifecycle "k8s.io/cloud-provider/controllers/nodelifecycle"
	routecontroller "k8s.io/cloud-provider/controllers/route"
	servicecontroller "k8s.io/cloud-provider/controllers/service"
	controllersmetrics "k8s.io/component-base/metrics/prometheus/controllers"
	"k8s.io/klog/v2"
)

// routeReconcilePeriod is cloud-controller-manager's --route-reconciliation-period on AKS.
const routeReconcilePeriod = 10 * time.Second

// RunControllers runs the upstream cloud controllers minaks needs, against this cloud, as AKS's
// cloud-controller-manager runs them: the cloud node controller (initializes new nodes:
// providerID, addresses, zone, instance type; removes the uninitialized taint), the cloud node
// lifecycle controller (deletes nodes whose instance is gone), the service controller (Services
// of type LoadBalancer: the emulated Azure load balancer; finalizers, status and Events) and,
// with kubenet, the route controller (one route per node pod range; NetworkUnavailable). They
// stop with ctx.
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
	var services *servicecontroller.Controller
	if cloud.lbs != nil {
		if err := startLoadBalancers(ctx, client, cloud); err != nil {
			return err
		}
		if services, err = servicecontroller.New(cloud, client, factory.Core().V1().Services(), factory.Core().V1().Nodes(), cloud.cluster.Name, utilfeature.DefaultFeatureGate); err != nil {
			return err
		}
		names = append(names, "service")
	}
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
	if services != nil {
		go services.Run(ctx, 1, metrics)
	}
	if routes != nil {
		go routes.Run(ctx, routeReconcilePeriod, metrics)
	}
	return nil
}

// startLoadBalancers starts the emulated load balancer before the service controller: the
// outbound rule for every node, and the frontends that existing Services have in their status
// kept for them.
func startLoadBalancers(ctx context.Context, client kubernetes.Interface, cloud *Cloud) error {
	svcs, err := client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var lbs []v1.Service
	for _, s := range svcs.Items {
		if s.Spec.Type == v1.ServiceTypeLoadBalancer && s.Spec.LoadBalancerClass == nil {
			lbs = append(lbs, s)
		}
	}
	instances, err := cloud.vmss.Instances()
	if err != nil {
		return err
	}
	var backends []Backend
	for _, in := range instances {
		backends = append(backends, Backend{Name: in.Name, InstanceID: in.ID, IP: in.IP})
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	cloud.lbs.Events = broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "azure-cloud-provider"})
	go func() { <-ctx.Done(); broadcaster.Shutdown() }()
	return cloud.lbs.start(ctx, lbs, backends)
}
