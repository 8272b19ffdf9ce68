package translate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/minaks/minaks/images/internal/l7"
)

// The class and namespaces of the conformance suite's base manifests, which the tests
// re-create (tests/base of sigs.k8s.io/gateway-api/conformance v1.5.1).
const (
	testClass = "approuting-istio"
	infra     = "gateway-conformance-infra"
	appNS     = "gateway-conformance-app-backend"
	webNS     = "gateway-conformance-web-backend"
)

// baseManifests are the objects every test starts from: the namespaces, the GatewayClass,
// the four Gateways of the suite's base and the backend Services (their EndpointSlices are
// made by addEndpoints).
const baseManifests = `
kind: Namespace
metadata: {name: gateway-conformance-infra, labels: {gateway-conformance: infra}}
---
kind: Namespace
metadata: {name: gateway-conformance-app-backend, labels: {gateway-conformance: backend}}
---
kind: Namespace
metadata: {name: gateway-conformance-web-backend, labels: {gateway-conformance: web-backend}}
---
kind: GatewayClass
metadata: {name: approuting-istio, generation: 1}
spec: {controllerName: istio.io/gateway-controller}
---
kind: Gateway
metadata: {name: same-namespace, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
---
kind: Gateway
metadata: {name: same-namespace-with-https-listener, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    allowedRoutes: {namespaces: {from: Same}}
    tls: {certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: gateway-conformance-infra}]}
  - name: https-with-hostname
    port: 443
    hostname: second-example.org
    protocol: HTTPS
    allowedRoutes: {namespaces: {from: Same}}
    tls: {certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: gateway-conformance-infra}]}
  - name: https-with-wildcard-hostname
    port: 443
    hostname: "*.wildcard.org"
    protocol: HTTPS
    allowedRoutes: {namespaces: {from: Same}}
    tls: {certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: gateway-conformance-infra}]}
---
kind: Gateway
metadata: {name: all-namespaces, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
kind: Gateway
metadata: {name: backend-namespaces, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {gateway-conformance: backend}}}}
---
kind: Service
metadata: {name: infra-backend-v1, namespace: gateway-conformance-infra}
spec:
  ports:
  - {name: first-port, port: 8080, targetPort: 3000, protocol: TCP}
  - {name: second-port, port: 8081, targetPort: 3001, protocol: TCP, appProtocol: kubernetes.io/h2c}
  - {name: third-port, port: 8082, targetPort: 3000, protocol: TCP, appProtocol: kubernetes.io/ws}
---
kind: Service
metadata: {name: infra-backend-v2, namespace: gateway-conformance-infra}
spec: {ports: [{port: 8080, targetPort: 3000, protocol: TCP}]}
---
kind: Service
metadata: {name: infra-backend-v3, namespace: gateway-conformance-infra}
spec: {ports: [{port: 8080, targetPort: 3000, protocol: TCP}]}
---
kind: Service
metadata: {name: app-backend-v1, namespace: gateway-conformance-app-backend}
spec: {ports: [{port: 8080, targetPort: 3000, protocol: TCP}]}
---
kind: Service
metadata: {name: app-backend-v2, namespace: gateway-conformance-app-backend}
spec: {ports: [{port: 8080, targetPort: 3000, protocol: TCP}]}
---
kind: Service
metadata: {name: web-backend, namespace: gateway-conformance-web-backend}
spec: {ports: [{port: 8080, targetPort: 3000, protocol: TCP}]}
---
kind: Service
metadata: {name: grpc-infra-backend-v1, namespace: gateway-conformance-infra}
spec: {ports: [{port: 8080, targetPort: 3000, protocol: TCP, appProtocol: kubernetes.io/h2c}]}
---
kind: Service
metadata: {name: grpc-infra-backend-v2, namespace: gateway-conformance-infra}
spec: {ports: [{port: 8080, targetPort: 3000, protocol: TCP, appProtocol: kubernetes.io/h2c}]}
`

