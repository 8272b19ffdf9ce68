package translate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/images/internal/l7"
)

// The class of AKS's app routing add-on.
const (
	testClass      = "webapprouting.kubernetes.azure.com"
	testController = "webapprouting.kubernetes.azure.com/nginx"
)

// aksConfigMap is the ConfigMap the add-on deploys.
var aksConfigMap = map[string]string{
	"allow-snippet-annotations":       "true",
	"annotations-risk-level":          "Critical",
	"allow-cross-namespace-resources": "true",
	"annotation-value-word-blocklist": "load_module,lua_package,_by_lua,location,root,proxy_pass,serviceaccount,{,},'",
}

func testOptions() Options {
	return Options{
		IngressClass:               testClass,
		ControllerClass:            testController,
		EnableAnnotationValidation: true,
		FakeCertificate:            fakeCert(),
	}
}

// base is a cluster with the add-on's IngressClass and three backends: web (two pods), api
// and canary.
func base() *State {
	st := &State{
		IngressClasses: []*networkingv1.IngressClass{{
			ObjectMeta: metav1.ObjectMeta{Name: testClass},
			Spec:       networkingv1.IngressClassSpec{Controller: testController},
		}},
		ConfigMap: aksConfigMap,
	}
	st.addBackend("web", 80, 8080, "10.244.0.10", "10.244.1.11")
	st.addBackend("api", 80, 9090, "10.244.1.20")
	st.addBackend("canary", 80, 8080, "10.244.2.30")
	return st
}

// addBackend adds a Service in "default" with one named port and its EndpointSlice.
func (st *State) addBackend(name string, port, target int32, ips ...string) {
	st.Services = append(st.Services, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.0.0." + string(rune('0'+len(st.Services)+1)),
			Ports:     []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}},
		},
	})
	var eps []discoveryv1.Endpoint
	for _, ip := range ips {
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	st.EndpointSlices = append(st.EndpointSlices, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name + "-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(target), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints:   eps,
	})
}

// with returns a copy of the state with more Ingresses and Secrets.
func (st *State) with(objs ...any) *State {
	c := *st
	c.Ingresses = append([]*networkingv1.Ingress(nil), st.Ingresses...)
	c.Secrets = append([]*corev1.Secret(nil), st.Secrets...)
	for _, o := range objs {
		switch o := o.(type) {
		case *networkingv1.Ingress:
			c.Ingresses = append(c.Ingresses, o)
		case *corev1.Secret:
			c.Secrets = append(c.Secrets, o)
		default:
			panic("unexpected object")
		}
	}
	return &c
}

type ingMod func(*networkingv1.Ingress)

// ingress makes an Ingress of the add-on's class in "default", created at a time that
// follows the order of calls unless created() says otherwise.
var ingressClock = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ingress(name string, mods ...ingMod) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Generation: 1,
			CreationTimestamp: metav1.NewTime(ingressClock)},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To(testClass)},
	}
	for _, m := range mods {
		m(ing)
	}
	return ing
}

func created(minute int) ingMod {
	return func(ing *networkingv1.Ingress) {
		ing.CreationTimestamp = metav1.NewTime(ingressClock.Add(time.Duration(minute) * time.Minute))
	}
}

func namespace(ns string) ingMod { return func(ing *networkingv1.Ingress) { ing.Namespace = ns } }

func className(c *string) ingMod {
	return func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = c }
}

// ann sets an annotation; a name without "/" gets ingress-nginx's prefix.
func ann(k, v string) ingMod {
	return func(ing *networkingv1.Ingress) {
		if !strings.Contains(k, "/") {
			k = "nginx.ingress.kubernetes.io/" + k
		}
		if ing.Annotations == nil {
			ing.Annotations = map[string]string{}
		}
		ing.Annotations[k] = v
	}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) ingMod {
	return func(ing *networkingv1.Ingress) {
		r := networkingv1.IngressRule{Host: host}
		if len(paths) > 0 {
			r.HTTP = &networkingv1.HTTPIngressRuleValue{Paths: paths}
		}
		ing.Spec.Rules = append(ing.Spec.Rules, r)
	}
}

// path is a path to a Service port by number; pathType "" leaves it unset.
func path(p, pathType, svc string, port int32) networkingv1.HTTPIngressPath {
	hp := networkingv1.HTTPIngressPath{Path: p, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: svc, Port: networkingv1.ServiceBackendPort{Number: port}}}}
	if pathType != "" {
		pt := networkingv1.PathType(pathType)
		hp.PathType = &pt
	}
	return hp
}

func defaultBackend(svc string, port int32) ingMod {
	return func(ing *networkingv1.Ingress) {
		ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: svc, Port: networkingv1.ServiceBackendPort{Number: port}}}
	}
}

func tlsFor(secret string, hosts ...string) ingMod {
	return func(ing *networkingv1.Ingress) {
		ing.Spec.TLS = append(ing.Spec.TLS, networkingv1.IngressTLS{Hosts: hosts, SecretName: secret})
	}
}

// tlsSecret makes a kubernetes.io/tls Secret in "default" with a certificate for the names.
func tlsSecret(name string, dnsNames ...string) *corev1.Secret {
	crt, key := certPEM(dnsNames[0], dnsNames)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}
}

var (
	certMu    sync.Mutex
	certMemo  = map[string][2][]byte{}
	fakeOnce  sync.Once
	fakeValue *tls.Certificate
)

// certPEM makes (once per name set) a self-signed certificate and its key.
func certPEM(cn string, dnsNames []string) (crt, key []byte) {
	certMu.Lock()
	defer certMu.Unlock()
	id := cn + "|" + strings.Join(dnsNames, ",")
	if v, ok := certMemo[id]; ok {
		return v[0], v[1]
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     dnsNames,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		panic(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err)
	}
	crt = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	key = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	certMemo[id] = [2][]byte{crt, key}
	return crt, key
}

// fakeCert stands for the controller's fake certificate.
func fakeCert() *tls.Certificate {
	fakeOnce.Do(func() {
		crt, key := certPEM("Kubernetes Ingress Controller Fake Certificate", []string{"ingress.local"})
		c, err := tls.X509KeyPair(crt, key)
		if err != nil {
			panic(err)
		}
		c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
		fakeValue = &c
	})
	return fakeValue
}

// request is a request for selectRoute.
type request struct {
	https   bool
	host    string
	path    string
	headers map[string]string
	cookies map[string]string
}

// selectRoute picks the route that serves a request on the HTTP or HTTPS listener, with the
// proxy's own decision (l7.Select).
func selectRoute(t *testing.T, cfg *l7.Config, rq request) *l7.Route {
	t.Helper()
	l := cfg.Listeners[0]
	if rq.https {
		l = cfg.Listeners[1]
	}
	hr, err := http.NewRequest("GET", "http://"+rq.host+rq.path, nil)
	if err != nil {
		t.Fatalf("make request: %v", err)
	}
	for k, v := range rq.headers {
		hr.Header.Set(k, v)
	}
	for k, v := range rq.cookies {
		hr.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	_, r, _ := l7.Select(l, hr)
	return r
}

// externalName is an ExternalName Service in "default".
func externalName(name, target string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(80)}}},
	}
}
