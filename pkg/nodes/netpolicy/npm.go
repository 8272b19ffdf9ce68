package netpolicy

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver/apply"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

// Azure NPM's objects, named as in NPM's manifest (npm/azure-npm.yaml).
const (
	Namespace = metav1.NamespaceSystem
	NPMName   = "azure-npm"
	// NPMImage is the azure-npm image AKS runs.
	NPMImage   = "mcr.microsoft.com/containernetworking/azure-npm:v1.7.12"
	npmConfig  = "azure-npm-config"
	npmPort    = 10091
	npmCfgDir  = "/etc/azure-npm"
	npmCfgFile = "azure-npm.json"
)

// npmConfigJSON is the ConfigMap's azure-npm.json, as NPM's manifest ships it.
const npmConfigJSON = `{
    "ResyncPeriodInMinutes": 15,
    "ListeningPort": 10091,
    "ListeningAddress": "0.0.0.0",
    "ApplyMaxBatches": 100,
    "ApplyIntervalInMilliseconds": 500,
    "MaxBatchedACLsPerPod": 30,
    "IPTablesIntervalInMilliseconds": 500,
    "IPTablesMaxBatches": 100,
    "Toggles": {
        "EnablePrometheusMetrics": true,
        "EnablePprof": true,
        "EnableHTTPDebugAPI": true,
        "EnableV2NPM": true,
        "PlaceAzureChainFirst": false,
        "ApplyIPSetsOnNeed": false,
        "ApplyInBackground": true,
        "IPTablesInBackground": true
    }
}
`

// Engine is the DaemonSet that enforces the cluster's policy, "" when nothing does (none).
func Engine(c *config.Cluster) string {
	if c.Network.Policy == "azure" {
		return NPMName
	}
	return ""
}

// Objects are the engine's objects for cluster c (none for --network-policy none).
func Objects(c *config.Cluster) []runtime.Object {
	if Engine(c) != NPMName {
		return nil
	}
	labels := map[string]string{"addonmanager.kubernetes.io/mode": "EnsureExists"}
	meta := metav1.ObjectMeta{Namespace: Namespace, Name: NPMName, Labels: labels}
	podLabels := map[string]string{"k8s-app": NPMName}
	hostPath := func(name, path string, t v1.HostPathType) v1.Volume {
		return v1.Volume{Name: name, VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: path, Type: &t}}}
	}
	return []runtime.Object{
		&v1.ServiceAccount{ObjectMeta: meta},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: NPMName, Labels: labels},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"pods", "nodes", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: NPMName + "-binding", Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: NPMName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: Namespace, Name: NPMName}},
		},
		&v1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: npmConfig, Labels: labels},
			Data:       map[string]string{npmCfgFile: npmConfigJSON},
		},
		&appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: NPMName, Labels: map[string]string{"app": NPMName, "addonmanager.kubernetes.io/mode": "EnsureExists"}},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: podLabels},
				Template: v1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{
						Labels:      podLabels,
						Annotations: map[string]string{"scheduler.alpha.kubernetes.io/critical-pod": "", "azure.npm/scrapeable": ""},
					},
					Spec: v1.PodSpec{
						PriorityClassName:  "system-node-critical",
						HostNetwork:        true,
						NodeSelector:       map[string]string{v1.LabelOSStable: "linux"},
						ServiceAccountName: NPMName,
						Tolerations: []v1.Toleration{
							{Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute},
							{Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule},
							{Key: "CriticalAddonsOnly", Operator: v1.TolerationOpExists},
						},
						Containers: []v1.Container{{
							Name:  NPMName,
							Image: NPMImage,
							Resources: v1.ResourceRequirements{
								Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("300Mi")},
								Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m")},
							},
							SecurityContext: &v1.SecurityContext{Privileged: ptr.To(true)},
							Env: []v1.EnvVar{
								{Name: "HOSTNAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}},
								{Name: "NPM_CONFIG", Value: npmCfgDir + "/" + npmCfgFile},
							},
							// minaks's addition: ready once the node's rules are written, so that
							// up returns with policy enforced.
							ReadinessProbe: &v1.Probe{
								ProbeHandler:  v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(npmPort)}},
								PeriodSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1, TimeoutSeconds: 1,
							},
							VolumeMounts: []v1.VolumeMount{
								{Name: "log", MountPath: "/var/log"},
								{Name: "xtables-lock", MountPath: "/run/xtables.lock"},
								{Name: "protocols", MountPath: "/etc/protocols"},
								{Name: npmConfig, MountPath: npmCfgDir},
							},
						}},
						Volumes: []v1.Volume{
							hostPath("log", "/var/log", v1.HostPathDirectory),
							hostPath("xtables-lock", "/run/xtables.lock", v1.HostPathFileOrCreate),
							hostPath("protocols", "/etc/protocols", v1.HostPathFile),
							{Name: npmConfig, VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: npmConfig}}}},
						},
					},
				},
			},
		},
	}
}

// Apply creates or updates the engine's objects.
func Apply(ctx context.Context, client kubernetes.Interface, c *config.Cluster) error {
	if err := apply.Objects(ctx, client, Objects(c)...); err != nil {
		return fmt.Errorf("network policy (%s): %w", c.Network.Policy, err)
	}
	return nil
}
