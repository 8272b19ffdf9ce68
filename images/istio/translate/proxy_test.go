package translate

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/minaks/minaks/images/internal/l7"
)

// echoed is what an echo backend saw of a request, as the conformance suite's echo-basic
// reports it.
type echoed struct {
	Service   string
	Namespace string
	Method    string
	Path      string
	Host      string
	Proto     string
	Headers   http.Header
}

// echoHandler answers with what it saw; ?delay=1s waits first; an Upgrade request is
// switched and its bytes echoed back (a WebSocket echo without framing).
func echoHandler(svc *corev1.Service, seen *requestLog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		seen.add(svc.Name, r.URL.Path)
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
			time.Sleep(d)
		}
		if r.Header.Get("Upgrade") != "" {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", r.Header.Get("Upgrade"))
			rw.Flush()
			_, _ = io.Copy(conn, rw)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server", "echo")
		// As echo-basic: X-Echo-Set-Header "name:value,name:value" sets response headers.
		for _, kv := range strings.Split(r.Header.Get("X-Echo-Set-Header"), ",") {
			if k, v, ok := strings.Cut(kv, ":"); ok {
				w.Header().Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		_ = json.NewEncoder(w).Encode(echoed{Service: svc.Name, Namespace: svc.Namespace, Method: r.Method,
			Path: r.RequestURI, Host: r.Host, Proto: r.Proto, Headers: r.Header})
	}
}

// requestLog records which Service got which path (for mirrors).
type requestLog struct {
	mu   sync.Mutex
	seen map[string][]string
}

func (l *requestLog) add(svc, path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string][]string{}
	}
	l.seen[svc] = append(l.seen[svc], path)
}

func (l *requestLog) count(svc, path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.seen[svc] {
		if p == path {
			n++
		}
	}
	return n
}

// liveGateway is a Gateway's proxy serving on loopback, in front of echo backends.
type liveGateway struct {
	t     *testing.T
	proxy *l7.Proxy
	res   *Result
	seen  *requestLog
	pool  *x509.CertPool
}

// startGateway translates the base manifests plus more with every Service backed by echo
// servers on loopback (gRPC health servers for the grpc-* Services: v1 reports "which" as
// SERVING, v2 as NOT_SERVING), and serves Gateway gw's configuration with an l7.Proxy whose
// listeners are on free loopback ports.
func startGateway(t *testing.T, gw string, manifests ...string) *liveGateway {
	t.Helper()
	st := load(t, append([]string{baseManifests}, manifests...)...)
	secret, pool := testCert(t, infra, "tls-validity-checks-certificate", "*.org", "*.wildcard.org", "example.org", "second-example.org")
	st.Secrets = append(st.Secrets, secret)
	lg := &liveGateway{t: t, seen: &requestLog{}, pool: pool}
	for _, svc := range st.Services {
		ports := map[string]netip.AddrPort{}
		for _, p := range svc.Spec.Ports {
			ports[p.Name] = lg.backend(svc, p)
		}
		addEndpoints(st, svc, func(p corev1.ServicePort) netip.AddrPort { return ports[p.Name] })
	}
	lg.res = translate(st)
	cfg := lg.res.Configs[nn(gw)]
	if cfg == nil {
		t.Fatalf("no configuration for Gateway %s", gw)
	}
	lg.proxy = l7.New(l7.Options{
		Listen: func(ctx context.Context, network, _ string) (net.Listener, error) {
			var lc net.ListenConfig
			return lc.Listen(ctx, network, "127.0.0.1:0")
		},
		DrainTimeout: time.Second,
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = lg.proxy.Shutdown(ctx)
	})
	if err := lg.proxy.Update(cfg); err != nil {
		t.Fatalf("load the configuration of %s: %v\n%s", gw, err, Dump(cfg))
	}
	return lg
}

