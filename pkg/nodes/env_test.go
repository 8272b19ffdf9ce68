package nodes

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// kubernetesEnv are the variables of the default/kubernetes Service that testServices holds.
var kubernetesEnv = []string{
	"KUBERNETES_SERVICE_HOST=10.0.0.1",
	"KUBERNETES_SERVICE_PORT=443",
	"KUBERNETES_SERVICE_PORT_HTTPS=443",
	"KUBERNETES_PORT=tcp://10.0.0.1:443",
	"KUBERNETES_PORT_443_TCP=tcp://10.0.0.1:443",
	"KUBERNETES_PORT_443_TCP_PROTO=tcp",
	"KUBERNETES_PORT_443_TCP_PORT=443",
	"KUBERNETES_PORT_443_TCP_ADDR=10.0.0.1",
}

// webEnv are the variables of the ns1/web Service that testServices holds.
var webEnv = []string{
	"WEB_SERVICE_HOST=10.0.5.5",
	"WEB_SERVICE_PORT=80",
	"WEB_PORT=tcp://10.0.5.5:80",
	"WEB_PORT_80_TCP=tcp://10.0.5.5:80",
	"WEB_PORT_80_TCP_PROTO=tcp",
	"WEB_PORT_80_TCP_PORT=80",
	"WEB_PORT_80_TCP_ADDR=10.0.5.5",
}

func testService(ns, name, clusterIP string, ports ...v1.ServicePort) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1.ServiceSpec{ClusterIP: clusterIP, Ports: ports},
	}
}

// testServices is a service lister holding default/kubernetes, ns1/web, a headless ns1/db and
// ns2/other.
func testServices(t *testing.T) corelisters.ServiceLister {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, s := range []*v1.Service{
		testService("default", "kubernetes", "10.0.0.1", v1.ServicePort{Name: "https", Port: 443, Protocol: v1.ProtocolTCP}),
		testService("ns1", "web", "10.0.5.5", v1.ServicePort{Port: 80, Protocol: v1.ProtocolTCP}),
		testService("ns1", "db", v1.ClusterIPNone, v1.ServicePort{Port: 5432, Protocol: v1.ProtocolTCP}),
		testService("ns2", "other", "10.0.7.7", v1.ServicePort{Port: 53, Protocol: v1.ProtocolUDP}),
	} {
		if err := indexer.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewServiceLister(indexer)
}

// testEnvSource is an envSource with the given API objects, testServices and a node with 8Gi
// and 2 CPUs allocatable.
func testEnvSource(t *testing.T, objs ...k8sruntime.Object) *envSource {
	t.Helper()
	return &envSource{
		client:   fake.NewClientset(objs...),
		services: testServices(t),
		allocatable: v1.ResourceList{
			v1.ResourceCPU:    resource.MustParse("2"),
			v1.ResourceMemory: resource.MustParse("8Gi"),
		},
	}
}

func envTestObjects() []k8sruntime.Object {
	return []k8sruntime.Object{
		&v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "cm"},
			Data: map[string]string{"b": "2", "a": "1", "host": "db.example"}},
		&v1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "sec"},
			Data: map[string][]byte{"password": []byte("hunter2"), "user": []byte("admin")}},
		// Same names in another namespace: never seen by ns1's pods.
		&v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns2", Name: "cm"}, Data: map[string]string{"a": "wrong"}},
	}
}

func envTestPod(links *bool, c v1.Container) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p", UID: "uid-1", Labels: map[string]string{"app": "web", "x": "y"}},
		Spec: v1.PodSpec{
			NodeName:           "aks-nodepool1-vmss000000",
			ServiceAccountName: "sa",
			EnableServiceLinks: links,
			Containers:         []v1.Container{c},
		},
		Status: v1.PodStatus{
			PodIP:   "10.244.0.7",
			PodIPs:  []v1.PodIP{{IP: "10.244.0.7"}, {IP: "fd00::7"}},
			HostIP:  "10.224.0.4",
			HostIPs: []v1.HostIP{{IP: "10.224.0.4"}},
		},
	}
}

// withoutServiceEnv drops the service link variables of testServices from env.
func withoutServiceEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "KUBERNETES_") && !strings.HasPrefix(kv, "WEB_") {
			out = append(out, kv)
		}
	}
	return out
}

