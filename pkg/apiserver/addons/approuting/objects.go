package approuting

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Names the operator gives, as on AKS.
const (
	// Namespace holds every controller's namespaced objects.
	Namespace = "app-routing-system"
	// DefaultName is the default NginxIngressController's name.
	DefaultName = "default"
	// DefaultIngressClass is the default controller's IngressClass.
	DefaultIngressClass = "webapprouting.kubernetes.azure.com"
	// DefaultControllerClass is the default controller's IngressClass controller.
	DefaultControllerClass = "webapprouting.kubernetes.azure.com/nginx"
	// DefaultResourceName names the default controller's objects.
	DefaultResourceName = "nginx"
	// DefaultUserIngressClass is the CRD's default spec.ingressClassName for other controllers.
	DefaultUserIngressClass = "nginx.approuting.kubernetes.azure.com"
	// ControllerClassPrefix starts the IngressClass controller of every other controller:
	// approuting.kubernetes.azure.com/<NginxIngressController name>.
	ControllerClassPrefix = "approuting.kubernetes.azure.com/"

	// Image is the controller image AKS runs, without its tag.
	Image = "mcr.microsoft.com/oss/kubernetes/ingress/nginx-ingress-controller"
	// DefaultImageTag is the tag AKS runs: the v1.13 line, which AKS patches past ingress-nginx's
	// end of maintenance.
	DefaultImageTag = "v1.13.9"

	// ManagedByLabel marks every object the operator manages; OperatorName is its value.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	OperatorName   = "aks-app-routing-operator"

	defaultControllerNamePrefix = "nginx"
	// controllerClassMaxLen is the longest IngressClass controller the operator writes.
	controllerClassMaxLen = 250
	metricsPort           = 10254
	metricsPortName       = "prometheus"
	componentLabel        = "app.kubernetes.io/component"
	componentName         = "ingress-controller"
	// annotationWordBlocklist is the words AKS forbids in annotation values, against leaked
	// service account tokens and configuration injection through snippets.
	annotationWordBlocklist = "load_module,lua_package,_by_lua,location,root,proxy_pass,serviceaccount,{,},'"
)

// Scaling defaults and the HPA's target CPU utilization per threshold.
const (
	defaultMinReplicas           = 2
	defaultMaxReplicas           = 100
	rapidTargetCPUUtilization    = 55
	balancedTargetCPUUtilization = 70
	steadyTargetCPUUtilization   = 80
)

// Options are what the objects need from the cluster.
type Options struct {
	// ImageTag is the controller image's tag; DefaultImageTag when empty.
	ImageTag string
}

// topLevelLabels are on every object the operator manages (and only on those).
func topLevelLabels() map[string]string {
	return map[string]string{ManagedByLabel: OperatorName, "kubernetes.azure.com/managedby": "aks"}
}

// controllerConfig is what a NginxIngressController asks for, resolved with the operator's
// names and defaults.
type controllerConfig struct {
	name                  string // the managed objects' name
	ingressClass          string
	controllerClass       string
	annotations           map[string]string
	sourceRanges          []string
	defaultSSLCertificate string // namespace/name
	forceSSLRedirect      bool
	defaultBackendService string // namespace/name
	customHTTPErrors      string // comma-separated
	httpDisabled          bool
	minReplicas           int32
	maxReplicas           int32
	targetCPU             int32
	logFormat             string
	sslPassthrough        bool
}

// IsDefault reports whether nic is the add-on's default controller, whose objects are named
// nginx and whose class is webapprouting.kubernetes.azure.com/nginx.
func IsDefault(nic *NginxIngressController) bool {
	return nic != nil && nic.Name == DefaultName && nic.Spec.IngressClassName == DefaultIngressClass
}

// ResourceName is the name of nic's managed objects: nginx for the default controller,
// <controllerNamePrefix>-<collisionCount> for the others.
func ResourceName(nic *NginxIngressController) string {
	if IsDefault(nic) {
		return DefaultResourceName
	}
	return fmt.Sprintf("%s-%d", nic.Spec.ControllerNamePrefix, nic.Status.CollisionCount)
}

