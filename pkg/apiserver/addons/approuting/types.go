package approuting

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The NginxIngressController API: group, version, kind and resource as the operator's CRD
// defines them.
const (
	Group    = "approuting.kubernetes.azure.com"
	Version  = "v1alpha1"
	Kind     = "NginxIngressController"
	ListKind = "NginxIngressControllerList"
	Resource = "nginxingresscontrollers"
	// ShortName is the CRD's short name: `kubectl get nic`.
	ShortName = "nic"
)

var (
	// SchemeGroupVersion is approuting.kubernetes.azure.com/v1alpha1.
	SchemeGroupVersion = schema.GroupVersion{Group: Group, Version: Version}
	// GroupVersionResource names the NginxIngressControllers for the dynamic client.
	GroupVersionResource = SchemeGroupVersion.WithResource(Resource)
	// GroupVersionKind is the NginxIngressController's kind.
	GroupVersionKind = SchemeGroupVersion.WithKind(Kind)

	// SchemeBuilder registers the NginxIngressController types; AddToScheme adds them to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	AddToScheme   = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &NginxIngressController{}, &NginxIngressControllerList{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}

// MaxCollisions is the highest status.collisionCount: past it the operator gives up naming the
// controller's objects and reports TooManyCollisions.
const MaxCollisions = 5

// NginxIngressController is one managed NGINX ingress controller: an IngressClass, a controller
// Deployment and its LoadBalancer Service, cluster-scoped.
type NginxIngressController struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NginxIngressControllerSpec   `json:"spec"`
	Status NginxIngressControllerStatus `json:"status,omitempty"`
}

// NginxIngressControllerSpec is what a user asks of a controller. IngressClassName and
// ControllerNamePrefix cannot change once set.
type NginxIngressControllerSpec struct {
	// IngressClassName names the IngressClass the controller serves
	// (default nginx.approuting.kubernetes.azure.com).
	IngressClassName string `json:"ingressClassName"`
	// ControllerNamePrefix names the controller's objects: <prefix>-<collisionCount> (default nginx).
	ControllerNamePrefix string `json:"controllerNamePrefix"`
	// LoadBalancerAnnotations are put on the controller's LoadBalancer Service: Azure load
	// balancer annotations such as azure-load-balancer-internal.
	LoadBalancerAnnotations map[string]string `json:"loadBalancerAnnotations,omitempty"`
	// LoadBalancerSourceRanges become the LoadBalancer Service's loadBalancerSourceRanges.
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`
	// DefaultSSLCertificate is the certificate of the controller's catch-all HTTPS server.
	DefaultSSLCertificate *DefaultSSLCertificate `json:"defaultSSLCertificate,omitempty"`
	// DefaultBackendService receives the requests no Ingress rule matches (its first port).
	DefaultBackendService *NICNamespacedName `json:"defaultBackendService,omitempty"`
	// CustomHTTPErrors are the status codes the controller hands to its default backend.
	CustomHTTPErrors []int32 `json:"customHTTPErrors,omitempty"`
	// Scaling bounds the controller's HorizontalPodAutoscaler.
	Scaling *Scaling `json:"scaling,omitempty"`
	// HTTPDisabled leaves port 80 off the controller and its Service.
	HTTPDisabled bool `json:"httpDisabled,omitempty"`
	// LogFormat replaces the controller's access log format (log-format-upstream).
	LogFormat *string `json:"logFormat,omitempty"`
	// EnableSSLPassthrough starts the controller with --enable-ssl-passthrough.
	EnableSSLPassthrough bool `json:"enableSSLPassthrough,omitempty"`
}

// DefaultSSLCertificate is a Secret, or a Key Vault certificate URI, for the catch-all HTTPS
// server; ForceSSLRedirect makes every HTTP request redirect to HTTPS.
type DefaultSSLCertificate struct {
	Secret           *Secret `json:"secret,omitempty"`
	KeyVaultURI      *string `json:"keyVaultURI,omitempty"`
	ForceSSLRedirect bool    `json:"forceSSLRedirect,omitempty"`
}

// Secret names a TLS Secret.
type Secret struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// NICNamespacedName names a namespaced object (the default backend Service).
type NICNamespacedName struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// Scaling bounds the controller's replicas and says how eagerly it scales.
type Scaling struct {
	MinReplicas *int32     `json:"minReplicas,omitempty"`
	MaxReplicas *int32     `json:"maxReplicas,omitempty"`
	Threshold   *Threshold `json:"threshold,omitempty"`
}

// Threshold is how eagerly the controller scales out: the HPA's target CPU utilization.
type Threshold string

// The thresholds and the CPU utilization each targets.
const (
	RapidThreshold    Threshold = "rapid"
	BalancedThreshold Threshold = "balanced"
	SteadyThreshold   Threshold = "steady"
)

// NginxIngressControllerStatus is what the operator observed of a controller.
type NginxIngressControllerStatus struct {
	Conditions                    []metav1.Condition       `json:"conditions"`
	ControllerReplicas            int32                    `json:"controllerReplicas"`
	ControllerReadyReplicas       int32                    `json:"controllerReadyReplicas"`
	ControllerAvailableReplicas   int32                    `json:"controllerAvailableReplicas"`
	ControllerUnavailableReplicas int32                    `json:"controllerUnavailableReplicas"`
	CollisionCount                int32                    `json:"collisionCount"`
	ManagedResourceRefs           []ManagedObjectReference `json:"managedResourceRefs,omitempty"`
}

// The condition types of a controller's status.
const (
	// ConditionTypeAvailable: the controller Deployment is available and its IngressClass exists.
	ConditionTypeAvailable = "Available"
	// ConditionTypeIngressClassReady: the IngressClass exists.
	ConditionTypeIngressClassReady = "IngressClassReady"
	// ConditionTypeControllerAvailable: the controller Deployment is available.
	ConditionTypeControllerAvailable = "ControllerAvailable"
	// ConditionTypeProgressing: the controller Deployment progresses (or why it cannot).
	ConditionTypeProgressing = "Progressing"
)

// ManagedObjectReference names one object the operator manages for a controller.
type ManagedObjectReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	APIGroup  string `json:"apiGroup"`
}

// NginxIngressControllerList is a list of NginxIngressControllers.
type NginxIngressControllerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NginxIngressController `json:"items"`
}

// FromUnstructured converts an object of the dynamic client into a NginxIngressController.
func FromUnstructured(obj map[string]any) (*NginxIngressController, error) {
	nic := &NginxIngressController{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, nic); err != nil {
		return nil, err
	}
	return nic, nil
}

// ToUnstructured converts nic into an object for the dynamic client, with its kind set.
func ToUnstructured(nic *NginxIngressController) (map[string]any, error) {
	c := nic.DeepCopy()
	c.APIVersion, c.Kind = SchemeGroupVersion.String(), Kind
	return runtime.DefaultUnstructuredConverter.ToUnstructured(c)
}
