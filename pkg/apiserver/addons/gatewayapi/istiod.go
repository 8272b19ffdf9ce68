package gatewayapi

import (
	"context"
	"errors"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Names and images of the app routing Gateway API implementation, as AKS deploys it.
const (
	// IstioNamespace holds the control plane: istiod and the GatewayClass defaults.
	IstioNamespace = "aks-istio-system"
	// IstiodName names istiod's Deployment, Service, ServiceAccount, HPA and PDB: the app
	// routing control plane is not revisioned, unlike the Istio add-on's istiod-asm-1-NN.
	IstiodName = "istiod"
	// GatewayClassName is the GatewayClass AKS provides for app routing Gateways.
	GatewayClassName = "approuting-istio"
	// ControllerName is the GatewayClass's controller: istiod's managed gateway controller,
	// which names its objects <gateway>-<class>.
	ControllerName = "istio.io/gateway-controller"
	// ClassDefaultsName is the ConfigMap with the defaults of the per-Gateway objects,
	// selected by ClassDefaultsLabel=<class name> in IstioNamespace.
	ClassDefaultsName  = "istio-gateway-class-defaults"
	ClassDefaultsLabel = "gateway.istio.io/defaults-for-class"
	// MeshConfigName is istiod's mesh configuration ConfigMap.
	MeshConfigName = "istio"
	// RootCertName is the ConfigMap (key root-cert.pem) istiod publishes in every namespace,
	// which gateway pods mount.
	RootCertName = "istio-ca-root-cert"

	// PilotImage and ProxyImage are AKS's Istio images, without their tags.
	PilotImage = "mcr.microsoft.com/oss/v2/istio/pilot"
	ProxyImage = "mcr.microsoft.com/oss/v2/istio/proxyv2"
	// DefaultIstioTag is the tag AKS runs for the app routing control plane (the asm-1-29 line
	// of the 2026-04-28 release, the highest minor for Kubernetes 1.34 and later).
	DefaultIstioTag = "v1.29.2-1"

	// ManagedByLabel marks the control plane objects AKS manages; ManagedByAKS is its value.
	ManagedByLabel = "kubernetes.azure.com/managedby"

	clusterDomain  = "cluster.local"
	istiodAddress  = IstiodName + "." + IstioNamespace + ".svc:15012"
	istioRevision  = "default"
	istioTokenAud  = "istio-ca"
	tokenExpirySec = 43200
)

// ControlPlaneOptions are what the control plane objects depend on.
type ControlPlaneOptions struct {
	// ImageTag is istiod's image tag; DefaultIstioTag when empty.
	ImageTag string
}

// GatewayClass is the GatewayClass approuting-istio as istiod creates it at start when it is
// missing (its built-in class, named by PILOT_GATEWAY_API_DEFAULT_GATEWAYCLASS_NAME): no
// parametersRef, since the defaults of the per-Gateway objects come from the ConfigMap
// ClassDefaultsName selected by label. Apply it with ApplyGatewayClass.
func GatewayClass() *gatewayv1.GatewayClass {
	return &gatewayv1.GatewayClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "GatewayClass"},
		ObjectMeta: metav1.ObjectMeta{Name: GatewayClassName},
		Spec: gatewayv1.GatewayClassSpec{
			ControllerName: ControllerName,
			Description:    ptr.To("The default Istio GatewayClass"),
		},
	}
}

// GatewayClassAccepted is the condition istiod writes on a GatewayClass it handles.
func GatewayClassAccepted(generation int64, now metav1.Time) metav1.Condition {
	return metav1.Condition{
		Type:               string(gatewayv1.GatewayClassConditionStatusAccepted),
		Status:             metav1.ConditionTrue,
		ObservedGeneration: generation,
		LastTransitionTime: now,
		Reason:             string(gatewayv1.GatewayClassReasonAccepted),
		Message:            "Handled by Istio controller",
	}
}