// ControllerClass is the controller of nic's IngressClass: webapprouting.kubernetes.azure.com/nginx
// for the default controller, approuting.kubernetes.azure.com/<name> (path-escaped, at most
// 250 characters) for the others.
func ControllerClass(nic *NginxIngressController) string {
	if IsDefault(nic) {
		return DefaultControllerClass
	}
	cc := ControllerClassPrefix + url.PathEscape(nic.Name)
	if len(cc) > controllerClassMaxLen {
		cc = cc[:controllerClassMaxLen]
	}
	return cc
}

func configFor(nic *NginxIngressController) controllerConfig {
	s := nic.Spec
	c := controllerConfig{
		name:            ResourceName(nic),
		ingressClass:    s.IngressClassName,
		controllerClass: ControllerClass(nic),
		annotations:     s.LoadBalancerAnnotations,
		sourceRanges:    s.LoadBalancerSourceRanges,
		httpDisabled:    s.HTTPDisabled,
		sslPassthrough:  s.EnableSSLPassthrough,
		targetCPU:       targetCPU(s.Scaling),
	}
	c.minReplicas, c.maxReplicas = replicas(s.Scaling)
	if cert := s.DefaultSSLCertificate; cert != nil {
		if cert.Secret != nil && cert.Secret.Name != "" && cert.Secret.Namespace != "" {
			c.defaultSSLCertificate = cert.Secret.Namespace + "/" + cert.Secret.Name
		}
		if cert.Secret == nil && cert.KeyVaultURI != nil {
			// The Secret the operator's Key Vault controller syncs the certificate into.
			c.defaultSSLCertificate = Namespace + "/keyvault-nginx-" + nic.Name
		}
		c.forceSSLRedirect = cert.ForceSSLRedirect
	}
	if b := s.DefaultBackendService; b != nil && b.Name != "" && b.Namespace != "" {
		c.defaultBackendService = b.Namespace + "/" + b.Name
	}
	codes := make([]string, len(s.CustomHTTPErrors))
	for i, code := range s.CustomHTTPErrors {
		codes[i] = strconv.Itoa(int(code))
	}
	c.customHTTPErrors = strings.Join(codes, ",")
	if s.LogFormat != nil {
		c.logFormat = *s.LogFormat
	}
	return c
}

// replicas are the HPA's bounds: 2 and 100 unless set; when only one bound is set and it
// crosses the other's default, the default gives way.
func replicas(s *Scaling) (lowest, highest int32) {
	lowest, highest = defaultMinReplicas, defaultMaxReplicas
	if s != nil && s.MinReplicas != nil {
		lowest = *s.MinReplicas
	}
	if s != nil && s.MaxReplicas != nil {
		highest = *s.MaxReplicas
	}
	if lowest > highest {
		if s == nil || s.MinReplicas == nil {
			lowest = highest
		} else {
			highest = lowest
		}
	}
	return lowest, highest
}

// targetCPU is the HPA's target CPU utilization for the scaling threshold (balanced unless set).
func targetCPU(s *Scaling) int32 {
	if s == nil || s.Threshold == nil {
		return balancedTargetCPUUtilization
	}
	switch *s.Threshold {
	case RapidThreshold:
		return rapidTargetCPUUtilization
	case SteadyThreshold:
		return steadyTargetCPUUtilization
	default:
		return balancedTargetCPUUtilization
	}
}

// NamespaceObject is app-routing-system as the operator creates it. It carries none of the
// operator's labels: the namespace is shared and never owned by a controller.
func NamespaceObject() *v1.Namespace {
	return &v1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   Namespace,
			Labels: map[string]string{"openservicemesh.io/monitored-by": "osm"},
		},
	}
}

// Objects are every object the operator manages for nic, in the order it applies them: the
// namespace, the IngressClass, ServiceAccount, ClusterRole, Role, ClusterRoleBinding,
// RoleBinding, the LoadBalancer Service, the metrics Service, the Deployment, the ConfigMap,
// the HorizontalPodAutoscaler and the PodDisruptionBudget. All but the namespace are owned by
// nic (controller reference), so that deleting nic deletes them.
func Objects(nic *NginxIngressController, opts Options) []runtime.Object {
	c := configFor(nic)
	tag := opts.ImageTag
	if tag == "" {
		tag = DefaultImageTag
	}
	owned := []metav1.Object{
		ingressClass(c),
		serviceAccount(c),
		clusterRole(c),
		role(c),
		clusterRoleBinding(c),
		roleBinding(c),
		service(c),
		metricsService(c),
		deployment(c, Image+":"+tag),
		configMap(c),
		hpa(c),
		pdb(c),
	}
	owner := []metav1.OwnerReference{{
		APIVersion: SchemeGroupVersion.String(),
		Kind:       Kind,
		Name:       nic.Name,
		UID:        nic.UID,
		Controller: ptr.To(true),
	}}
	objs := []runtime.Object{NamespaceObject()}
	for _, o := range owned {
		labels := o.GetLabels()
		labels["app.kubernetes.io/name"] = "nginx"
		o.SetLabels(labels)
		o.SetOwnerReferences(owner)
		objs = append(objs, o.(runtime.Object))
	}
	return objs
}