// load decodes YAML manifests (documents separated by "---") into a State.
func load(t testing.TB, manifests ...string) *State {
	t.Helper()
	st := &State{}
	for _, m := range manifests {
		for _, doc := range strings.Split(m, "\n---\n") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("decode manifest kind: %v\n%s", err, doc)
			}
			into := func(obj any) {
				if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
					t.Fatalf("decode %s: %v\n%s", head.Kind, err, doc)
				}
			}
			switch head.Kind {
			case "Namespace":
				o := &corev1.Namespace{}
				into(o)
				st.Namespaces = append(st.Namespaces, o)
			case "GatewayClass":
				o := &gatewayv1.GatewayClass{}
				into(o)
				st.GatewayClasses = append(st.GatewayClasses, o)
			case "Gateway":
				o := &gatewayv1.Gateway{}
				into(o)
				st.Gateways = append(st.Gateways, o)
			case "HTTPRoute":
				o := &gatewayv1.HTTPRoute{}
				into(o)
				st.HTTPRoutes = append(st.HTTPRoutes, o)
			case "GRPCRoute":
				o := &gatewayv1.GRPCRoute{}
				into(o)
				st.GRPCRoutes = append(st.GRPCRoutes, o)
			case "ReferenceGrant":
				o := &gatewayv1beta1.ReferenceGrant{}
				into(o)
				st.ReferenceGrants = append(st.ReferenceGrants, o)
			case "Service":
				o := &corev1.Service{}
				into(o)
				st.Services = append(st.Services, o)
			case "EndpointSlice":
				o := &discoveryv1.EndpointSlice{}
				into(o)
				st.EndpointSlices = append(st.EndpointSlices, o)
			case "Secret":
				o := &corev1.Secret{}
				into(o)
				st.Secrets = append(st.Secrets, o)
			default:
				t.Fatalf("manifest of unknown kind %q:\n%s", head.Kind, doc)
			}
		}
	}
	return st
}

// fakeEndpoints gives every Service port one ready endpoint, 10.244.<n>.<m>:<target port>
// (n numbers the Service), in an EndpointSlice per Service.
func fakeEndpoints(st *State) {
	for i, svc := range st.Services {
		addEndpoints(st, svc, func(port corev1.ServicePort) netip.AddrPort {
			addr := netip.AddrFrom4([4]byte{10, 244, byte(i), 10})
			return netip.AddrPortFrom(addr, uint16(port.TargetPort.IntValue()))
		})
	}
}

// addEndpoints adds an EndpointSlice for svc with one endpoint per port, at the address
// endpoint gives (all ports of a Service must share an address).
func addEndpoints(st *State, svc *corev1.Service, endpoint func(corev1.ServicePort) netip.AddrPort) {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	var addr netip.Addr
	for _, p := range svc.Spec.Ports {
		ap := endpoint(p)
		addr = ap.Addr()
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(int32(ap.Port())), Protocol: ptr.To(corev1.ProtocolTCP)})
	}
	es.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{addr.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}
	st.EndpointSlices = append(st.EndpointSlices, es)
}

// testCert makes a self-signed certificate for hosts and returns it as a kubernetes.io/tls
// Secret with the certificate, its pool and PEM.
func testCert(t testing.TB, ns, name string, hosts ...string) (*corev1.Secret, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: hosts[0]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              hosts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		},
	}, pool
}

// base is the base manifests plus more, with fake endpoints and the suite's certificate
// Secrets (tls-validity-checks-certificate for "*", "*.org" and "*.wildcard.org", and a
// Secret "certificate" in each backend namespace, as the suite makes them).
func base(t testing.TB, manifests ...string) *State {
	t.Helper()
	st := load(t, append([]string{baseManifests}, manifests...)...)
	fakeEndpoints(st)
	secret, _ := testCert(t, infra, "tls-validity-checks-certificate", "*", "*.org", "*.wildcard.org")
	web, _ := testCert(t, webNS, "certificate", "*")
	app, _ := testCert(t, appNS, "certificate", "*")
	st.Secrets = append(st.Secrets, secret, web, app)
	return st
}

func testOptions() Options {
	return Options{ControllerName: DefaultControllerName}
}

// translate runs Translate with every Gateway ready at 192.0.2.1.
func translate(st *State) *Result {
	return Translate(testOptions(), st, func(types.NamespacedName) ([]gatewayv1.GatewayStatusAddress, bool) {
		return []gatewayv1.GatewayStatusAddress{{Type: ptr.To(gatewayv1.IPAddressType), Value: "192.0.2.1"}}, true
	})
}