// GatewayClassResource is the GatewayClass resource for the dynamic client.
var GatewayClassResource = schema.GroupVersionResource{Group: Group, Version: "v1", Resource: "gatewayclasses"}

// ApplyGatewayClass creates gc when it is missing and leaves it alone otherwise, as istiod's
// class controller does (so that users may change it); GatewayClass is a custom resource, so
// this goes through the dynamic client. To take the object over instead, use
// apply.Resource(ctx, dyn, GatewayClassResource, gc).
func ApplyGatewayClass(ctx context.Context, dyn dynamic.Interface, gc *gatewayv1.GatewayClass) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(gc)
	if err != nil {
		return fmt.Errorf("encode GatewayClass %s: %w", gc.Name, err)
	}
	delete(u, "status")
	_, err = dyn.Resource(GatewayClassResource).Create(ctx, &unstructured.Unstructured{Object: u}, metav1.CreateOptions{FieldManager: fieldManagerIstio})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create GatewayClass %s: %w", gc.Name, err)
	}
	return nil
}

// fieldManagerIstio is the field manager istiod writes its objects with.
const fieldManagerIstio = ControllerName

// Labels.
var (
	// istiodSelector selects istiod's pods: the Deployment's, PDB's and Service's selector.
	istiodSelector = map[string]string{"app": "istiod", "istio": "pilot"}
)

// istiodLabels are the labels of istiod's objects: Istio's chart's, and AKS's managed-by.
func istiodLabels() map[string]string {
	return map[string]string{
		"app":                         "istiod",
		"istio":                       "pilot",
		"istio.io/rev":                istioRevision,
		"operator.istio.io/component": "Pilot",
		"install.operator.istio.io/owning-resource": "unknown",
		"app.kubernetes.io/name":                    "istiod",
		"app.kubernetes.io/part-of":                 "istio",
		ManagedByLabel:                              ManagedByAKS,
	}
}

// ClassDefaults is the ConfigMap istio-gateway-class-defaults AKS reconciles in
// aks-istio-system for the approuting-istio class (`kubectl get cm -n aks-istio-system
// istio-gateway-class-defaults -o yaml`): every Gateway of the class gets an HPA of 2 to 5
// replicas and a PDB of minAvailable 1. Users may edit it; istiod merges its keys into the
// objects it renders (GatewayOptions.ClassDefaults).
func ClassDefaults() *v1.ConfigMap {
	return &v1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: IstioNamespace,
			Name:      ClassDefaultsName,
			Labels:    map[string]string{ClassDefaultsLabel: GatewayClassName, ManagedByLabel: ManagedByAKS},
		},
		Data: map[string]string{
			"horizontalPodAutoscaler": "spec:\n  minReplicas: 2\n  maxReplicas: 5\n",
			"podDisruptionBudget":     "spec:\n  minAvailable: 1\n",
		},
	}
}

// meshConfig is istiod's mesh configuration: Envoy access logs on the gateways' stdout in
// JSON (on by default for app routing Gateways), proxies pointed at istiod.
const meshConfig = `accessLogEncoding: JSON
accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: ` + istiodAddress + `
rootNamespace: ` + IstioNamespace + `
trustDomain: ` + clusterDomain + `
`

