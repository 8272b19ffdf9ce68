package gatewayapi

import (
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// httpbinGateway is the Gateway of AKS's app routing Gateway API walkthrough
// (app-routing-gateway-api.md): one HTTP listener on 80.
func httpbinGateway() *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		TypeMeta: metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "default", Name: "httpbin-gateway", UID: "gw-uid",
			Annotations: map[string]string{
				"kubectl.kubernetes.io/last-applied-configuration": "{}",
				ControllerVersionAnnotation:                        ControllerVersion,
			},
		},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: GatewayClassName,
			Listeners: []gatewayv1.Listener{{
				Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: ptr.To(gatewayv1.NamespacesFromSame)}},
			}},
		},
	}
}

// TestGatewayObjectsGolden compares GatewayObjects with testdata/gateway-<case>.yaml. The cases
// follow Istio's deployment controller tests (testdata/deployment/*.yaml in istio/istio) and
// AKS's documented customizations.
func TestGatewayObjectsGolden(t *testing.T) {
	aks := GatewayOptions{ClassDefaults: ClassDefaults().Data}
	for _, tc := range []struct {
		name string
		gw   func() *gatewayv1.Gateway
		opts GatewayOptions
	}{
		// AKS's walkthrough: httpbin-gateway-approuting-istio with its HPA 2–5 and PDB 1.
		{"simple", httpbinGateway, aks},
		// spec.infrastructure's annotations and labels replace the Gateway's own (Istio:
		// infrastructure-labels-annotations), keys under gateway.networking.k8s.io/ dropped;
		// listeners sharing a port make one Service port, named after the first; '.' in a
		// listener name becomes '-'.
		{"internal-infrastructure", func() *gatewayv1.Gateway {
			gw := httpbinGateway()
			gw.Labels = map[string]string{"team": "not-copied"}
			gw.Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{
				Annotations: map[gatewayv1.AnnotationKey]gatewayv1.AnnotationValue{
					"service.beta.kubernetes.io/azure-load-balancer-internal":        "true",
					"service.beta.kubernetes.io/azure-load-balancer-internal-subnet": "my-subnet",
					"gateway.networking.k8s.io/ignored":                              "x",
				},
				Labels: map[gatewayv1.LabelKey]gatewayv1.LabelValue{"team": "payments"},
			}
			gw.Spec.Listeners = append(gw.Spec.Listeners,
				gatewayv1.Listener{Name: "https.example.com", Port: 443, Protocol: gatewayv1.HTTPSProtocolType, Hostname: ptr.To[gatewayv1.Hostname]("example.com")},
				gatewayv1.Listener{Name: "other-http", Port: 80, Protocol: gatewayv1.HTTPProtocolType, Hostname: ptr.To[gatewayv1.Hostname]("other.example.com")},
			)
			return gw
		}, aks},
		// Without infrastructure, the Gateway's labels and annotations are copied (Istio:
		// copy-labels-annotations-enabled-infra-nil), minus kubectl's and istiod's own; the
		// name-override and service-account annotations rename the objects.
		{"metadata-copied-and-renamed", func() *gatewayv1.Gateway {
			gw := httpbinGateway()
			gw.Labels = map[string]string{"app": "store"}
			gw.Annotations[NameOverrideAnnotation] = "store-gw"
			gw.Annotations[ServiceAccountAnnotation] = "store-sa"
			gw.Annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] = "true"
			return gw
		}, aks},
		// One IP address: the Service's loadBalancerIP (Istio: manual-ip); no class defaults:
		// no HPA and no PDB, as istiod renders them only from an overlay.
		{"manual-ip-no-defaults", func() *gatewayv1.Gateway {
			gw := httpbinGateway()
			gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: ptr.To(gatewayv1.IPAddressType), Value: "1.2.3.4"}}
			return gw
		}, GatewayOptions{ProxyImageTag: "v1.28.6-1"}},
		// The class defaults edited and a per-Gateway ConfigMap (AKS: "Configure settings for
		// a specific gateway"): the Gateway's ConfigMap wins over the class's; a Service
		// overlay moves to externalTrafficPolicy Local and unsets AKS's probe annotations
		// with nulls, as AKS's documentation says to.
		{"parameters", func() *gatewayv1.Gateway {
			gw := httpbinGateway()
			gw.Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{
				ParametersRef: &gatewayv1.LocalParametersReference{Group: "", Kind: "ConfigMap", Name: "gw-options"},
			}
			return gw
		}, GatewayOptions{
			ClassDefaults: map[string]string{
				"deployment":              "metadata:\n  labels:\n    test.azureservicemesh.io/deployment-config: updated\n",
				"horizontalPodAutoscaler": "spec:\n  minReplicas: 3\n  maxReplicas: 6\n",
				"podDisruptionBudget":     "spec:\n  minAvailable: 1\n",
			},
			Parameters: map[string]string{
				"horizontalPodAutoscaler": "spec:\n  minReplicas: 2\n  maxReplicas: 4\n",
				"deployment": "metadata:\n  labels:\n    test.azureservicemesh.io/deployment-config: updated-per-gateway\n" +
					"spec:\n  template:\n    spec:\n      nodeSelector:\n        workload: ingress\n",
				"service": "spec:\n  externalTrafficPolicy: Local\nmetadata:\n  annotations:\n" +
					"    service.beta.kubernetes.io/port_80_health-probe_port:\n" +
					"    service.beta.kubernetes.io/port_80_health-probe_protocol:\n" +
					"    service.beta.kubernetes.io/port_80_health-probe_request-path:\n",
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := GatewayObjects(tc.gw(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "gateway-"+tc.name, render(t, objs...))
		})
	}
}

