package addons

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/minaks/minaks/pkg/apiserver/apply"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

// Apply creates or updates the add-ons of cluster c: CoreDNS's and metrics-server's objects by
// server-side apply (forced, as AKS's add-on manager reconciles them), and coredns-custom only
// when it is missing, so that what users put there stays. It is idempotent and runs at every
// daemon start. metrics-server's APIService is not a clientset kind: apply.APIService applies
// MetricsServerAPIService.
func Apply(ctx context.Context, client kubernetes.Interface, c *config.Cluster) error {
	s, err := DNSSettingsFor(c)
	if err != nil {
		return fmt.Errorf("CoreDNS add-on: %w", err)
	}
	objs, err := CoreDNSObjects(s)
	if err != nil {
		return fmt.Errorf("CoreDNS add-on: %w", err)
	}
	if err := apply.Objects(ctx, client, objs...); err != nil {
		return fmt.Errorf("CoreDNS add-on: %w", err)
	}
	if err := apply.Objects(ctx, client, MetricsServerObjects()...); err != nil {
		return fmt.Errorf("metrics-server add-on: %w", err)
	}
	custom := CoreDNSCustom()
	_, err = client.CoreV1().ConfigMaps(Namespace).Create(ctx, custom, metav1.CreateOptions{FieldManager: apply.FieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("CoreDNS add-on: create ConfigMap %s/%s: %w", Namespace, custom.Name, err)
	}
	return nil
}