// ControlPlaneObjects are the app routing Gateway API implementation's control plane as AKS
// deploys it for `az aks approuting gateway istio enable` (--enable-app-routing-istio), in the
// order to apply them: the namespace aks-istio-system; istiod's ServiceAccount and RBAC (the
// ClusterRole for reading the cluster and writing Gateway API status, the gateway
// controller's ClusterRole for the per-Gateway objects, a Role for its own namespace); its
// mesh ConfigMap and the GatewayClass defaults; the Deployment istiod (image
// mcr.microsoft.com/oss/v2/istio/pilot), its Service, an HPA of 2 to 5 replicas at 80 % CPU
// and a PDB of minAvailable 1. The GatewayClass is apart (GatewayClass), being a custom
// resource of the managed CRDs.
func ControlPlaneObjects(opts ControlPlaneOptions) []runtime.Object {
	tag := opts.ImageTag
	if tag == "" {
		tag = DefaultIstioTag
	}
	clusterRole := "istiod-clusterrole-" + IstioNamespace
	gatewayRole := "istiod-gateway-controller-" + IstioNamespace
	return []runtime.Object{
		&v1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: IstioNamespace, Labels: map[string]string{ManagedByLabel: ManagedByAKS}},
		},
		&v1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Namespace: IstioNamespace, Name: IstiodName, Labels: istiodLabels()},
		},
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: clusterRole, Labels: istiodLabels()},
			Rules:      istiodRules(),
		},
		clusterRoleBinding(clusterRole),
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: gatewayRole, Labels: istiodLabels()},
			Rules:      gatewayControllerRules(),
		},
		clusterRoleBinding(gatewayRole),
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: metav1.ObjectMeta{Namespace: IstioNamespace, Name: IstiodName, Labels: istiodLabels()},
			Rules: []rbacv1.PolicyRule{
				// The CA's signing key and the DNS certificate live in istiod's namespace.
				{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "get", "watch", "list", "update", "delete"}},
				{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"delete"}},
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "update", "patch", "create"}},
			},
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Namespace: IstioNamespace, Name: IstiodName, Labels: istiodLabels()},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: IstiodName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: IstioNamespace, Name: IstiodName}},
		},
		&v1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: IstioNamespace, Name: MeshConfigName, Labels: istiodLabels()},
			Data:       map[string]string{"mesh": meshConfig, "meshNetworks": "networks: {}\n"},
		},
		ClassDefaults(),
		istiodDeployment(PilotImage + ":" + tag),
		&v1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Namespace: IstioNamespace, Name: IstiodName, Labels: istiodLabels()},
			Spec: v1.ServiceSpec{
				Selector: istiodSelector,
				Ports: []v1.ServicePort{
					{Name: "grpc-xds", Port: 15010, TargetPort: intstr.FromInt32(15010), Protocol: v1.ProtocolTCP},
					{Name: "https-dns", Port: 15012, TargetPort: intstr.FromInt32(15012), Protocol: v1.ProtocolTCP},
					{Name: "https-webhook", Port: 443, TargetPort: intstr.FromInt32(15017), Protocol: v1.ProtocolTCP},
					{Name: "http-monitoring", Port: 15014, TargetPort: intstr.FromInt32(15014), Protocol: v1.ProtocolTCP},
				},
			},
		},
		&autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
			ObjectMeta: metav1.ObjectMeta{Namespace: IstioNamespace, Name: IstiodName, Labels: istiodLabels()},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: IstiodName},
				MinReplicas:    ptr.To[int32](2),
				MaxReplicas:    5,
				Metrics: []autoscalingv2.MetricSpec{{
					Type: autoscalingv2.ResourceMetricSourceType,
					Resource: &autoscalingv2.ResourceMetricSource{
						Name:   v1.ResourceCPU,
						Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)},
					},
				}},
			},
		},
		&policyv1.PodDisruptionBudget{
			TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: metav1.ObjectMeta{Namespace: IstioNamespace, Name: IstiodName, Labels: istiodLabels()},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MinAvailable: ptr.To(intstr.FromInt32(1)),
				Selector:     &metav1.LabelSelector{MatchLabels: istiodSelector},
			},
		},
	}
}

func clusterRoleBinding(name string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: istiodLabels()},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: IstioNamespace, Name: IstiodName}},
	}
}