// backend starts the server of one Service port and returns its address.
func (lg *liveGateway) backend(svc *corev1.Service, p corev1.ServicePort) netip.AddrPort {
	t := lg.t
	if strings.HasPrefix(svc.Name, "grpc-") {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		s := grpc.NewServer()
		h := health.NewServer()
		if strings.HasSuffix(svc.Name, "v1") {
			h.SetServingStatus("which", healthpb.HealthCheckResponse_SERVING)
		} else {
			h.SetServingStatus("which", healthpb.HealthCheckResponse_NOT_SERVING)
		}
		healthpb.RegisterHealthServer(s, h)
		go func() { _ = s.Serve(ln) }()
		t.Cleanup(s.Stop)
		return netip.MustParseAddrPort(ln.Addr().String())
	}
	s := httptest.NewUnstartedServer(echoHandler(svc, lg.seen))
	if p.AppProtocol != nil && *p.AppProtocol == "kubernetes.io/h2c" {
		// Only HTTP/2 with prior knowledge: an HTTP/1.1 request would fail.
		s.Config.Protocols = new(http.Protocols)
		s.Config.Protocols.SetUnencryptedHTTP2(true)
	}
	s.Start()
	t.Cleanup(s.Close)
	return netip.MustParseAddrPort(s.Listener.Addr().String())
}

// addr is the loopback address of the proxy's listener for a Gateway port.
func (lg *liveGateway) addr(port int) string {
	for _, name := range []string{fmt.Sprintf("http-%d", port), fmt.Sprintf("https-%d", port)} {
		if a := lg.proxy.Addr(name); a != nil {
			return a.String()
		}
	}
	lg.t.Fatalf("no listener for port %d", port)
	return ""
}

// response is what the client got.
type response struct {
	status int
	header http.Header
	body   string
	echo   echoed
}

