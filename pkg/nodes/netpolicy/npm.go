package netpolicy

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Azure NPM's objects, named as in NPM's manifest (npm/azure-npm.yaml).
const (
	NPMName = "azure-npm"
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

// npmObjects are NPM's ServiceAccount, RBAC, ConfigMap and DaemonSet.
func npmObjects() []runtime.Object {
	labels := map[string]string{"addonmanager.kubernetes.io/mode": "EnsureExists"}
	objs := []runtime.Object{&v1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: npmConfig, Labels: labels},
		Data:       map[string]string{npmCfgFile: npmConfigJSON},
	}}
	return append(objs, agentObjects(DaemonSet{Namespace: metav1.NamespaceSystem, Name: NPMName}, labels, NPMName+"-binding", readRules,
		v1.PodSpec{
			Containers: []v1.Container{{
				Name:  NPMName,
				Image: NPMImage,
				Resources: v1.ResourceRequirements{
					Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("300Mi")},
					Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m")},
				},
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
		metav1.ObjectMeta{Annotations: map[string]string{"scheduler.alpha.kubernetes.io/critical-pod": "", "azure.npm/scrapeable": ""}},
	)...)
}
