package ingressnginx

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ktypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/images/internal/l7"
)

const (
	testClass      = "webapprouting.kubernetes.azure.com"
	testController = "webapprouting.kubernetes.azure.com/nginx"
	testNS         = "app-routing-system"
)

// backend is an HTTP server on loopback that says who it is and what it got.
func backend(t *testing.T, name string) netip.AddrPort {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", name, r.URL.Path, r.Header.Get("X-Forwarded-Host"))
	}))
	t.Cleanup(srv.Close)
	return netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
}

func ingress(name, host, svc string, annotations map[string]string) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: ktypes.UID("uid-" + name), Generation: 1, Annotations: annotations,
			CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0))},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To(testClass),
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
			}}}},
		},
	}
}

// service is a Service on port 80 and its EndpointSlice with one ready endpoint at ep.
func service(name string, ep netip.AddrPort) []runtime.Object {
	return []runtime.Object{
		&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: v1.ServiceSpec{ClusterIP: "10.0.0.50", Ports: []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}}}},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name + "-abc", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(ep.Port())), Protocol: ptr.To(v1.ProtocolTCP)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ep.Addr().String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		},
	}
}

// TestController runs the controller against a fake API server and a real proxy on loopback:
// an Ingress is served, its status gets the publish service's address, Events are posted, and
// an endpoint change applies without a restart.
func TestController(t *testing.T) {
	web := backend(t, "web")
	objs := append(service("web", web),
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: testClass}, Spec: networkingv1.IngressClassSpec{Controller: testController}},
		&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "nginx"}, Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer},
			Status: v1.ServiceStatus{LoadBalancer: v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: "198.51.100.9"}}}}},
		&v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "nginx"}, Data: map[string]string{"annotations-risk-level": "Critical"}},
		ingress("web", "web.example.test", "web", nil),
		ingress("odd", "odd.example.test", "web", map[string]string{"nginx.ingress.kubernetes.io/no-such-thing": "1"}),
		ingress("other", "other.example.test", "web", nil),
	)
	other := objs[len(objs)-1].(*networkingv1.Ingress)
	other.Spec.IngressClassName = ptr.To("another-class")
	client := fake.NewSimpleClientset(objs...)

	f, err := parseFlags([]string{"--ingress-class=" + testClass, "--controller-class=" + testController,
		"--publish-service=" + testNS + "/nginx", "--configmap=" + testNS + "/nginx", "--election-id=nginx"})
	if err != nil {
		t.Fatal(err)
	}
	fake, err := fakeCertificate()
	if err != nil {
		t.Fatal(err)
	}
	proxy := l7.New(l7.Options{Listen: func(ctx context.Context, network, _ string) (net.Listener, error) {
		var lc net.ListenConfig
		return lc.Listen(ctx, network, "127.0.0.1:0")
	}})
	defer proxy.Shutdown(context.Background())
	c := newController(f, client, testNS, "nginx-abc", proxy, fake)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.run(ctx) }()

	get := func(host string) (int, string) {
		addr := proxy.Addr("http")
		if addr == nil {
			return 0, "no listener"
		}
		req, _ := http.NewRequest("GET", "http://"+addr.String()+"/some/path", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	eventually(t, "the Ingress served", func() error {
		if code, body := get("web.example.test"); code != 200 || body != "web /some/path web.example.test" {
			return fmt.Errorf("%d %q", code, body)
		}
		return nil
	})
	if !c.synced.Load() {
		t.Error("not synced after serving")
	}
	if code, _ := get("other.example.test"); code != 404 {
		t.Errorf("an Ingress of another class is served: %d", code)
	}
	if code, _ := get("odd.example.test"); code != 200 {
		t.Errorf("an Ingress with an unknown annotation is not served: %d", code)
	}

	eventually(t, "the Ingresses' status", func() error {
		for _, name := range []string{"web", "odd"} {
			ing, err := client.NetworkingV1().Ingresses("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if lb := ing.Status.LoadBalancer.Ingress; len(lb) != 1 || lb[0].IP != "198.51.100.9" {
				return fmt.Errorf("%s: %+v", name, lb)
			}
		}
		ing, _ := client.NetworkingV1().Ingresses("default").Get(ctx, "other", metav1.GetOptions{})
		if len(ing.Status.LoadBalancer.Ingress) != 0 {
			return fmt.Errorf("the other class's Ingress got a status: %+v", ing.Status.LoadBalancer.Ingress)
		}
		return nil
	})

	eventually(t, "Events", func() error {
		events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var got []string
		for _, e := range events.Items {
			got = append(got, fmt.Sprintf("%s %s %s %s", e.InvolvedObject.Name, e.Type, e.Reason, e.Message))
		}
		all := strings.Join(got, "\n")
		for _, want := range []string{"web Normal Sync Scheduled for sync", "odd Warning", "no-such-thing"} {
			if !strings.Contains(all, want) {
				return fmt.Errorf("no event %q in:\n%s", want, all)
			}
		}
		if strings.Contains(all, "other ") {
			return fmt.Errorf("an event on the other class's Ingress:\n%s", all)
		}
		return nil
	})

	// A new endpoint replaces the old: served at once, no restart.
	moved := backend(t, "moved")
	slice, _ := client.DiscoveryV1().EndpointSlices("default").Get(ctx, "web-abc", metav1.GetOptions{})
	slice.Endpoints[0].Addresses = []string{moved.Addr().String()}
	slice.Ports[0].Port = ptr.To(int32(moved.Port()))
	if _, err := client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new endpoint", func() error {
		if code, body := get("web.example.test"); code != 200 || !strings.HasPrefix(body, "moved ") {
			return fmt.Errorf("%d %q", code, body)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFlags(t *testing.T) {
	f, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.IngressClass != "nginx" || f.ControllerClass != "k8s.io/ingress-nginx" || f.HTTPPort != 80 || f.HTTPSPort != 443 ||
		f.HealthzPort != 10254 || !f.UpdateStatus || !f.EnableAnnotationValidation || f.ElectionID != "ingress-controller-leader" ||
		f.StatusUpdateInterval != time.Minute {
		t.Errorf("defaults: %+v", f)
	}
	f, err = parseFlags([]string{"--shutdown-grace-period=15", "--tcp-services-configmap=ns/tcp", "--enable-metrics=true", "--v=2"})
	if err != nil {
		t.Fatal(err)
	}
	if f.ShutdownGracePeriod != 15*time.Second || len(f.NotEmulated) != 1 || !strings.Contains(f.NotEmulated[0], "tcp-services-configmap") {
		t.Errorf("grace %v, not emulated %v", f.ShutdownGracePeriod, f.NotEmulated)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--publish-service=a/b", "--publish-status-address=1.2.3.4"}, "mutually exclusive"},
		{[]string{"--watch-namespace=a", "--watch-namespace-selector=x=y"}, "mutually exclusive"},
		{[]string{"--watch-namespace-selector=x in (a"}, "failed to parse --watch-namespace-selector"},
		{[]string{"--metrics-per-undefined-host", "--metrics-per-host=false"}, "--metrics-per-undefined-host=true must be passed with --metrics-per-host=true"},
		{[]string{"--publish-service=nginx"}, "--publish-service"},
		{[]string{"--no-such-flag"}, "unknown flag: --no-such-flag"},
	} {
		if _, err := parseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestDumbInitCommand(t *testing.T) {
	for _, tc := range []struct{ args, want []string }{
		{[]string{"--", "/nginx-ingress-controller", "--v=1"}, []string{"/nginx-ingress-controller", "--v=1"}},
		{[]string{"-c", "-r", "15:3", "/wait-shutdown"}, []string{"/wait-shutdown"}},
		{[]string{"/nginx-ingress-controller", "--", "x"}, []string{"/nginx-ingress-controller", "--", "x"}},
		{[]string{"--single-child", "--"}, []string{}},
	} {
		if got := dumbInitCommand(tc.args); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("dumbInitCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
