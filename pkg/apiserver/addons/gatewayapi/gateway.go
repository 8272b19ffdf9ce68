package gatewayapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// Labels and annotations of the per-Gateway objects, as istiod's deployment controller writes
// and reads them.
const (
	// GatewayNameLabel selects a Gateway's pods (the Deployment's, Service's and PDB's
	// selector) and is on every object rendered for it.
	GatewayNameLabel = Group + "/gateway-name"
	// GatewayClassNameLabel names the Gateway's class on its objects.
	GatewayClassNameLabel = Group + "/gateway-class-name"
	// ManagedLabel marks objects istiod manages (it never takes over an object without it);
	// ManagedValue is the controller name with '/' turned into '-'.
	ManagedLabel = "gateway.istio.io/managed"
	ManagedValue = "istio.io-gateway-controller"

	// NameOverrideAnnotation on a Gateway replaces <gateway>-<class> as the objects' name.
	NameOverrideAnnotation = "gateway.istio.io/name-override"
	// ServiceAccountAnnotation on a Gateway names the ServiceAccount its pods run as.
	ServiceAccountAnnotation = "gateway.istio.io/service-account"
	// ServiceTypeAnnotation on a Gateway sets the Service's type (LoadBalancer by default).
	ServiceTypeAnnotation = "networking.istio.io/service-type"
	// ControllerVersionAnnotation is written on the Gateways istiod manages; its value is
	// ControllerVersion.
	ControllerVersionAnnotation = "gateway.istio.io/controller-version"
	ControllerVersion           = "5"
	// ProxyImageAnnotation on a Gateway, when it holds a full image reference, replaces the
	// proxy image.
	ProxyImageAnnotation = "sidecar.istio.io/proxyImage"

	statusPort    = 15021
	metricsPort   = 15020
	envoyPromPort = 15090
	proxyUID      = 1337
)

// Load balancer health probe annotations AKS adds to a Gateway's Service for each listener
// port, so that the Azure load balancer probes Envoy's readiness on the status port (with the
// default externalTrafficPolicy Cluster) instead of "/" on the listener, which answers 404
// without a matching route.
const (
	probeAnnotationPrefix = "service.beta.kubernetes.io/port_"
	probePath             = "/healthz/ready"
)

// omittedAnnotations are Gateway annotations istiod does not copy onto the objects.
var omittedAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	NameOverrideAnnotation,
	ServiceAccountAnnotation,
	ControllerVersionAnnotation,
}

// GatewayOptions are what a Gateway's objects depend on besides the Gateway.
type GatewayOptions struct {
	// ProxyImageTag is the proxy image's tag; DefaultIstioTag when empty.
	ProxyImageTag string
	// ClassDefaults is the data of the class's defaults ConfigMap (on AKS ClassDefaults()'s,
	// possibly edited): YAML overlays under the keys deployment, service, serviceAccount,
	// horizontalPodAutoscaler and podDisruptionBudget. Without a horizontalPodAutoscaler or
	// podDisruptionBudget key here or in Parameters, no HPA or PDB is rendered.
	ClassDefaults map[string]string
	// Parameters is the data of the ConfigMap the Gateway's spec.infrastructure.parametersRef
	// names (ParametersRef), overlaid after ClassDefaults, so that it wins.
	Parameters map[string]string
}

// IsManaged reports whether istiod deploys a Gateway with this spec: without addresses, or
// with a single IP address (which becomes the Service's loadBalancerIP). A hostname address
// or several addresses mean the Gateway points at infrastructure of its own.
func IsManaged(spec *gatewayv1.GatewaySpec) bool {
	switch len(spec.Addresses) {
	case 0:
		return true
	case 1:
		t := spec.Addresses[0].Type
		return t == nil || *t == gatewayv1.IPAddressType
	default:
		return false
	}
}

// ResourceName is the name of gw's objects: the name-override annotation, or
// <gateway>-<class> (httpbin-gateway-approuting-istio).
func ResourceName(gw *gatewayv1.Gateway) string {
	if v := gw.Annotations[NameOverrideAnnotation]; v != "" {
		return v
	}
	return gw.Name + "-" + string(gw.Spec.GatewayClassName)
}

// ServiceAccountName is the ServiceAccount gw's pods run as: the service-account annotation,
// or <gateway>-<class> (the name-override annotation does not rename it).
func ServiceAccountName(gw *gatewayv1.Gateway) string {
	if v := gw.Annotations[ServiceAccountAnnotation]; v != "" {
		return v
	}
	return gw.Name + "-" + string(gw.Spec.GatewayClassName)
}