// TestGatewayObjectsAsAKSShowsThem checks the walkthrough's `kubectl get` output: four objects
// and a ServiceAccount named httpbin-gateway-approuting-istio, the Service's ports
// 15021/TCP,80/TCP, the HPA 2–5 (80 % CPU by the API's default), the PDB min available 1.
func TestGatewayObjectsAsAKSShowsThem(t *testing.T) {
	objs, err := GatewayObjects(httpbinGateway(), GatewayOptions{ClassDefaults: ClassDefaults().Data})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, obj := range objs {
		m := obj.(metav1.Object)
		kinds = append(kinds, obj.GetObjectKind().GroupVersionKind().Kind)
		if m.GetName() != "httpbin-gateway-approuting-istio" || m.GetNamespace() != "default" {
			t.Errorf("%s %s/%s", kinds[len(kinds)-1], m.GetNamespace(), m.GetName())
		}
		if m.GetLabels()[GatewayNameLabel] != "httpbin-gateway" || m.GetLabels()[ManagedLabel] != ManagedValue {
			t.Errorf("%s labels %v", kinds[len(kinds)-1], m.GetLabels())
		}
		if refs := m.GetOwnerReferences(); len(refs) != 1 || refs[0].Kind != "Gateway" || refs[0].UID != "gw-uid" {
			t.Errorf("%s owners %v", kinds[len(kinds)-1], refs)
		}
	}
	if got := strings.Join(kinds, ","); got != "ServiceAccount,Deployment,Service,HorizontalPodAutoscaler,PodDisruptionBudget" {
		t.Errorf("kinds %s", got)
	}
	for _, obj := range objs {
		switch o := obj.(type) {
		case *v1.Service:
			if o.Spec.Type != v1.ServiceTypeLoadBalancer || len(o.Spec.Ports) != 2 || o.Spec.Ports[0].Port != 15021 || o.Spec.Ports[1].Port != 80 {
				t.Errorf("Service %+v", o.Spec)
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			if ptr.Deref(o.Spec.MinReplicas, 0) != 2 || o.Spec.MaxReplicas != 5 {
				t.Errorf("HPA %d–%d", ptr.Deref(o.Spec.MinReplicas, 0), o.Spec.MaxReplicas)
			}
		}
	}
}

func TestIsManaged(t *testing.T) {
	for _, tc := range []struct {
		name      string
		addresses []gatewayv1.GatewaySpecAddress
		want      bool
	}{
		{"no address", nil, true},
		{"one IP address", []gatewayv1.GatewaySpecAddress{{Type: ptr.To(gatewayv1.IPAddressType), Value: "10.0.0.4"}}, true},
		{"one address without type", []gatewayv1.GatewaySpecAddress{{Value: "10.0.0.4"}}, true},
		{"a hostname points at other infrastructure", []gatewayv1.GatewaySpecAddress{{Type: ptr.To(gatewayv1.HostnameAddressType), Value: "gw.example.com"}}, false},
		{"two addresses", []gatewayv1.GatewaySpecAddress{{Value: "10.0.0.4"}, {Value: "10.0.0.5"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := httpbinGateway()
			gw.Spec.Addresses = tc.addresses
			if got := IsManaged(&gw.Spec); got != tc.want {
				t.Errorf("IsManaged = %v, want %v", got, tc.want)
			}
			objs, err := GatewayObjects(gw, GatewayOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if (len(objs) > 0) != tc.want {
				t.Errorf("%d objects rendered", len(objs))
			}
		})
	}
}

func TestGatewayObjectsRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    GatewayOptions
		wantErr string
	}{
		{"unsupported overlay key", GatewayOptions{ClassDefaults: map[string]string{"configMap": "x: y"}}, `unsupported overlay "configMap"`},
		{"renaming through an overlay", GatewayOptions{Parameters: map[string]string{"service": "metadata:\n  name: other\n"}}, "illegal metadata change"},
		{"new owners through an overlay", GatewayOptions{Parameters: map[string]string{"deployment": "metadata:\n  ownerReferences:\n  - {apiVersion: v1, kind: ConfigMap, name: x, uid: other}\n"}}, "illegal metadata change"},
		{"overlay that is not YAML", GatewayOptions{ClassDefaults: map[string]string{"service": "spec: [\n"}}, "strategic merge patch failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := GatewayObjects(httpbinGateway(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestParametersRef(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ref     *gatewayv1.LocalParametersReference
		want    string
		wantErr bool
	}{
		{name: "none"},
		{name: "a ConfigMap in the Gateway's namespace", ref: &gatewayv1.LocalParametersReference{Kind: "ConfigMap", Name: "gw-options"}, want: "default/gw-options"},
		{name: "another kind", ref: &gatewayv1.LocalParametersReference{Group: "example.com", Kind: "Params", Name: "p"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := httpbinGateway()
			if tc.ref != nil {
				gw.Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{ParametersRef: tc.ref}
			}
			got, err := ParametersRef(gw)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v", err)
			}
			if s := ""; got != nil {
				s = got.String()
				if s != tc.want {
					t.Errorf("ref %s, want %s", s, tc.want)
				}
			} else if tc.want != "" {
				t.Errorf("no ref, want %s", tc.want)
			}
		})
	}
}

// TestServicePorts follows Istio's extractServicePorts.
func TestServicePorts(t *testing.T) {
	gw := httpbinGateway()
	gw.Spec.Listeners = []gatewayv1.Listener{
		{Name: "tls.passthrough", Port: 8443, Protocol: gatewayv1.TLSProtocolType},
		{Name: gatewayv1.SectionName(strings.Repeat("a", 70)), Port: 9000, Protocol: gatewayv1.TCPProtocolType},
		{Name: "dup", Port: 8443, Protocol: gatewayv1.HTTPSProtocolType},
	}
	var got []string
	for _, p := range ServicePorts(gw) {
		got = append(got, p.Name+"/"+*p.AppProtocol)
	}
	want := []string{"status-port/tcp", "tls-passthrough/tls", strings.Repeat("a", 63) + "/tcp"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ports %v, want %v", got, want)
	}
}

var _ runtime.Object = &gatewayv1.Gateway{}