// objectMeta is the metadata of a managed object named c.name: in app-routing-system unless
// clusterScoped, with the operator's labels and the ingress-controller component.
func objectMeta(c controllerConfig, clusterScoped bool) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: c.name, Labels: withComponent(topLevelLabels())}
	if !clusterScoped {
		m.Namespace = Namespace
	}
	return m
}

func withComponent(labels map[string]string) map[string]string {
	labels[componentLabel] = componentName
	return labels
}

// selector selects the controller's pods.
func (c controllerConfig) selector() map[string]string {
	return map[string]string{"app": c.name}
}

func ingressClass(c controllerConfig) *networkingv1.IngressClass {
	return &networkingv1.IngressClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IngressClass"},
		ObjectMeta: metav1.ObjectMeta{Name: c.ingressClass, Labels: topLevelLabels()},
		Spec:       networkingv1.IngressClassSpec{Controller: c.controllerClass},
	}
}

func serviceAccount(c controllerConfig) *v1.ServiceAccount {
	return &v1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: objectMeta(c, false),
	}
}

func rule(groups, resources, verbs []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs}
}

var (
	core       = []string{""}
	networking = []string{"networking.k8s.io"}
	leases     = []string{"coordination.k8s.io"}
	discovery  = []string{"discovery.k8s.io"}
)

func clusterRole(c controllerConfig) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: objectMeta(c, true),
		Rules: []rbacv1.PolicyRule{
			rule(core, []string{"configmaps", "endpoints", "nodes", "pods", "secrets", "namespaces"}, []string{"list", "watch"}),
			rule(leases, []string{"leases"}, []string{"list", "watch"}),
			rule(core, []string{"nodes"}, []string{"get"}),
			rule(core, []string{"services"}, []string{"get", "list", "watch"}),
			rule(networking, []string{"ingresses"}, []string{"get", "watch", "list"}),
			rule(core, []string{"events"}, []string{"create", "patch"}),
			rule(networking, []string{"ingresses/status"}, []string{"update"}),
			rule(networking, []string{"ingressclasses"}, []string{"get", "list", "watch"}),
			rule(discovery, []string{"endpointslices"}, []string{"list", "watch", "get"}),
		},
	}
}

func role(c controllerConfig) *rbacv1.Role {
	election := rule(leases, []string{"leases"}, []string{"get", "update"})
	election.ResourceNames = []string{c.name}
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: objectMeta(c, false),
		Rules: []rbacv1.PolicyRule{
			rule(core, []string{"namespaces"}, []string{"get"}),
			// The operator keeps this rule from the controller's 1.3.0 → 1.8.1 update.
			rule(core, []string{"configmaps"}, []string{"update"}),
			rule(core, []string{"configmaps", "pods", "secrets", "endpoints"}, []string{"get", "list", "watch"}),
			rule(core, []string{"services"}, []string{"get", "list", "watch"}),
			rule(networking, []string{"ingresses"}, []string{"get", "list", "watch"}),
			rule(networking, []string{"ingresses/status"}, []string{"update"}),
			rule(networking, []string{"ingressclasses"}, []string{"get", "list", "watch"}),
			election,
			rule(leases, []string{"leases"}, []string{"create"}),
			rule(core, []string{"events"}, []string{"create", "patch"}),
			rule(discovery, []string{"endpointslices"}, []string{"list", "watch", "get"}),
		},
	}
}

func clusterRoleBinding(c controllerConfig) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: objectMeta(c, true),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: c.name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: c.name, Namespace: Namespace}},
	}
}

func roleBinding(c controllerConfig) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: objectMeta(c, false),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: c.name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: c.name, Namespace: Namespace}},
	}
}