// ParametersRef returns the ConfigMap in gw's namespace that spec.infrastructure.parametersRef
// names, nil when there is none, and an error when it refers to anything but a core
// ConfigMap (the Gateway is then not Accepted, reason InvalidParameters).
func ParametersRef(gw *gatewayv1.Gateway) (*types.NamespacedName, error) {
	if gw.Spec.Infrastructure == nil || gw.Spec.Infrastructure.ParametersRef == nil {
		return nil, nil
	}
	pr := gw.Spec.Infrastructure.ParametersRef
	if pr.Kind != "ConfigMap" || pr.Group != "" {
		return nil, fmt.Errorf("unknown infrastructure parameters type %v/%v", pr.Group, pr.Kind)
	}
	return &types.NamespacedName{Namespace: gw.Namespace, Name: pr.Name}, nil
}

// GatewayObjects are the objects istiod renders, with AKS's configuration, for gw, a Gateway
// of class approuting-istio, in the order it applies them: ServiceAccount, Deployment
// (container istio-proxy), Service (LoadBalancer: status-port 15021 and one port per distinct
// listener port), HPA and PDB, all named ResourceName(gw), labelled with the Gateway's name
// and class and owned by the Gateway. It returns nothing for a Gateway istiod does not deploy
// (IsManaged). The labels and annotations are spec.infrastructure's when set, the Gateway's
// own otherwise; opts' overlays are merged into each object as strategic merge patches, and
// the HPA and PDB exist only when an overlay defines them.
func GatewayObjects(gw *gatewayv1.Gateway, opts GatewayOptions) ([]runtime.Object, error) {
	if !IsManaged(&gw.Spec) {
		return nil, nil
	}
	r := newRendering(gw, opts)
	objs := []runtime.Object{r.serviceAccount(), r.deployment(), r.service(), r.hpa(), r.pdb()}
	out := make([]runtime.Object, 0, len(objs))
	for _, obj := range objs {
		o, keep, err := overlay(obj, opts.ClassDefaults, opts.Parameters)
		if err != nil {
			return nil, fmt.Errorf("render %s for Gateway %s/%s: %w", obj.GetObjectKind().GroupVersionKind().Kind, gw.Namespace, gw.Name, err)
		}
		if !keep {
			continue
		}
		m := o.(metav1.Object)
		m.SetLabels(union(m.GetLabels(), map[string]string{ManagedLabel: ManagedValue}))
		out = append(out, o)
	}
	return out, nil
}

// rendering holds what every object of one Gateway shares.
type rendering struct {
	gw          *gatewayv1.Gateway
	name        string
	class       string
	labels      map[string]string // infrastructure labels
	annotations map[string]string // infrastructure annotations, without the omitted ones
	owner       []metav1.OwnerReference
	image       string
}

func newRendering(gw *gatewayv1.Gateway, opts GatewayOptions) *rendering {
	tag := opts.ProxyImageTag
	if tag == "" {
		tag = DefaultIstioTag
	}
	image := ProxyImage + ":" + tag
	if v := gw.Annotations[ProxyImageAnnotation]; strings.Contains(v, "/") {
		image = v
	}
	r := &rendering{
		gw:    gw,
		name:  ResourceName(gw),
		class: string(gw.Spec.GatewayClassName),
		image: image,
		owner: []metav1.OwnerReference{{
			APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway", Name: gw.Name, UID: gw.UID,
		}},
	}
	r.labels, r.annotations = infrastructureMetadata(gw)
	for _, k := range omittedAnnotations {
		delete(r.annotations, k)
	}
	return r
}

// infrastructureMetadata are the labels and annotations istiod copies onto a Gateway's
// objects: spec.infrastructure's (without keys under gateway.networking.k8s.io/) when set,
// else the Gateway's own, each map on its own.
func infrastructureMetadata(gw *gatewayv1.Gateway) (labels, annotations map[string]string) {
	infra := gw.Spec.Infrastructure
	if infra != nil && infra.Labels != nil {
		labels = map[string]string{}
		for k, v := range infra.Labels {
			if !strings.HasPrefix(string(k), Group+"/") {
				labels[string(k)] = string(v)
			}
		}
	} else {
		labels = maps.Clone(gw.Labels)
	}
	if infra != nil && infra.Annotations != nil {
		annotations = map[string]string{}
		for k, v := range infra.Annotations {
			if !strings.HasPrefix(string(k), Group+"/") {
				annotations[string(k)] = string(v)
			}
		}
	} else {
		annotations = maps.Clone(gw.Annotations)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	return labels, annotations
}

func (r *rendering) meta(extra map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace:       r.gw.Namespace,
		Name:            r.name,
		Labels:          union(r.labels, map[string]string{GatewayNameLabel: r.gw.Name, GatewayClassNameLabel: r.class}, extra),
		Annotations:     maps.Clone(r.annotations),
		OwnerReferences: slices.Clone(r.owner),
	}
}