// istiodRules are what istiod reads and writes cluster-wide as a Gateway API controller
// without sidecars or Istio CRDs (Istio's istiod-clusterrole without the Istio API groups).
func istiodRules() []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: read},
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes", "services", "namespaces", "endpoints"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		// The root certificate ConfigMap istio-ca-root-cert in every namespace.
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "get", "list", "watch", "update"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: read},
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{Group}, Resources: []string{"*"}, Verbs: []string{"get", "watch", "list", "update", "patch"}},
		{APIGroups: []string{Group}, Resources: []string{"gatewayclasses"}, Verbs: []string{"create", "update", "patch", "delete"}},
		{APIGroups: []string{Group}, Resources: []string{"*/status"}, Verbs: []string{"update", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch", "update"}},
	}
}

// gatewayControllerRules let istiod's deployment controller manage the per-Gateway objects.
func gatewayControllerRules() []rbacv1.PolicyRule {
	all := []string{"get", "watch", "list", "update", "patch", "create", "delete"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: all},
		{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: all},
		{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: all},
		{APIGroups: []string{""}, Resources: []string{"services", "serviceaccounts"}, Verbs: all},
	}
}

func istiodDeployment(image string) *appsv1.Deployment {
	podLabels := map[string]string{
		"app":                         "istiod",
		"istio":                       "pilot",
		"istio.io/rev":                istioRevision,
		"istio.io/dataplane-mode":     "none",
		"sidecar.istio.io/inject":     "false",
		"operator.istio.io/component": "Pilot",
		"install.operator.istio.io/owning-resource": "unknown",
	}
	fieldEnv := func(name, path string) v1.EnvVar {
		return v1.EnvVar{Name: name, ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
	}
	resourceEnv := func(name, resource string) v1.EnvVar {
		return v1.EnvVar{Name: name, ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: resource}}}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: IstioNamespace, Name: IstiodName, Labels: istiodLabels()},
		Spec: appsv1.DeploymentSpec{
			// No replicas: the HPA owns the count.
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"istio": "pilot"}},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge:       ptr.To(intstr.FromString("100%")),
					MaxUnavailable: ptr.To(intstr.FromString("25%")),
				},
			},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: podLabels,
					Annotations: map[string]string{
						"prometheus.io/port":      "15014",
						"prometheus.io/scrape":    "true",
						"sidecar.istio.io/inject": "false",
					},
				},
				Spec: v1.PodSpec{
					ServiceAccountName: IstiodName,
					Tolerations:        []v1.Toleration{{Key: "cni.istio.io/not-ready", Operator: v1.TolerationOpExists}},
					// AKS's Istio pods prefer system nodes, then nodes labelled for Istio replicas.
					Affinity: &v1.Affinity{NodeAffinity: &v1.NodeAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{
							{Weight: 100, Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{
								{Key: "kubernetes.azure.com/mode", Operator: v1.NodeSelectorOpIn, Values: []string{"system"}},
							}}},
							{Weight: 50, Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{
								{Key: "azureservicemesh/istio.replica.preferred", Operator: v1.NodeSelectorOpIn, Values: []string{"true"}},
							}}},
						},
					}},
					Containers: []v1.Container{{
						Name:  "discovery",
						Image: image,
						Args: []string{
							"discovery",
							"--monitoringAddr=:15014",
							"--log_output_level=default:info",
							"--domain", clusterDomain,
							"--keepaliveMaxServerConnectionAge", "30m",
						},
						Ports: []v1.ContainerPort{
							{Name: "http-debug", ContainerPort: 8080, Protocol: v1.ProtocolTCP},
							{Name: "grpc-xds", ContainerPort: 15010, Protocol: v1.ProtocolTCP},
							{Name: "tls-xds", ContainerPort: 15012, Protocol: v1.ProtocolTCP},
							{Name: "https-webhooks", ContainerPort: 15017, Protocol: v1.ProtocolTCP},
							{Name: "http-monitoring", ContainerPort: 15014, Protocol: v1.ProtocolTCP},
						},
						ReadinessProbe: &v1.Probe{
							ProbeHandler:        v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}},
							InitialDelaySeconds: 1,
							PeriodSeconds:       3,
							TimeoutSeconds:      5,
						},
						Env: []v1.EnvVar{
							{Name: "REVISION", Value: istioRevision},
							{Name: "PILOT_CERT_PROVIDER", Value: "istiod"},
							fieldEnv("POD_NAME", "metadata.name"),
							fieldEnv("POD_NAMESPACE", "metadata.namespace"),
							fieldEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
							{Name: "KUBECONFIG", Value: "/var/run/secrets/remote/config"},
							// The class istiod creates and manages instead of Istio's "istio".
							{Name: "PILOT_GATEWAY_API_DEFAULT_GATEWAYCLASS_NAME", Value: GatewayClassName},
							{Name: "PILOT_TRACE_SAMPLING", Value: "1"},
							{Name: "PILOT_ENABLE_ANALYSIS", Value: "false"},
							{Name: "CLUSTER_ID", Value: "Kubernetes"},
							resourceEnv("GOMEMLIMIT", "limits.memory"),
							resourceEnv("GOMAXPROCS", "limits.cpu"),
							{Name: "PLATFORM", Value: ""},
						},
						// AKS sets no resources on istiod (its HPA reports "missing request
						// for cpu"); minaks keeps it so, which also keeps two replicas
						// schedulable on small nodes.
						SecurityContext: &v1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
							Capabilities:             &v1.Capabilities{Drop: []v1.Capability{"ALL"}},
						},
						VolumeMounts: []v1.VolumeMount{
							{Name: "istio-token", MountPath: "/var/run/secrets/tokens", ReadOnly: true},
							{Name: "local-certs", MountPath: "/var/run/secrets/istio-dns"},
							{Name: "cacerts", MountPath: "/etc/cacerts", ReadOnly: true},
							{Name: "istio-kubeconfig", MountPath: "/var/run/secrets/remote", ReadOnly: true},
						},
					}},
					Volumes: []v1.Volume{
						{Name: "local-certs", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}}},
						istioTokenVolume(),
						{Name: "cacerts", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "cacerts", Optional: ptr.To(true)}}},
						{Name: "istio-kubeconfig", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "istio-kubeconfig", Optional: ptr.To(true)}}},
					},
				},
			},
		},
	}
}

