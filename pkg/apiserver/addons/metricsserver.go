package addons

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/ptr"
)

// The metrics-server add-on's names and image, as on AKS, which always runs it.
const (
	// MetricsServerName names the Deployment, its Service and ServiceAccount.
	MetricsServerName = "metrics-server"
	// MetricsServerImage is the image AKS runs.
	MetricsServerImage = "mcr.microsoft.com/oss/v2/kubernetes/metrics-server:v0.8.0"
	// MetricsAPIService is the APIService through which the API server's aggregation layer
	// serves metrics.k8s.io from metrics-server.
	MetricsAPIService = "v1beta1.metrics.k8s.io"

	metricsServerPort = 4443
)

// MetricsServerObjects are the metrics-server add-on's objects but its APIService, in the order
// they are applied: upstream's manifest (RBAC, Service, Deployment) as AKS deploys it, with two
// replicas kept on different nodes where they can be, reading each kubelet at its InternalIP.
func MetricsServerObjects() []runtime.Object {
	labels := map[string]string{"k8s-app": MetricsServerName}
	metricsRules := []rbacv1.PolicyRule{{
		APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"},
	}}
	return []runtime.Object{
		&v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: MetricsServerName, Labels: labels}},
		// Whoever may view, edit or administer may read metrics.
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "system:aggregated-metrics-reader", Labels: map[string]string{
				"k8s-app": MetricsServerName,
				"rbac.authorization.k8s.io/aggregate-to-admin": "true",
				"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
				"rbac.authorization.k8s.io/aggregate-to-view":  "true",
			}},
			Rules: metricsRules,
		},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "system:metrics-server", Labels: labels},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"nodes/metrics"}, Verbs: []string{"get"}},
				{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: "metrics-server-auth-reader", Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: Namespace, Name: MetricsServerName}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "metrics-server:system:auth-delegator", Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: Namespace, Name: MetricsServerName}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "system:metrics-server", Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:metrics-server"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: Namespace, Name: MetricsServerName}},
		},
		&v1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: MetricsServerName, Labels: labels},
			Spec: v1.ServiceSpec{
				Selector: labels,
				Ports:    []v1.ServicePort{{Name: "https", Port: 443, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromString("https")}},
			},
		},
		metricsServerDeployment(labels),
	}
}

// MetricsServerAPIService is the APIService of metrics.k8s.io, served by the add-on's Service;
// apply it after MetricsServerObjects.
func MetricsServerAPIService() *apiregistrationv1.APIService {
	return &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: MetricsAPIService, Labels: map[string]string{"k8s-app": MetricsServerName}},
		Spec: apiregistrationv1.APIServiceSpec{
			Service:               &apiregistrationv1.ServiceReference{Namespace: Namespace, Name: MetricsServerName, Port: ptr.To[int32](443)},
			Group:                 "metrics.k8s.io",
			Version:               "v1beta1",
			InsecureSkipTLSVerify: true,
			GroupPriorityMinimum:  100,
			VersionPriority:       100,
		},
	}
}

func metricsServerDeployment(labels map[string]string) *appsv1.Deployment {
	probe := func(path string) *v1.Probe {
		return &v1.Probe{
			ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
				Path: path, Port: intstr.FromString("https"), Scheme: v1.URISchemeHTTPS}},
			PeriodSeconds:    10,
			FailureThreshold: 3,
		}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: MetricsServerName, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(0))},
			},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: v1.PodSpec{
					PriorityClassName:  "system-cluster-critical",
					ServiceAccountName: MetricsServerName,
					NodeSelector:       map[string]string{v1.LabelOSStable: "linux"},
					Tolerations:        []v1.Toleration{{Key: "CriticalAddonsOnly", Operator: v1.TolerationOpExists}},
					Affinity: &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{{
							Weight: 100,
							PodAffinityTerm: v1.PodAffinityTerm{
								LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
								TopologyKey:   v1.LabelHostname,
							},
						}},
					}},
					Containers: []v1.Container{{
						Name:            MetricsServerName,
						Image:           MetricsServerImage,
						ImagePullPolicy: v1.PullIfNotPresent,
						Args: []string{
							"--cert-dir=/tmp",
							"--secure-port=" + strconv.Itoa(metricsServerPort),
							"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
							"--kubelet-use-node-status-port",
							"--metric-resolution=15s",
							// The kubelets' serving certificates are self-signed, as on AKS.
							"--kubelet-insecure-tls",
						},
						Ports: []v1.ContainerPort{{Name: "https", ContainerPort: metricsServerPort, Protocol: v1.ProtocolTCP}},
						Resources: v1.ResourceRequirements{
							Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("200Mi")},
						},
						LivenessProbe:  probe("/livez"),
						ReadinessProbe: probe("/readyz"),
						VolumeMounts:   []v1.VolumeMount{{Name: "tmp-dir", MountPath: "/tmp"}},
						SecurityContext: &v1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							Capabilities:             &v1.Capabilities{Drop: []v1.Capability{"ALL"}},
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
							RunAsUser:                ptr.To[int64](1000),
							SeccompProfile:           &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault},
						},
					}},
					Volumes: []v1.Volume{{Name: "tmp-dir", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
}