func (r *rendering) serviceAccount() *v1.ServiceAccount {
	m := r.meta(nil)
	m.Name = ServiceAccountName(r.gw)
	return &v1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: m}
}

// proxyConfig is the PROXY_CONFIG istiod passes to the gateway's agent: the mesh's
// defaultConfig, as JSON on one line.
const proxyConfig = `{"discoveryAddress":"` + istiodAddress + `"}` + "\n"

func (r *rendering) deployment() *appsv1.Deployment {
	podAnnotations := union(r.annotations,
		map[string]string{"istio.io/rev": istioRevision},
		map[string]string{
			"prometheus.io/path":   "/stats/prometheus",
			"prometheus.io/port":   strconv.Itoa(metricsPort),
			"prometheus.io/scrape": "true",
		})
	podLabels := union(
		map[string]string{
			"sidecar.istio.io/inject":             "false",
			"service.istio.io/canonical-name":     r.name,
			"service.istio.io/canonical-revision": "latest",
		},
		r.labels,
		map[string]string{GatewayNameLabel: r.gw.Name, GatewayClassNameLabel: r.class, ManagedLabel: ManagedValue},
	)
	annotation := func(key, def string) string {
		if v, ok := r.gw.Annotations[key]; ok {
			return v
		}
		return def
	}
	fieldEnv := func(name, path string) v1.EnvVar {
		return v1.EnvVar{Name: name, ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: path}}}
	}
	resourceEnv := func(name, res string) v1.EnvVar {
		return v1.EnvVar{Name: name, ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{
			Resource: res, Divisor: resource.MustParse("1"),
		}}}
	}
	ns := r.gw.Namespace
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: r.meta(map[string]string{ManagedLabel: ManagedValue}),
		Spec: appsv1.DeploymentSpec{
			// No replicas: the HPA owns the count.
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{GatewayNameLabel: r.gw.Name}},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
				Spec: v1.PodSpec{
					SecurityContext: &v1.PodSecurityContext{
						// Envoy binds the listener ports below 1024 without privileges.
						Sysctls: []v1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}},
					},
					ServiceAccountName: ServiceAccountName(r.gw),
					Containers: []v1.Container{{
						Name:  "istio-proxy",
						Image: r.image,
						SecurityContext: &v1.SecurityContext{
							Capabilities:             &v1.Capabilities{Drop: []v1.Capability{"ALL"}},
							AllowPrivilegeEscalation: ptr.To(false),
							Privileged:               ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsUser:                ptr.To[int64](proxyUID),
							RunAsGroup:               ptr.To[int64](proxyUID),
							RunAsNonRoot:             ptr.To(true),
						},
						Ports: []v1.ContainerPort{
							{Name: "metrics", ContainerPort: metricsPort, Protocol: v1.ProtocolTCP},
							{Name: "status-port", ContainerPort: statusPort, Protocol: v1.ProtocolTCP},
							{Name: "http-envoy-prom", ContainerPort: envoyPromPort, Protocol: v1.ProtocolTCP},
						},
						Args: []string{
							"proxy", "router",
							"--domain", "$(POD_NAMESPACE).svc." + clusterDomain,
							"--proxyLogLevel", annotation("sidecar.istio.io/logLevel", "warning"),
							"--proxyComponentLogLevel", annotation("sidecar.istio.io/componentLogLevel", "misc:error"),
							"--log_output_level", annotation("sidecar.istio.io/agentLogLevel", "default:info"),
						},
						Env: []v1.EnvVar{
							{Name: "PILOT_CERT_PROVIDER", Value: "istiod"},
							{Name: "CA_ADDR", Value: istiodAddress},
							fieldEnv("POD_NAME", "metadata.name"),
							fieldEnv("POD_NAMESPACE", "metadata.namespace"),
							fieldEnv("INSTANCE_IP", "status.podIP"),
							fieldEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
							fieldEnv("HOST_IP", "status.hostIP"),
							resourceEnv("ISTIO_CPU_LIMIT", "limits.cpu"),
							{Name: "PROXY_CONFIG", Value: proxyConfig},
							{Name: "ISTIO_META_POD_PORTS", Value: "[]"},
							{Name: "ISTIO_META_APP_CONTAINERS", Value: ""},
							resourceEnv("GOMEMLIMIT", "limits.memory"),
							resourceEnv("GOMAXPROCS", "limits.cpu"),
							{Name: "ISTIO_META_CLUSTER_ID", Value: "Kubernetes"},
							fieldEnv("ISTIO_META_NODE_NAME", "spec.nodeName"),
							{Name: "ISTIO_META_INTERCEPTION_MODE", Value: "REDIRECT"},
							{Name: "ISTIO_META_WORKLOAD_NAME", Value: r.name},
							{Name: "ISTIO_META_OWNER", Value: "kubernetes://apis/apps/v1/namespaces/" + ns + "/deployments/" + r.name},
							{Name: "ISTIO_META_MESH_ID", Value: clusterDomain},
							{Name: "TRUST_DOMAIN", Value: clusterDomain},
						},
						StartupProbe: &v1.Probe{
							ProbeHandler:        readiness(),
							FailureThreshold:    30,
							InitialDelaySeconds: 1,
							PeriodSeconds:       1,
							SuccessThreshold:    1,
							TimeoutSeconds:      1,
						},
						ReadinessProbe: &v1.Probe{
							ProbeHandler:        readiness(),
							FailureThreshold:    4,
							InitialDelaySeconds: 0,
							PeriodSeconds:       15,
							SuccessThreshold:    1,
							TimeoutSeconds:      1,
						},
						VolumeMounts: []v1.VolumeMount{
							{Name: "workload-socket", MountPath: "/var/run/secrets/workload-spiffe-uds"},
							{Name: "credential-socket", MountPath: "/var/run/secrets/credential-uds"},
							{Name: "workload-certs", MountPath: "/var/run/secrets/workload-spiffe-credentials"},
							{Name: "istiod-ca-cert", MountPath: "/var/run/secrets/istio"},
							{Name: "istio-data", MountPath: "/var/lib/istio/data"},
							// The SDS channel between the agent and Envoy.
							{Name: "istio-envoy", MountPath: "/etc/istio/proxy"},
							{Name: "istio-token", MountPath: "/var/run/secrets/tokens"},
							{Name: "istio-podinfo", MountPath: "/etc/istio/pod"},
						},
					}},
					Volumes: []v1.Volume{
						{Name: "workload-socket", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
						{Name: "credential-socket", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
						{Name: "workload-certs", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
						{Name: "istio-envoy", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}}},
						{Name: "istio-data", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
						{Name: "istio-podinfo", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
							{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
							{Path: "annotations", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.annotations"}},
						}}}},
						istioTokenVolume(),
						{Name: "istiod-ca-cert", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
							LocalObjectReference: v1.LocalObjectReference{Name: RootCertName},
						}}},
					},
				},
			},
		},
	}
}