// service is the controller's LoadBalancer Service: ETP Local on 80 (unless HTTP is disabled)
// and 443, with the controller's load balancer annotations and source ranges. Protocols are
// written out (the operator leaves them to the API server's default, TCP) because server-side
// apply keys Service ports by port and protocol.
func service(c controllerConfig) *v1.Service {
	m := objectMeta(c, false)
	if len(c.annotations) > 0 {
		m.Annotations = maps.Clone(c.annotations)
	}
	svc := &v1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: m,
		Spec: v1.ServiceSpec{
			Type:                     v1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy:    v1.ServiceExternalTrafficPolicyLocal,
			Selector:                 c.selector(),
			LoadBalancerSourceRanges: slices.Clone(c.sourceRanges),
			Ports: []v1.ServicePort{
				{Name: "https", Port: 443, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromString("https")},
			},
		},
	}
	if !c.httpDisabled {
		svc.Spec.Ports = slices.Insert(svc.Spec.Ports, 0,
			v1.ServicePort{Name: "http", Port: 80, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromString("http")})
	}
	return svc
}

func promAnnotations() map[string]string {
	return map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(metricsPort)}
}

// metricsService is <name>-metrics: the controller's Prometheus port, in the cluster only.
func metricsService(c controllerConfig) *v1.Service {
	m := objectMeta(c, false)
	m.Name += "-metrics"
	m.Annotations = promAnnotations()
	return &v1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: m,
		Spec: v1.ServiceSpec{
			Type:     v1.ServiceTypeClusterIP,
			Selector: c.selector(),
			Ports: []v1.ServicePort{
				{Name: metricsPortName, Port: metricsPort, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromString(metricsPortName)},
			},
		},
	}
}

// args are the controller's command line, AKS's.
func (c controllerConfig) args() []string {
	args := []string{
		"/nginx-ingress-controller",
		"--ingress-class=" + c.ingressClass,
		"--controller-class=" + c.controllerClass,
		"--election-id=" + c.name,
		"--publish-service=$(POD_NAMESPACE)/" + c.name,
		"--configmap=$(POD_NAMESPACE)/" + c.name,
		"--enable-annotation-validation=true",
		// Longer than the load balancer's two 5 s probes, so that a stopping pod is taken out
		// of the backend pool before it stops serving.
		"--shutdown-grace-period=15",
		"--enable-metrics=true",
	}
	if c.defaultSSLCertificate != "" {
		args = append(args, "--default-ssl-certificate="+c.defaultSSLCertificate)
	}
	if c.defaultBackendService != "" {
		args = append(args, "--default-backend-service="+c.defaultBackendService)
	}
	if c.sslPassthrough {
		args = append(args, "--enable-ssl-passthrough=true")
	}
	return args
}