// nn is a NamespacedName in the infra namespace.
func nn(name string) types.NamespacedName { return types.NamespacedName{Namespace: infra, Name: name} }

// listener returns the l7 listener of a Gateway's port.
func listenerOf(t testing.TB, res *Result, gw types.NamespacedName, port int) *l7.Listener {
	t.Helper()
	cfg := res.Configs[gw]
	if cfg == nil {
		t.Fatalf("no configuration for Gateway %s", gw)
	}
	for _, l := range cfg.Listeners {
		if l.Addr == fmt.Sprintf(":%d", port) {
			return l
		}
	}
	t.Fatalf("Gateway %s has no listener on port %d:\n%s", gw, port, Dump(cfg))
	return nil
}

// req describes a request for route selection: "GET host/path?query" with headers.
type req struct {
	method, host, path string
	header             map[string]string
}

// selectBackend is what the proxy does with a request on a Gateway's port, as text: the
// Service of the chosen route's single backend ("infra-backend-v1"), "404", "500" (an
// invalid backend or a fixed answer) or "redirect".
func selectBackend(t testing.TB, res *Result, gw types.NamespacedName, port int, r req) string {
	t.Helper()
	l := listenerOf(t, res, gw, port)
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.ParseRequestURI(r.path)
	if err != nil {
		t.Fatalf("parse %q: %v", r.path, err)
	}
	hr := httptest.NewRequest(method, u.String(), nil)
	hr.Host = r.host
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	_, rt, _ := l7.Select(l, hr)
	return outcome(res.Configs[gw], rt)
}

// outcome describes a route's action.
func outcome(cfg *l7.Config, rt *l7.Route) string {
	switch {
	case rt == nil:
		return "404"
	case rt.Redirect != nil:
		return "redirect"
	case rt.Respond != nil:
		return fmt.Sprint(rt.Respond.Code)
	case len(rt.Backends) == 1 && rt.Backends[0].Status != 0:
		return fmt.Sprint(rt.Backends[0].Status)
	}
	var names []string
	for _, b := range rt.Backends {
		if b.Weight == 0 {
			continue
		}
		if b.Status != 0 {
			names = append(names, fmt.Sprint(b.Status))
			continue
		}
		names = append(names, cfg.Upstreams[b.Upstream].Service)
	}
	return strings.Join(names, "+")
}

// findCondition returns the condition of a type, or fails.
func findCondition(t testing.TB, conds []metav1.Condition, typ string) metav1.Condition {
	t.Helper()
	for _, c := range conds {
		if c.Type == typ {
			return c
		}
	}
	t.Fatalf("no %s condition in %+v", typ, conds)
	return metav1.Condition{}
}

// condString is "Type=Status/Reason".
func condString(c metav1.Condition) string {
	return fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason)
}

// routeConds lists a route's conditions for one parent Gateway as "Type=Status/Reason".
func routeConds(t testing.TB, parents []gatewayv1.RouteParentStatus, gw types.NamespacedName) []string {
	t.Helper()
	var out []string
	for _, p := range parents {
		ns := ""
		if p.ParentRef.Namespace != nil {
			ns = string(*p.ParentRef.Namespace)
		}
		if string(p.ParentRef.Name) != gw.Name || (ns != "" && ns != gw.Namespace) {
			continue
		}
		for _, c := range p.Conditions {
			out = append(out, condString(c))
		}
	}
	return out
}

// listenerSummary is "name attached=N Type=Status/Reason ..." for each listener.
func listenerSummary(st gatewayv1.GatewayStatus) []string {
	var out []string
	for _, l := range st.Listeners {
		s := fmt.Sprintf("%s attached=%d kinds=", l.Name, l.AttachedRoutes)
		var kinds []string
		for _, k := range l.SupportedKinds {
			kinds = append(kinds, string(k.Kind))
		}
		s += strings.Join(kinds, ",")
		for _, c := range l.Conditions {
			s += " " + condString(c)
		}
		out = append(out, s)
	}
	return out
}

// tlsClientConfig trusts pool and asks for serverName.
func tlsClientConfig(pool *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{RootCAs: pool, ServerName: serverName}
}