func readiness() v1.ProbeHandler {
	return v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: probePath, Port: intstr.FromInt32(statusPort), Scheme: v1.URISchemeHTTP}}
}

// ServicePorts are the ports of gw's Service as istiod names them: status-port 15021
// (appProtocol tcp), then one port per distinct listener port, in listener order, named after
// the first listener on it ('.' turned into '-', at most 63 characters), appProtocol the
// listener's protocol in lower case. Istio leaves targetPort to the API server's default, the
// port itself; minaks writes it out.
func ServicePorts(gw *gatewayv1.Gateway) []v1.ServicePort {
	ports := []v1.ServicePort{{Name: "status-port", Port: statusPort, Protocol: v1.ProtocolTCP, AppProtocol: ptr.To("tcp"),
		TargetPort: intstr.FromInt32(statusPort)}}
	seen := map[int32]bool{}
	for i, l := range gw.Spec.Listeners {
		port := int32(l.Port)
		if seen[port] {
			continue
		}
		seen[port] = true
		name := strings.ReplaceAll(string(l.Name), ".", "-")
		if len(name) > 63 {
			name = name[:63]
		}
		if name == "" {
			name = fmt.Sprintf("%s-%d", strings.ToLower(string(l.Protocol)), i)
		}
		ports = append(ports, v1.ServicePort{
			Name: name, Port: port, Protocol: v1.ProtocolTCP, AppProtocol: ptr.To(strings.ToLower(string(l.Protocol))),
			TargetPort: intstr.FromInt32(port),
		})
	}
	return ports
}

