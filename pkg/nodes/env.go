package nodes

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	podresource "k8s.io/kubernetes/pkg/api/v1/resource"
	"k8s.io/kubernetes/pkg/fieldpath"
	"k8s.io/kubernetes/pkg/kubelet/envvars"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// envSource is what a container's environment is made from besides the pod.
type envSource struct {
	client      kubernetes.Interface
	services    corelisters.ServiceLister
	allocatable v1.ResourceList
}

// containerEnv computes a container's environment as the kubelet does (makeEnvironmentVariables):
// service link variables first, then envFrom, then env, with $(VAR) references expanded against
// what came before. imageEnv (the image's ENV) comes first of all.
func (e *envSource) containerEnv(ctx context.Context, pod *v1.Pod, c *v1.Container, imageEnv []string) ([]string, error) {
	// vars is the result; podVars what $(VAR) may refer to: not the image's environment,
	// which the kubelet never sees.
	vars, podVars := map[string]string{}, map[string]string{}
	var order []string
	put := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	set := func(k, v string) {
		put(k, v)
		podVars[k] = v
	}
	for _, kv := range imageEnv {
		k, v, _ := strings.Cut(kv, "=")
		put(k, v)
	}
	svcVars, err := e.serviceEnv(pod)
	if err != nil {
		return nil, err
	}
	for _, kv := range svcVars {
		set(kv.Name, kv.Value)
	}

	configMaps, secrets := map[string]*v1.ConfigMap{}, map[string]*v1.Secret{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := e.configMap(ctx, pod.Namespace, from.ConfigMapRef.Name, configMaps)
			if err != nil {
				if optional(from.ConfigMapRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("couldn't get configMap %s/%s: %w", pod.Namespace, from.ConfigMapRef.Name, err)
			}
			for _, k := range sortedKeys(cm.Data) {
				set(from.Prefix+k, cm.Data[k])
			}
		case from.SecretRef != nil:
			s, err := e.secret(ctx, pod.Namespace, from.SecretRef.Name, secrets)
			if err != nil {
				if optional(from.SecretRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("couldn't get secret %s/%s: %w", pod.Namespace, from.SecretRef.Name, err)
			}
			for _, k := range sortedKeys(s.Data) {
				set(from.Prefix+k, string(s.Data[k]))
			}
		}
	}

	mapping := expansion.MappingFuncFor(podVars)
	for _, ev := range c.Env {
		if ev.ValueFrom == nil {
			set(ev.Name, expansion.Expand(ev.Value, mapping))
			continue
		}
		v, ok, err := e.valueFrom(ctx, pod, c, ev.ValueFrom, configMaps, secrets)
		if err != nil {
			return nil, err
		}
		if ok {
			set(ev.Name, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}

// serviceEnv are the docker-link style variables of the services a pod sees: the kubernetes
// Service always, the pod's namespace's services unless enableServiceLinks is false.
func (e *envSource) serviceEnv(pod *v1.Pod) ([]v1.EnvVar, error) {
	if e.services == nil {
		return nil, nil
	}
	all, err := e.services.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	byName := map[string]*v1.Service{}
	for _, s := range all {
		if !hasClusterIP(s) {
			continue
		}
		switch {
		case s.Namespace == metav1.NamespaceDefault && s.Name == "kubernetes":
			if _, ok := byName[s.Name]; !ok || pod.Namespace != metav1.NamespaceDefault {
				byName[s.Name] = s
			}
		case s.Namespace == pod.Namespace && links:
			byName[s.Name] = s
		}
	}
	svcs := make([]*v1.Service, 0, len(byName))
	for _, s := range byName {
		svcs = append(svcs, s)
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	return envvars.FromServices(svcs), nil
}

func hasClusterIP(s *v1.Service) bool {
	return s.Spec.ClusterIP != v1.ClusterIPNone && s.Spec.ClusterIP != ""
}

// valueFrom resolves one env var's source; ok is false for a missing optional key.
func (e *envSource) valueFrom(ctx context.Context, pod *v1.Pod, c *v1.Container, src *v1.EnvVarSource,
	configMaps map[string]*v1.ConfigMap, secrets map[string]*v1.Secret) (string, bool, error) {
	switch {
	case src.FieldRef != nil:
		v, err := podFieldValue(pod, src.FieldRef.FieldPath)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		name := c.Name
		if src.ResourceFieldRef.ContainerName != "" {
			name = src.ResourceFieldRef.ContainerName
		}
		v, err := podresource.ExtractResourceValueByContainerNameAndNodeAllocatable(src.ResourceFieldRef, pod, name, e.allocatable)
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := e.configMap(ctx, pod.Namespace, ref.Name, configMaps)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't get configMap %s/%s: %w", pod.Namespace, ref.Name, err)
		}
		v, ok := cm.Data[ref.Key]
		if !ok && !optional(ref.Optional) {
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return v, ok, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := e.secret(ctx, pod.Namespace, ref.Name, secrets)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't get secret %s/%s: %w", pod.Namespace, ref.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok && !optional(ref.Optional) {
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), ok, nil
	}
	return "", false, nil
}

// podFieldValue is the downward API's value of a pod field, including the ones only the
// kubelet knows (node name, addresses).
func podFieldValue(pod *v1.Pod, path string) (string, error) {
	switch path {
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.hostIPs":
		ips := make([]string, len(pod.Status.HostIPs))
		for i, ip := range pod.Status.HostIPs {
			ips[i] = ip.IP
		}
		return strings.Join(ips, ","), nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		ips := make([]string, len(pod.Status.PodIPs))
		for i, ip := range pod.Status.PodIPs {
			ips[i] = ip.IP
		}
		return strings.Join(ips, ","), nil
	}
	return fieldpath.ExtractFieldPathAsString(pod, path)
}

func (e *envSource) configMap(ctx context.Context, ns, name string, cache map[string]*v1.ConfigMap) (*v1.ConfigMap, error) {
	if cm, ok := cache[name]; ok {
		return cm, nil
	}
	cm, err := e.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	cache[name] = cm
	return cm, nil
}

func (e *envSource) secret(ctx context.Context, ns, name string, cache map[string]*v1.Secret) (*v1.Secret, error) {
	if s, ok := cache[name]; ok {
		return s, nil
	}
	s, err := e.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	cache[name] = s
	return s, nil
}

func optional(b *bool) bool { return b != nil && *b }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