// do sends a request to a Gateway port (80 unless port is set) without following
// redirects.
func (lg *liveGateway) do(r req, port int) response {
	lg.t.Helper()
	if port == 0 {
		port = 80
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{DisableKeepAlives: true},
	}
	scheme := "http"
	if lg.proxy.Addr(fmt.Sprintf("https-%d", port)) != nil {
		scheme = "https"
		host, _, _ := strings.Cut(r.host, ":")
		client.Transport = &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: lg.pool, ServerName: host}}
	}
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	hr, err := http.NewRequest(method, scheme+"://"+lg.addr(port)+r.path, nil)
	if err != nil {
		lg.t.Fatalf("new request: %v", err)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := client.Do(hr)
	if err != nil {
		lg.t.Fatalf("%s %s%s: %v", method, r.host, r.path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, body: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(body, &out.echo)
	}
	return out
}

// TestProxyFilters sends requests through the proxy serving the translation, as the
// conformance tests of the same names do, and checks what the backend saw and what the client
// got.
func TestProxyFilters(t *testing.T) {
	lg := startGateway(t, "same-namespace", `
kind: HTTPRoute
metadata: {name: filters, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /set}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}]}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /add}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: X-Header-Add, value: add-appends-values}]}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /remove}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {remove: [X-Header-Remove]}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /response}}]
    filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], add: [{name: X-Header-Add, value: add-appends-values}], remove: [X-Header-Remove]}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /prefix/one}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /one}}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /strip-prefix}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /full/one}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: one.example.org, path: {type: ReplaceFullPath, replaceFullPath: /one}}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /backend-headers}}]
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Backend, value: infra-backend-v1}]}}]
    - name: infra-backend-v2
      port: 8080
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Backend, value: infra-backend-v2}]}}]
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: infra-backend-v2, port: 8080}}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: infra-backend-v3, port: 8080}, percent: 0}}
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /request-timeout}}]
    timeouts: {request: 100ms}
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /disable-request-timeout}}]
    timeouts: {request: 0s}
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /backend-timeout}}]
    timeouts: {backendRequest: 100ms}
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /h2c}}]
    backendRefs: [{name: infra-backend-v1, port: 8081}]
  - matches: [{path: {type: PathPrefix, value: /invalid}}]
    backendRefs: [{name: nonexistent, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /v2}}]
    backendRefs: [{name: app-backend-v2, namespace: gateway-conformance-app-backend, port: 8080}]
  - backendRefs: [{name: app-backend-v1, namespace: gateway-conformance-app-backend, port: 8080}]
---
kind: ReferenceGrant
metadata: {name: invalid-reference-grant, namespace: gateway-conformance-app-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Service, name: app-backend-v1}]
`)
	t.Run("HTTPRouteRequestHeaderModifier: set overwrites, add appends, remove removes, names case-insensitive", func(t *testing.T) {
		r := lg.do(req{path: "/set", header: map[string]string{"Some-Other-Header": "val", "x-header-set": "some-other-value"}}, 0)
		if r.echo.Headers.Get("X-Header-Set") != "set-overwrites-values" || r.echo.Headers.Get("Some-Other-Header") != "val" {
			t.Errorf("set: backend saw %v", r.echo.Headers)
		}
		r = lg.do(req{path: "/add", header: map[string]string{"X-Header-Add": "some-other-value"}}, 0)
		if got := strings.Join(r.echo.Headers.Values("X-Header-Add"), ","); got != "some-other-value,add-appends-values" {
			t.Errorf("add: backend saw %q", got)
		}
		r = lg.do(req{path: "/remove", header: map[string]string{"x-header-remove": "val"}}, 0)
		if _, ok := r.echo.Headers["X-Header-Remove"]; ok || r.status != 200 {
			t.Errorf("remove: status %d, backend saw %v", r.status, r.echo.Headers)
		}
	})
	t.Run("Istio gateway forwarding headers: X-Forwarded-For and -Proto, a UUID request id, Server istio-envoy", func(t *testing.T) {
		r := lg.do(req{path: "/set", header: map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Request-Id": "mine", "X-Envoy-Original-Path": "/x"}}, 0)
		h := r.echo.Headers
		if h.Get("X-Forwarded-For") != "203.0.113.7, 127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Envoy-External-Address") != "127.0.0.1" {
			t.Errorf("forwarding headers: %v", h)
		}
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(h.Get("X-Request-Id")) {
			t.Errorf("X-Request-Id %q is not a new UUID", h.Get("X-Request-Id"))
		}
		for _, k := range []string{"X-Real-Ip", "X-Forwarded-Host", "X-Envoy-Original-Path"} {
			if _, ok := h[k]; ok {
				t.Errorf("backend got %s", k)
			}
		}
		if r.header.Get("Server") != "istio-envoy" || r.header.Get("X-Envoy-Upstream-Service-Time") == "" {
			t.Errorf("response headers %v", r.header)
		}
	})
	t.Run("HTTPRouteResponseHeaderModifier: set, add and remove on the response", func(t *testing.T) {
		r := lg.do(req{path: "/response", header: map[string]string{"X-Echo-Set-Header": "X-Header-Set: original, X-Header-Add: original, X-Header-Remove: gone"}}, 0)
		if r.header.Get("X-Header-Set") != "set-overwrites-values" || strings.Join(r.header.Values("X-Header-Add"), ",") != "original,add-appends-values" {
			t.Errorf("response headers %v", r.header)
		}
		if _, ok := r.header["X-Header-Remove"]; ok {
			t.Errorf("X-Header-Remove not removed: %v", r.header)
		}
	})
	t.Run("HTTPRouteRewritePath and HTTPRouteRewriteHost", func(t *testing.T) {
		for path, want := range map[string]string{"/prefix/one/two": "/one/two", "/strip-prefix/three": "/three", "/strip-prefix": "/", "/full/one/two": "/one"} {
			if r := lg.do(req{path: path}, 0); r.echo.Path != want {
				t.Errorf("%s: backend saw %q, want %q", path, r.echo.Path, want)
			}
		}
		if r := lg.do(req{path: "/full/one/two"}, 0); r.echo.Host != "one.example.org" {
			t.Errorf("host rewrite: backend saw Host %q", r.echo.Host)
		}
	})
	t.Run("HTTPRouteBackendRequestHeaderModifier with weights: each backend's own filter", func(t *testing.T) {
		got := map[string]bool{}
		for i := 0; i < 40; i++ {
			r := lg.do(req{path: "/backend-headers"}, 0)
			if r.echo.Headers.Get("Backend") != r.echo.Service {
				t.Fatalf("backend %s saw Backend: %q", r.echo.Service, r.echo.Headers.Get("Backend"))
			}
			got[r.echo.Service] = true
		}
		if !got["infra-backend-v1"] || !got["infra-backend-v2"] {
			t.Errorf("40 requests reached only %v", got)
		}
	})
	t.Run("HTTPRouteRequestMirror and HTTPRouteRequestPercentageMirror: 100 % mirrored, 0 % never", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if r := lg.do(req{path: "/mirror"}, 0); r.echo.Service != "infra-backend-v1" {
				t.Fatalf("answered by %q", r.echo.Service)
			}
		}
		deadline := time.Now().Add(2 * time.Second)
		for lg.seen.count("infra-backend-v2", "/mirror") < 3 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := lg.seen.count("infra-backend-v2", "/mirror"); n != 3 {
			t.Errorf("the mirror got %d of 3 requests", n)
		}
		if n := lg.seen.count("infra-backend-v3", "/mirror"); n != 0 {
			t.Errorf("the 0 %% mirror got %d requests", n)
		}
	})
	t.Run("HTTPRouteTimeoutRequest and HTTPRouteTimeoutBackendRequest: 504 after the timeout, 0s disables", func(t *testing.T) {
		// The conformance tests use 500ms and a 1s delay; shorter here for speed.
		for _, c := range []struct {
			path string
			code int
		}{
			{"/request-timeout", 200}, {"/request-timeout?delay=300ms", 504}, {"/disable-request-timeout?delay=300ms", 200},
			{"/backend-timeout", 200}, {"/backend-timeout?delay=300ms", 504},
		} {
			if r := lg.do(req{path: c.path}, 0); r.status != c.code {
				t.Errorf("%s: %d, want %d", c.path, r.status, c.code)
			}
		}
	})
	t.Run("HTTPRouteBackendProtocolH2C: HTTP/1.1 and h2c clients reach an h2c-only backend", func(t *testing.T) {
		if r := lg.do(req{path: "/h2c"}, 0); r.status != 200 || r.echo.Proto != "HTTP/2.0" {
			t.Errorf("HTTP/1.1 client: %d, backend saw %q", r.status, r.echo.Proto)
		}
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + lg.addr(80) + "/h2c")
		if err != nil {
			t.Fatalf("h2c request: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Errorf("h2c client: %d over %s", resp.StatusCode, resp.Proto)
		}
	})
	t.Run("HTTPRouteInvalidNonExistentBackendRef and HTTPRoutePartiallyInvalidViaInvalidReferenceGrant: 500, sibling served", func(t *testing.T) {
		if r := lg.do(req{path: "/invalid"}, 0); r.status != 500 {
			t.Errorf("/invalid: %d", r.status)
		}
		if r := lg.do(req{path: "/v2"}, 0); r.status != 500 {
			t.Errorf("/v2 (no grant): %d", r.status)
		}
		if r := lg.do(req{path: "/"}, 0); r.status != 200 || r.echo.Service != "app-backend-v1" || r.echo.Namespace != appNS {
			t.Errorf("/ (granted): %d from %s/%s", r.status, r.echo.Namespace, r.echo.Service)
		}
	})
}