// istioTokenVolume is the projected service account token istio-agent and istiod present to
// istiod's CA.
func istioTokenVolume() v1.Volume {
	return v1.Volume{Name: "istio-token", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{
		Sources: []v1.VolumeProjection{{ServiceAccountToken: &v1.ServiceAccountTokenProjection{
			Audience: istioTokenAud, ExpirationSeconds: ptr.To[int64](tokenExpirySec), Path: "istio-token",
		}}},
	}}}
}

// RemoveControlPlane is `az aks approuting gateway istio disable`: it deletes the GatewayClass
// approuting-istio (when the CRD is there), istiod's cluster-scoped RBAC and the namespace
// aks-istio-system with everything in it, ignoring what is already gone. Gateways and the
// objects rendered for them stay, as they do on AKS.
func RemoveControlPlane(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface) error {
	var errs []error
	if err := dyn.Resource(GatewayClassResource).Delete(ctx, GatewayClassName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete GatewayClass %s: %w", GatewayClassName, err))
	}
	for _, obj := range ControlPlaneObjects(ControlPlaneOptions{}) {
		var err error
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			err = client.RbacV1().ClusterRoles().Delete(ctx, o.Name, metav1.DeleteOptions{})
		case *rbacv1.ClusterRoleBinding:
			err = client.RbacV1().ClusterRoleBindings().Delete(ctx, o.Name, metav1.DeleteOptions{})
		case *v1.Namespace:
			err = client.CoreV1().Namespaces().Delete(ctx, o.Name, metav1.DeleteOptions{})
		default:
			continue // namespaced: goes with the namespace
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, nameOf(obj), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove the app routing Istio control plane: %w", err)
	}
	return nil
}

func nameOf(obj runtime.Object) string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetName()
	}
	return ""
}

// union returns the union of the maps, later ones winning.
func union(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}