func (r *rendering) service() *v1.Service {
	ports := ServicePorts(r.gw)
	m := r.meta(nil)
	// AKS's health probe annotations first, so that the Gateway's own may replace them.
	probes := map[string]string{}
	for _, p := range ports[1:] {
		prefix := probeAnnotationPrefix + strconv.Itoa(int(p.Port)) + "_health-probe_"
		probes[prefix+"port"] = strconv.Itoa(statusPort)
		probes[prefix+"protocol"] = "http"
		probes[prefix+"request-path"] = probePath
	}
	m.Annotations = union(probes, m.Annotations)
	serviceType := v1.ServiceTypeLoadBalancer
	if v, ok := r.gw.Annotations[ServiceTypeAnnotation]; ok {
		serviceType = v1.ServiceType(v)
	}
	svc := &v1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: m,
		Spec: v1.ServiceSpec{
			IPFamilyPolicy: ptr.To(v1.IPFamilyPolicyPreferDualStack),
			Ports:          ports,
			Selector:       map[string]string{GatewayNameLabel: r.gw.Name},
			Type:           serviceType,
		},
	}
	if len(r.gw.Spec.Addresses) > 0 && serviceType == v1.ServiceTypeLoadBalancer {
		svc.Spec.LoadBalancerIP = r.gw.Spec.Addresses[0].Value
	}
	return svc
}

func (r *rendering) hpa() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: r.meta(nil),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: r.name},
			// The template's; the class defaults raise it.
			MaxReplicas: 1,
		},
	}
}

func (r *rendering) pdb() *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: r.meta(nil),
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{GatewayNameLabel: r.gw.Name}},
		},
	}
}

// overlayKeys are the ConfigMap keys istiod merges, by the kind of the object they patch.
var overlayKeys = map[string]string{
	"Deployment":              "deployment",
	"Service":                 "service",
	"ServiceAccount":          "serviceAccount",
	"HorizontalPodAutoscaler": "horizontalPodAutoscaler",
	"PodDisruptionBudget":     "podDisruptionBudget",
}

// requiredOverlays are the kinds rendered only when an overlay defines them.
var requiredOverlays = map[string]bool{"horizontalPodAutoscaler": true, "podDisruptionBudget": true}

// overlay merges the overlays of each ConfigMap's data, in order, into obj as strategic merge
// patches, as istiod does. keep is false for an HPA or PDB no overlay defines. An overlay may
// not change the object's identity (name, namespace, owners, finalizers, managed fields).
func overlay(obj runtime.Object, overlays ...map[string]string) (out runtime.Object, keep bool, err error) {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	key := overlayKeys[kind]
	supported := slices.Sorted(maps.Values(overlayKeys))
	applied := false
	out = obj
	for _, data := range overlays {
		for k := range data {
			if !slices.Contains(supported, k) {
				return nil, false, fmt.Errorf("unsupported overlay %q (supported: %v)", k, supported)
			}
		}
		patch, ok := data[key]
		if !ok {
			continue
		}
		out, err = strategicMerge(out, patch)
		if err != nil {
			return nil, false, fmt.Errorf("strategic merge patch failed: %w", err)
		}
		applied = true
	}
	if !applied && requiredOverlays[key] {
		return nil, false, nil
	}
	a, b := obj.(metav1.Object), out.(metav1.Object)
	if a.GetName() != b.GetName() || a.GetNamespace() != b.GetNamespace() || a.GetGenerateName() != b.GetGenerateName() ||
		a.GetUID() != b.GetUID() || a.GetResourceVersion() != b.GetResourceVersion() ||
		!reflect.DeepEqual(a.GetOwnerReferences(), b.GetOwnerReferences()) ||
		!slices.Equal(a.GetFinalizers(), b.GetFinalizers()) || len(b.GetManagedFields()) != 0 {
		return nil, false, fmt.Errorf("illegal metadata change")
	}
	return out, true, nil
}

// strategicMerge applies the YAML patch to obj with obj's own type's merge keys.
func strategicMerge(obj runtime.Object, patchYAML string) (runtime.Object, error) {
	original, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	patch, err := yaml.YAMLToJSON([]byte(patchYAML))
	if err != nil {
		return nil, err
	}
	if string(patch) == "null" {
		patch = []byte("{}")
	}
	merged, err := strategicpatch.StrategicMergePatch(original, patch, obj)
	if err != nil {
		return nil, err
	}
	out := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
	if err := json.Unmarshal(merged, out); err != nil {
		return nil, err
	}
	return out, nil
}