// TestProxyRedirects checks Location headers as HTTPRouteRedirect* conformance tests do,
// including the port rules on an 8080 and a 443 listener.
func TestProxyRedirects(t *testing.T) {
	lg := startGateway(t, "redirects", `
kind: Gateway
metadata: {name: redirects, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: http-8080, port: 8080, protocol: HTTP}
  - name: https
    port: 443
    protocol: HTTPS
    tls: {certificateRefs: [{name: tls-validity-checks-certificate}]}
---
kind: HTTPRoute
metadata: {name: redirect, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: redirects}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /hostname-redirect}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]
  - matches: [{path: {type: PathPrefix, value: /host-and-status}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, statusCode: 301}}]
  - matches: [{path: {type: PathPrefix, value: /original-prefix}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}}]
  - matches: [{path: {type: PathPrefix, value: /full}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}}]
  - matches: [{path: {type: PathPrefix, value: /port}}]
    filters: [{type: RequestRedirect, requestRedirect: {port: 8083}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-and-host}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: example.org}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-nil-and-port-nil}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-nil-and-port-80}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, port: 80}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-https-and-port-8443}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: example.org, port: 8443}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-http-and-port-nil}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: http, hostname: example.org}}]
  - matches: [{path: {type: PathPrefix, value: /status-303}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 303}}]
`)
	cases := []struct {
		port     int
		host     string
		path     string
		code     int
		location string
	}{
		{80, "gw.example", "/hostname-redirect", 302, "http://example.org/hostname-redirect"},
		{80, "gw.example", "/host-and-status", 301, "http://example.org/host-and-status"},
		{80, "gw.example", "/original-prefix/lemon?q=1", 302, "http://gw.example/replacement-prefix/lemon?q=1"},
		{80, "gw.example", "/full/path/original", 302, "http://gw.example/full-path-replacement"},
		{80, "gw.example", "/port", 302, "http://gw.example:8083/port"},
		{80, "gw.example", "/scheme-and-host", 302, "https://example.org/scheme-and-host"},
		{80, "gw.example", "/status-303", 303, "http://gw.example/status-303"},
		{8080, "gw.example:8080", "/scheme-nil-and-port-nil", 302, "http://example.org:8080/scheme-nil-and-port-nil"},
		{8080, "gw.example:8080", "/scheme-nil-and-port-80", 302, "http://example.org/scheme-nil-and-port-80"},
		{8080, "gw.example:8080", "/scheme-and-host", 302, "https://example.org/scheme-and-host"},
		{443, "example.org", "/scheme-nil-and-port-nil", 302, "https://example.org/scheme-nil-and-port-nil"},
		{443, "example.org", "/scheme-https-and-port-8443", 302, "https://example.org:8443/scheme-https-and-port-8443"},
		{443, "example.org", "/scheme-http-and-port-nil", 302, "http://example.org/scheme-http-and-port-nil"},
	}
	for _, c := range cases {
		r := lg.do(req{host: c.host, path: c.path}, c.port)
		if r.status != c.code || r.header.Get("Location") != c.location {
			t.Errorf("port %d %s%s: %d %q, want %d %q", c.port, c.host, c.path, r.status, r.header.Get("Location"), c.code, c.location)
		}
	}
}