func TestContainerEnv(t *testing.T) {
	noLinks := ptr.To(false)
	for _, tc := range []struct {
		name     string
		c        v1.Container
		imageEnv []string
		links    *bool
		// want is the environment without the service link variables.
		want []string
	}{
		{
			name: "plain values, expansion and escaping",
			c: v1.Container{Name: "c", Env: []v1.EnvVar{
				{Name: "A", Value: "a"},
				{Name: "B", Value: "$(A)-b"},
				{Name: "ESCAPED", Value: "$$(A)"},
				{Name: "MISSING", Value: "$(NOPE)"},
				{Name: "SVC", Value: "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)"},
				{Name: "EMPTY"},
				{Name: "A", Value: "again"},
				{Name: "LATER", Value: "$(A)"},
			}},
			want: []string{"A=again", "B=a-b", "ESCAPED=$(A)", "MISSING=$(NOPE)", "SVC=http://10.0.5.5:80", "EMPTY=", "LATER=again"},
		},
		{
			name: "envFrom configMap and secret with prefix, env overrides",
			c: v1.Container{Name: "c",
				EnvFrom: []v1.EnvFromSource{
					{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}},
					{Prefix: "DB_", SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "sec"}}},
					{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "gone"}, Optional: ptr.To(true)}},
					{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "gone"}, Optional: ptr.To(true)}},
				},
				Env: []v1.EnvVar{{Name: "a", Value: "override $(b)"}, {Name: "URL", Value: "$(DB_user)@$(host)"}},
			},
			want: []string{"a=override 2", "b=2", "host=db.example", "DB_password=hunter2", "DB_user=admin", "URL=admin@db.example"},
		},
		{
			name: "configMapKeyRef and secretKeyRef, optional missing skipped",
			c: v1.Container{Name: "c", Env: []v1.EnvVar{
				{Name: "FROM_CM", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
					LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Key: "a"}}},
				{Name: "FROM_SECRET", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
					LocalObjectReference: v1.LocalObjectReference{Name: "sec"}, Key: "password"}}},
				{Name: "OPT_KEY", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
					LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Key: "nope", Optional: ptr.To(true)}}},
				{Name: "OPT_CM", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
					LocalObjectReference: v1.LocalObjectReference{Name: "gone"}, Key: "a", Optional: ptr.To(true)}}},
				{Name: "OPT_SECRET_KEY", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
					LocalObjectReference: v1.LocalObjectReference{Name: "sec"}, Key: "nope", Optional: ptr.To(true)}}},
				{Name: "OPT_SECRET", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
					LocalObjectReference: v1.LocalObjectReference{Name: "gone"}, Key: "a", Optional: ptr.To(true)}}},
				// A value from a source is not expanded.
				{Name: "RAW", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			}},
			want: []string{"FROM_CM=1", "FROM_SECRET=hunter2", "RAW=p"},
		},
		{
			name: "fieldRef",
			c: v1.Container{Name: "c", Env: []v1.EnvVar{
				{Name: "NAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "NS", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
				{Name: "UID", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
				{Name: "LABEL", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels['x']"}}},
				{Name: "NODE", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				{Name: "SA", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.serviceAccountName"}}},
				{Name: "POD_IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				{Name: "POD_IPS", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIPs"}}},
				{Name: "HOST_IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
				{Name: "HOST_IPS", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.hostIPs"}}},
				{Name: "URL", Value: "http://$(POD_IP):8080/$(NAME)"},
			}},
			want: []string{"NAME=p", "NS=ns1", "UID=uid-1", "LABEL=y", "NODE=aks-nodepool1-vmss000000", "SA=sa",
				"POD_IP=10.244.0.7", "POD_IPS=10.244.0.7,fd00::7", "HOST_IP=10.224.0.4", "HOST_IPS=10.224.0.4",
				"URL=http://10.244.0.7:8080/p"},
		},
		{
			name: "resourceFieldRef with divisor and node allocatable fallback",
			c: v1.Container{Name: "c",
				Resources: v1.ResourceRequirements{
					Limits:   v1.ResourceList{v1.ResourceMemory: resource.MustParse("512Mi")},
					Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m")},
				},
				Env: []v1.EnvVar{
					{Name: "MEM_MI", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{
						Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
					{Name: "MEM", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.memory"}}},
					// No CPU limit: the node's allocatable CPU, in cores rounded up.
					{Name: "CPU", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.cpu"}}},
					{Name: "CPU_M", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{
						Resource: "limits.cpu", Divisor: resource.MustParse("1m")}}},
					{Name: "REQ_CPU_M", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{
						Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
				}},
			want: []string{"MEM_MI=512", "MEM=536870912", "CPU=2", "CPU_M=2000", "REQ_CPU_M=250"},
		},
		{
			name:     "image env first, the pod's env overrides it in place",
			imageEnv: []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "NGINX_VERSION=1.27"},
			c: v1.Container{Name: "c", Env: []v1.EnvVar{
				{Name: "LANG", Value: "en_US.UTF-8"},
				{Name: "EXTRA", Value: "x"},
			}},
			want: []string{"PATH=/usr/bin:/bin", "LANG=en_US.UTF-8", "NGINX_VERSION=1.27", "EXTRA=x"},
		},
		{
			name:  "no service links: only the kubernetes Service",
			links: noLinks,
			c:     v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "W", Value: "$(WEB_SERVICE_HOST)"}}},
			want:  []string{"W=$(WEB_SERVICE_HOST)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEnvSource(t, envTestObjects()...)
			pod := envTestPod(tc.links, tc.c)
			got, err := e.containerEnv(context.Background(), pod, &pod.Spec.Containers[0], tc.imageEnv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, withoutServiceEnv(got)); diff != "" {
				t.Errorf("env without service links (-want +got):\n%s", diff)
			}
		})
	}
}

// TestContainerEnvOrder checks the whole environment: the image's, then the service links
// (the kubernetes Service always, the namespace's unless enableServiceLinks is false, sorted by
// service name), then envFrom (sorted by key), then env in order.
func TestContainerEnvOrder(t *testing.T) {
	c := v1.Container{Name: "c",
		EnvFrom: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}}},
		Env:     []v1.EnvVar{{Name: "Z", Value: "z"}, {Name: "KUBERNETES_SERVICE_PORT", Value: "8443"}, {Name: "A", Value: "a"}},
	}
	cat := func(lists ...[]string) []string {
		var out []string
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	// env overrides a service variable in place.
	kubernetes := append([]string{}, kubernetesEnv...)
	kubernetes[1] = "KUBERNETES_SERVICE_PORT=8443"
	fromCM := []string{"a=1", "b=2", "host=db.example"}
	for _, tc := range []struct {
		name  string
		ns    string
		links *bool
		want  []string
	}{
		{"links by default", "ns1", nil, cat([]string{"IMG=1"}, kubernetes, webEnv, fromCM, []string{"Z=z", "A=a"})},
		{"links on", "ns1", ptr.To(true), cat([]string{"IMG=1"}, kubernetes, webEnv, fromCM, []string{"Z=z", "A=a"})},
		{"links off", "ns1", ptr.To(false), cat([]string{"IMG=1"}, kubernetes, fromCM, []string{"Z=z", "A=a"})},
		{"default namespace", "default", nil, cat([]string{"IMG=1"}, kubernetes, []string{"Z=z", "A=a"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEnvSource(t, envTestObjects()...)
			pod := envTestPod(tc.links, c)
			pod.Namespace = tc.ns
			if tc.ns != "ns1" {
				pod.Spec.Containers[0].EnvFrom = nil
			}
			got, err := e.containerEnv(context.Background(), pod, &pod.Spec.Containers[0], []string{"IMG=1"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerEnvErrors(t *testing.T) {
	cmRef := func(name, key string) *v1.EnvVarSource {
		return &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: name}, Key: key}}
	}
	secretRef := func(name, key string) *v1.EnvVarSource {
		return &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: name}, Key: key}}
	}
	for _, tc := range []struct {
		name string
		c    v1.Container
		want string
	}{
		{"configMap key missing", v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "X", ValueFrom: cmRef("cm", "nope")}}},
			"couldn't find key nope in ConfigMap ns1/cm"},
		{"secret key missing", v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "X", ValueFrom: secretRef("sec", "nope")}}},
			"couldn't find key nope in Secret ns1/sec"},
		{"configMap missing", v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "X", ValueFrom: cmRef("gone", "a")}}},
			"ns1/gone"},
		{"secret missing", v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "X", ValueFrom: secretRef("gone", "a")}}},
			"ns1/gone"},
		{"envFrom configMap missing", v1.Container{Name: "c", EnvFrom: []v1.EnvFromSource{
			{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "gone"}}}}},
			"couldn't get configMap ns1/gone"},
		{"envFrom secret missing", v1.Container{Name: "c", EnvFrom: []v1.EnvFromSource{
			{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "gone"}}}}},
			"couldn't get secret ns1/gone"},
		{"bad field path", v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "X", ValueFrom: &v1.EnvVarSource{
			FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.nope"}}}}},
			"spec.nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEnvSource(t, envTestObjects()...)
			pod := envTestPod(nil, tc.c)
			_, err := e.containerEnv(context.Background(), pod, &pod.Spec.Containers[0], nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