func deployment(c controllerConfig, image string) *appsv1.Deployment {
	podLabels := withComponent(topLevelLabels())
	maps.Copy(podLabels, c.selector())
	podAnnotations := promAnnotations()
	// Pods reach the API server by its FQDN, through firewalls that allow only that.
	podAnnotations["kubernetes.azure.com/set-kube-service-host-fqdn"] = "true"
	podAnnotations["openservicemesh.io/sidecar-injection"] = "disabled"
	selector := &metav1.LabelSelector{MatchLabels: c.selector()}
	probe := func(failures int32) *v1.Probe {
		return &v1.Probe{
			ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
				Path: "/healthz", Port: intstr.FromInt32(metricsPort), Scheme: v1.URISchemeHTTP}},
			InitialDelaySeconds: 10,
			TimeoutSeconds:      1,
			PeriodSeconds:       5,
			SuccessThreshold:    1,
			FailureThreshold:    failures,
		}
	}
	ports := []v1.ContainerPort{
		{Name: "https", ContainerPort: 443, Protocol: v1.ProtocolTCP},
		{Name: metricsPortName, ContainerPort: metricsPort, Protocol: v1.ProtocolTCP},
	}
	if !c.httpDisabled {
		ports = slices.Insert(ports, 0, v1.ContainerPort{Name: "http", ContainerPort: 80, Protocol: v1.ProtocolTCP})
	}
	fieldEnv := func(name, path string) v1.EnvVar {
		return v1.EnvVar{Name: name, ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: path}}}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(c, false),
		Spec: appsv1.DeploymentSpec{
			// No replicas: the HorizontalPodAutoscaler owns them.
			RevisionHistoryLimit: ptr.To[int32](2),
			Selector:             selector,
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
				Spec: v1.PodSpec{
					ServiceAccountName: c.name,
					PriorityClassName:  "system-cluster-critical",
					Tolerations:        []v1.Toleration{{Key: "CriticalAddonsOnly", Operator: v1.TolerationOpExists}},
					Affinity:           systemNodeAffinity(),
					TopologySpreadConstraints: []v1.TopologySpreadConstraint{{
						MaxSkew:           1,
						TopologyKey:       v1.LabelHostname,
						WhenUnsatisfiable: v1.ScheduleAnyway,
						LabelSelector:     selector,
						// Spread each rollout's pods on their own.
						MatchLabelKeys: []string{appsv1.DefaultDeploymentUniqueLabelKey},
					}},
					Containers: []v1.Container{{
						Name:  "controller",
						Image: image,
						Args:  c.args(),
						Env:   []v1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace")},
						Ports: ports,
						Resources: v1.ResourceRequirements{Requests: v1.ResourceList{
							v1.ResourceCPU:    resource.MustParse("500m"),
							v1.ResourceMemory: resource.MustParse("127Mi"),
						}},
						ReadinessProbe: probe(3),
						LivenessProbe:  probe(6),
						SecurityContext: &v1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							// NET_BIND_SERVICE to listen on 80 and 443 as a non-root user.
							Capabilities:   &v1.Capabilities{Add: []v1.Capability{"NET_BIND_SERVICE"}, Drop: []v1.Capability{"ALL"}},
							RunAsNonRoot:   ptr.To(true),
							RunAsUser:      ptr.To[int64](101),
							SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault},
						},
					}},
				},
			},
		},
	}
}

// systemNodeAffinity places the controller as AKS places its add-ons: on Linux AKS nodes that
// are neither virtual nodes nor hosted system VMs, system node pools first.
func systemNodeAffinity() *v1.Affinity {
	return &v1.Affinity{NodeAffinity: &v1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
			MatchExpressions: []v1.NodeSelectorRequirement{
				{Key: "kubernetes.azure.com/cluster", Operator: v1.NodeSelectorOpExists},
				{Key: "type", Operator: v1.NodeSelectorOpNotIn, Values: []string{"virtual-kubelet"}},
				{Key: v1.LabelOSStable, Operator: v1.NodeSelectorOpIn, Values: []string{"linux"}},
				{Key: "kubernetes.azure.com/hobovm", Operator: v1.NodeSelectorOpNotIn, Values: []string{"true"}},
			},
		}}},
		PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{{
			Weight: 100,
			Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{
				{Key: "kubernetes.azure.com/mode", Operator: v1.NodeSelectorOpIn, Values: []string{"system"}},
			}},
		}},
	}}
}

// configMap is the controller's configuration: snippets allowed but checked against AKS's word
// blocklist, cross-namespace references and every annotation risk level allowed (as before
// ingress-nginx 1.12 tightened them), and what the NginxIngressController asks for.
func configMap(c controllerConfig) *v1.ConfigMap {
	data := map[string]string{
		"allow-snippet-annotations":       "true",
		"annotation-value-word-blocklist": annotationWordBlocklist,
		"allow-cross-namespace-resources": "true",
		"annotations-risk-level":          "Critical",
	}
	if c.defaultSSLCertificate != "" && c.forceSSLRedirect {
		data["force-ssl-redirect"] = "true"
	}
	if c.customHTTPErrors != "" {
		data["custom-http-errors"] = c.customHTTPErrors
	}
	if c.logFormat != "" {
		data["log-format-upstream"] = c.logFormat
	}
	return &v1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(c, false),
		Data:       data,
	}
}

func hpa(c controllerConfig) *autoscalingv1.HorizontalPodAutoscaler {
	return &autoscalingv1.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: objectMeta(c, false),
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef:                 autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: c.name},
			MinReplicas:                    ptr.To(c.minReplicas),
			MaxReplicas:                    c.maxReplicas,
			TargetCPUUtilizationPercentage: ptr.To(c.targetCPU),
		},
	}
}

func pdb(c controllerConfig) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(c, false),
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: c.selector()},
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
		},
	}
}