// TestProxyTLSAndWebSocket checks TLS termination by SNI (HTTPRouteHTTPSListener) and a
// WebSocket through an appProtocol kubernetes.io/ws port (HTTPRouteBackendProtocolWebSocket).
func TestProxyTLSAndWebSocket(t *testing.T) {
	lg := startGateway(t, "same-namespace-with-https-listener", `
kind: HTTPRoute
metadata: {name: httproute-https-test, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace-with-https-listener}]
  hostnames: [example.org]
  rules:
  - matches: [{path: {type: PathPrefix, value: /ws}}]
    backendRefs: [{name: infra-backend-v1, port: 8082}]
  - backendRefs: [{name: infra-backend-v1, port: 8080}]
---
kind: HTTPRoute
metadata: {name: httproute-https-test-no-hostname, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace-with-https-listener, sectionName: https-with-hostname}]
  rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]
`)
	for host, want := range map[string]string{"example.org": "infra-backend-v1", "second-example.org": "infra-backend-v2", "unknown-example.org": ""} {
		r := lg.do(req{host: host, path: "/"}, 443)
		if r.echo.Service != want || (want == "" && r.status != 404) {
			t.Errorf("%s: %d from %q, want %q", host, r.status, r.echo.Service, want)
		}
		if want != "" && r.echo.Headers.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("%s: X-Forwarded-Proto %q", host, r.echo.Headers.Get("X-Forwarded-Proto"))
		}
	}

	conn, err := tls.Dial("tcp", lg.addr(443), &tls.Config{RootCAs: lg.pool, ServerName: "example.org", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: example.org\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprint(conn, "Websocket Support!")
	buf := make([]byte, len("Websocket Support!"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "Websocket Support!" {
		t.Errorf("echo through the upgraded connection: %q %v", buf, err)
	}
}

// TestProxyGRPC calls a gRPC service through the proxy over h2c, as the GRPCRoute
// conformance tests do: method and header matches, and UNAVAILABLE for an invalid backend.
func TestProxyGRPC(t *testing.T) {
	lg := startGateway(t, "same-namespace", `
kind: GRPCRoute
metadata: {name: grpc, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{method: {service: grpc.health.v1.Health, method: Check}, headers: [{name: version, value: two}]}]
    backendRefs: [{name: grpc-infra-backend-v2, port: 8080}]
  - matches: [{method: {service: grpc.health.v1.Health, method: Check}}]
    backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]
  - matches: [{method: {service: grpc.health.v1.Health, method: Watch}}]
    backendRefs: [{name: missing, port: 8080}]
`)
	conn, err := grpc.NewClient(lg.addr(80), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "which"})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("v1: %v %v, want SERVING", resp, err)
	}
	resp, err = client.Check(metadata.AppendToOutgoingContext(ctx, "version", "two"), &healthpb.HealthCheckRequest{Service: "which"})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("v2: %v %v, want NOT_SERVING", resp, err)
	}
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "which"})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("invalid backend: %v, want Unavailable", err)
	}
	if _, err := client.List(ctx, &healthpb.HealthListRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("no matching rule: %v, want Unimplemented (HTTP 404)", err)
	}
}
