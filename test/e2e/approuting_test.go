package e2e

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
	"net"
	"net/netip"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
)

// appRoutingApps are the backends of the app routing test: whoami answers with its name, the
// pod's hostname and the request it got (line and headers).
const appRoutingApps = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: alpha}
spec:
  replicas: 2
  selector: {matchLabels: {app: alpha}}
  template:
    metadata: {labels: {app: alpha}}
    spec:
      containers:
      - {name: whoami, image: traefik/whoami, env: [{name: WHOAMI_NAME, value: alpha}], ports: [{containerPort: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: beta}
spec:
  replicas: 2
  selector: {matchLabels: {app: beta}}
  template:
    metadata: {labels: {app: beta}}
    spec:
      containers:
      - {name: whoami, image: traefik/whoami, env: [{name: WHOAMI_NAME, value: beta}], ports: [{containerPort: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: canary}
spec:
  replicas: 1
  selector: {matchLabels: {app: canary}}
  template:
    metadata: {labels: {app: canary}}
    spec:
      containers:
      - {name: whoami, image: traefik/whoami, env: [{name: WHOAMI_NAME, value: canary}], ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: alpha}
spec: {selector: {app: alpha}, ports: [{port: 80, targetPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: beta}
spec: {selector: {app: beta}, ports: [{name: web, port: 8080, targetPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: alpha-main}
spec: {selector: {app: alpha}, ports: [{port: 80, targetPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: canary}
spec: {selector: {app: canary}, ports: [{port: 80, targetPort: 80}]}
`

// appRoutingIngresses are the Ingresses of the app routing test, for the add-on's class. As in
// ingress-nginx, a canary and cookie affinity belong to the main Service's upstream, whatever
// path uses it: the canary's main Ingress has a Service of its own (alpha-main, the same pods).
const appRoutingIngresses = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: routes}
spec:
  ingressClassName: webapprouting.kubernetes.azure.com
  rules:
  - host: a.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
  - host: b.example.test
    http:
      paths:
      - {path: /exact, pathType: Exact, backend: {service: {name: beta, port: {name: web}}}}
      - {path: /app, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
      - {path: /imp, pathType: ImplementationSpecific, backend: {service: {name: beta, port: {number: 8080}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: rewrite
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/rewrite-target: /$2
spec:
  ingressClassName: webapprouting.kubernetes.azure.com
  rules:
  - host: r.example.test
    http:
      paths:
      - {path: /something(/|$)(.*), pathType: ImplementationSpecific, backend: {service: {name: beta, port: {number: 8080}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: secure}
spec:
  ingressClassName: webapprouting.kubernetes.azure.com
  tls:
  - {hosts: [tls.example.test], secretName: tls-example}
  rules:
  - host: tls.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: main}
spec:
  ingressClassName: webapprouting.kubernetes.azure.com
  rules:
  - host: c.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha-main, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: canary
  annotations:
    nginx.ingress.kubernetes.io/canary: "true"
    nginx.ingress.kubernetes.io/canary-weight: "30"
    nginx.ingress.kubernetes.io/canary-by-header: X-Canary
spec:
  ingressClassName: webapprouting.kubernetes.azure.com
  rules:
  - host: c.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: canary, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: sticky
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
spec:
  ingressClassName: webapprouting.kubernetes.azure.com
  rules:
  - host: s.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: allowlist
  annotations:
    nginx.ingress.kubernetes.io/whitelist-source-range: LAN_HOST/32
spec:
  ingressClassName: webapprouting.kubernetes.azure.com
  rules:
  - host: w.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: odd
  annotations:
    nginx.ingress.kubernetes.io/no-such-annotation: "1"
    kubernetes.azure.com/tls-cert-keyvault-uri: https://vault.example.test/certificates/odd
spec:
  ingressClassName: webapprouting.kubernetes.azure.com
  rules:
  - host: o.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: blocked
  annotations:
    nginx.ingress.kubernetes.io/configuration-snippet: |
      location /x { return 200; }
spec:
  ingressClassName: webapprouting.kubernetes.azure.com
  rules:
  - host: x.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
`

// internalController is a second NginxIngressController, on the internal load balancer, with
// its own class, a default certificate that every host gets over HTTPS and HTTP redirected to,
// and a default backend; and an Ingress of that class.
const internalController = `
apiVersion: approuting.kubernetes.azure.com/v1alpha1
kind: NginxIngressController
metadata: {name: private}
spec:
  ingressClassName: nginx-private
  controllerNamePrefix: nginx-private
  loadBalancerAnnotations:
    service.beta.kubernetes.io/azure-load-balancer-internal: "true"
  defaultSSLCertificate:
    secret: {name: tls-example, namespace: default}
    forceSSLRedirect: true
  defaultBackendService: {name: canary, namespace: default}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: private}
spec:
  ingressClassName: nginx-private
  rules:
  - host: i.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: beta, port: {number: 8080}}}}
`

// answer is one HTTP exchange as curl saw it.
type answer struct {
	code    int
	headers string
	body    string
}

// name is the WHOAMI_NAME of the backend that answered ("" when it was not whoami).
func (a answer) name() string {
	m := regexp.MustCompile(`(?m)^Name: (\S+)`).FindStringSubmatch(a.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// hostname is the pod that answered.
func (a answer) hostname() string {
	m := regexp.MustCompile(`(?m)^Hostname: (\S+)`).FindStringSubmatch(a.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// header is the value of a header the backend received (whoami echoes them).
func (a answer) header(name string) string {
	m := regexp.MustCompile(`(?mi)^` + regexp.QuoteMeta(name) + `: (.*?)\r?$`).FindStringSubmatch(a.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// curlVia sends a request with curl from ns (the host when empty) to url, resolving its host to
// ip as a DNS zone pointing at the load balancer would (curl --resolve).
func curlVia(ns string, ip netip.Addr, url string, extra ...string) (answer, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return answer{}, err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	args := append([]string{"curl", "-sS", "-i", "--max-time", "5", "--resolve", u.Hostname() + ":" + port + ":" + ip.String()}, extra...)
	args = append(args, url)
	out, err := netns.Run(ns, "", args...)
	if err != nil {
		return answer{}, err
	}
	// The last response, after any "100 Continue".
	text := string(out)
	for strings.HasPrefix(text, "HTTP/1.1 100") {
		_, text, _ = strings.Cut(text, "\r\n\r\n")
	}
	head, body, _ := strings.Cut(text, "\r\n\r\n")
	var a answer
	a.headers, a.body = head, body
	status := strings.SplitN(head, " ", 3)
	if len(status) < 2 {
		return a, fmt.Errorf("no HTTP answer: %q", out)
	}
	a.code, _ = strconv.Atoi(status[1])
	return a, nil
}

// selfSignedCert makes a certificate and key for host, PEM-encoded.
func selfSignedCert(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// servedCertificate is the subject of the certificate the ingress offers for sni at ip:443.
func servedCertificate(ip netip.Addr, sni string) (string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", net.JoinHostPort(ip.String(), "443"),
		&tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.String(), nil
}

// TestAppRouting runs the application routing add-on as AKS deploys it, with real HTTP(S)
// traffic from the host (and from a LAN host beyond it) through the emulated Azure load
// balancer to the built-in ingress-nginx controller and on to the pods.
func TestAppRouting(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up", "--enable-app-routing")
	lan, lanIP, _ := makeLANHost(t, c.name)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("the add-on's objects, as AKS makes them", func(t *testing.T) {
		c.mustKubectl("get", "crd", "nginxingresscontrollers.approuting.kubernetes.azure.com")
		out := c.mustKubectl("get", "nginxingresscontroller", "default", "-o", "jsonpath={.spec.ingressClassName} {.spec.controllerNamePrefix}")
		if out != "webapprouting.kubernetes.azure.com nginx" {
			t.Errorf("NginxIngressController default: %q", out)
		}
		out = c.mustKubectl("get", "ingressclass", "webapprouting.kubernetes.azure.com", "-o",
			`jsonpath={.spec.controller} {.metadata.annotations.ingressclass\.kubernetes\.io/is-default-class}`)
		if strings.TrimSpace(out) != "webapprouting.kubernetes.azure.com/nginx" {
			t.Errorf("IngressClass: %q (want the nginx controller, not the default class)", out)
		}
		for _, obj := range []string{"serviceaccount/nginx", "configmap/nginx", "deployment/nginx", "hpa/nginx", "pdb/nginx", "service/nginx", "service/nginx-metrics", "role/nginx", "rolebinding/nginx"} {
			c.mustKubectl("get", "-n", "app-routing-system", obj)
		}
		c.mustKubectl("get", "clusterrole/nginx", "clusterrolebinding/nginx")
		out = c.mustKubectl("get", "-n", "app-routing-system", "service", "nginx", "-o", "jsonpath={.spec.type} {.spec.externalTrafficPolicy} {.spec.ports[*].port}")
		if out != "LoadBalancer Local 80 443" {
			t.Errorf("Service nginx: %q", out)
		}
		out = c.mustKubectl("get", "-n", "app-routing-system", "configmap", "nginx", "-o", `jsonpath={.data.annotation-value-word-blocklist}`)
		if !strings.Contains(out, "proxy_pass") || !strings.Contains(out, "_by_lua") {
			t.Errorf("ConfigMap nginx blocklist: %q", out)
		}
		if out, err := c.kubectl("get", "validatingwebhookconfigurations", "-o", "name"); err != nil || strings.Contains(out, "nginx") {
			t.Errorf("an admission webhook (AKS deploys none): %q %v", out, err)
		}
		if out := c.mustMinaks("status"); !strings.Contains(out, "app routing (default NGINX controller: AnnotationControlled)") {
			t.Errorf("minaks status does not show the add-on:\n%s", out)
		}
		eventually(t, 60*time.Second, "NginxIngressController default Available", func() error {
			out, err := c.kubectl("get", "nic", "default", "-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}`)
			if err != nil || out != "True" {
				return fmt.Errorf("%q %v", out, err)
			}
			return nil
		})
	})

	lb := lbAddress(t, c, "app-routing-system", "nginx")
	if !netip.MustParsePrefix("198.51.100.0/24").Contains(lb) {
		t.Fatalf("the default controller's address %s is not a public frontend", lb)
	}
	c.mustKubectl("apply", "-f", write("apps.yaml", appRoutingApps))
	certPEM, keyPEM := selfSignedCert(t, "tls.example.test")
	c.mustKubectl("create", "secret", "tls", "tls-example", "--cert", write("tls.crt", string(certPEM)), "--key", write("tls.key", string(keyPEM)))
	c.mustKubectl("apply", "-f", write("ingresses.yaml", strings.ReplaceAll(appRoutingIngresses, "LAN_HOST", lanIP.String())))
	c.mustKubectl("wait", "--for=condition=Available", "deployment/alpha", "deployment/beta", "deployment/canary", "--timeout=60s")
	get := func(t *testing.T, url string, extra ...string) answer {
		t.Helper()
		a, err := curlVia("", lb, url, extra...)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	eventually(t, 30*time.Second, "the first Ingress answers through "+lb.String(), func() error {
		a, err := curlVia("", lb, "http://a.example.test/")
		if err != nil || a.name() != "alpha" {
			return fmt.Errorf("%+v %v", a, err)
		}
		return nil
	})

	t.Run("status: the ADDRESS is the load balancer's", func(t *testing.T) {
		eventually(t, 20*time.Second, "Ingress status", func() error {
			out, err := c.kubectl("get", "ingress", "routes", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
			if err != nil || out != lb.String() {
				return fmt.Errorf("%q %v", out, err)
			}
			return nil
		})
	})

	t.Run("hosts and path types route to their backends", func(t *testing.T) {
		for _, tc := range []struct {
			url  string
			code int
			name string
		}{
			{"http://a.example.test/", 200, "alpha"},
			{"http://a.example.test/anything/below", 200, "alpha"},
			{"http://b.example.test/exact", 200, "beta"},
			{"http://b.example.test/exact/more", 404, ""}, // Exact
			{"http://b.example.test/app", 200, "alpha"},
			{"http://b.example.test/app/v1/items", 200, "alpha"},
			{"http://b.example.test/appx", 404, ""},      // Prefix matches by segment
			{"http://b.example.test/imp/x", 200, "beta"}, // ImplementationSpecific is Prefix in ingress-nginx
			{"http://b.example.test/impish", 404, ""},
			{"http://b.example.test/", 404, ""},
			{"http://unknown.example.test/", 404, ""}, // the default backend
		} {
			a := get(t, tc.url)
			if a.code != tc.code || a.name() != tc.name {
				t.Errorf("GET %s = %d from %q, want %d from %q\n%s", tc.url, a.code, a.name(), tc.code, tc.name, a.headers)
			}
		}
		if a := get(t, "http://unknown.example.test/"); !strings.Contains(a.body, "<center><h1>404 Not Found</h1></center>") {
			t.Errorf("the default backend's 404 is not nginx's page: %q", a.body)
		}
	})

	t.Run("regex and rewrite-target with capture groups, case-insensitive", func(t *testing.T) {
		for path, want := range map[string]string{"/something/hello/there": "GET /hello/there ", "/something": "GET / ", "/SOMETHING/x": "GET /x "} {
			a := get(t, "http://r.example.test"+path)
			if a.code != 200 || !strings.Contains(a.body, want) {
				t.Errorf("GET %s: %d, the backend saw %q, want %q", path, a.code, firstLine(a.body, "GET "), want)
			}
		}
	})

	t.Run("forwarded headers: the client's address, host, port and scheme", func(t *testing.T) {
		a := get(t, "http://a.example.test/h", "-H", "X-Forwarded-For: 6.6.6.6")
		src := hostSourceTo(t, lb.String())
		if a.header("X-Real-Ip") != src || a.header("X-Forwarded-For") != src {
			t.Errorf("X-Real-IP %q, X-Forwarded-For %q, want the host's %s (client headers ignored; ETP Local keeps the address)", a.header("X-Real-Ip"), a.header("X-Forwarded-For"), src)
		}
		for h, want := range map[string]string{"X-Forwarded-Host": "a.example.test", "X-Forwarded-Port": "80", "X-Forwarded-Proto": "http", "X-Scheme": "http"} {
			if got := a.header(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		if len(a.header("X-Request-Id")) != 32 {
			t.Errorf("X-Request-ID %q", a.header("X-Request-Id"))
		}
	})

	t.Run("TLS from a Secret by SNI, the fake certificate otherwise, HTTP to HTTPS with 308", func(t *testing.T) {
		ca := write("ca.crt", string(certPEM))
		eventually(t, 10*time.Second, "HTTPS with the Ingress's certificate", func() error {
			a, err := curlVia("", lb, "https://tls.example.test/secure", "--cacert", ca)
			if err != nil || a.code != 200 || a.name() != "alpha" {
				return fmt.Errorf("%+v %v", a, err)
			}
			if !strings.Contains(strings.ToLower(a.headers), "strict-transport-security: max-age=31536000; includesubdomains") {
				return fmt.Errorf("no HSTS header: %s", a.headers)
			}
			if a.header("X-Forwarded-Proto") != "https" {
				return fmt.Errorf("X-Forwarded-Proto %q", a.header("X-Forwarded-Proto"))
			}
			return nil
		})
		if subj, err := servedCertificate(lb, "other.example.test"); err != nil || !strings.Contains(subj, "Kubernetes Ingress Controller Fake Certificate") {
			t.Errorf("certificate for an unknown name: %q %v", subj, err)
		}
		a := get(t, "http://tls.example.test/secure?x=1")
		if a.code != 308 || !strings.Contains(a.headers, "Location: https://tls.example.test/secure?x=1") {
			t.Errorf("HTTP on a TLS host: %d\n%s", a.code, a.headers)
		}
	})

	t.Run("proxy-body-size: 1m by default, 413 above", func(t *testing.T) {
		body := write("big", strings.Repeat("x", 1<<20+1))
		if a := get(t, "http://a.example.test/upload", "--data-binary", "@"+body); a.code != 413 {
			t.Errorf("POST of 1 MiB + 1 byte: %d, want 413", a.code)
		}
		small := write("small", strings.Repeat("x", 1000))
		if a := get(t, "http://a.example.test/upload", "--data-binary", "@"+small); a.code != 200 {
			t.Errorf("POST of 1000 bytes: %d, want 200", a.code)
		}
	})

	t.Run("canary: by header, then by weight", func(t *testing.T) {
		for _, v := range []string{"always", "never"} {
			want := map[string]string{"always": "canary", "never": "alpha"}[v]
			for range 5 {
				if a := get(t, "http://c.example.test/", "-H", "X-Canary: "+v); a.name() != want {
					t.Fatalf("X-Canary: %s answered by %q, want %q", v, a.name(), want)
				}
			}
		}
		n, canary := 200, 0
		for range n {
			if get(t, "http://c.example.test/").name() == "canary" {
				canary++
			}
		}
		// 30 % of 200: the binomial's standard deviation is 6.5; allow 3 of them.
		if canary < 40 || canary > 80 {
			t.Errorf("canary-weight 30: %d of %d requests went to the canary", canary, n)
		}
	})

	t.Run("cookie affinity keeps a client on one pod", func(t *testing.T) {
		jar := filepath.Join(dir, "cookies")
		first := get(t, "http://s.example.test/", "-c", jar)
		if !strings.Contains(first.headers, "Set-Cookie: INGRESSCOOKIE=") {
			t.Fatalf("no affinity cookie: %s", first.headers)
		}
		for range 10 {
			if a := get(t, "http://s.example.test/", "-b", jar); a.hostname() != first.hostname() {
				t.Fatalf("with the cookie, answered by %s, then %s", first.hostname(), a.hostname())
			}
		}
		seen := map[string]bool{}
		for range 20 {
			seen[get(t, "http://s.example.test/").hostname()] = true
		}
		if len(seen) < 2 {
			t.Errorf("without the cookie, every request went to %v", seen)
		}
	})

	t.Run("whitelist-source-range sees the client's address (ETP Local)", func(t *testing.T) {
		if a := get(t, "http://w.example.test/"); a.code != 403 {
			t.Errorf("from the host (not in the allowlist): %d, want 403", a.code)
		}
		a, err := curlVia(lan, lb, "http://w.example.test/")
		if err != nil || a.code != 200 || a.header("X-Real-Ip") != lanIP.String() {
			t.Errorf("from the LAN host %s: %+v %v", lanIP, a, err)
		}
	})

	t.Run("annotations it does not implement and blocked values are told in Events", func(t *testing.T) {
		eventually(t, 20*time.Second, "Warning events", func() error {
			out, err := c.kubectl("get", "events", "--field-selector", "type=Warning", "-o", "jsonpath={range .items[*]}{.involvedObject.name}: {.message}{\"\\n\"}{end}")
			if err != nil {
				return err
			}
			for _, want := range []string{"odd: ", "no-such-annotation", "tls-cert-keyvault-uri", "blocked: "} {
				if !strings.Contains(out, want) {
					return fmt.Errorf("no event with %q in:\n%s", want, out)
				}
			}
			return nil
		})
		if a := get(t, "http://x.example.test/"); a.code != 404 {
			t.Errorf("an Ingress with a blocked snippet is served: %d", a.code)
		}
		if a := get(t, "http://o.example.test/"); a.code != 200 {
			t.Errorf("an Ingress with an unknown annotation is not served: %d", a.code)
		}
	})

	t.Run("access log and metrics as ingress-nginx's", func(t *testing.T) {
		logLine := regexp.MustCompile(`(?m)^\S+ - - \[[^]]+\] "GET /anything/below HTTP/1\.1" 200 \d+ "-" "curl/[^"]+" \d+ \d+\.\d{3} \[default-alpha-80\] \[\] [0-9.]+:80 \d+ \d+\.\d{3} 200 [0-9a-f]{32}$`)
		eventually(t, 10*time.Second, "an access log line", func() error {
			out, err := c.kubectl("logs", "-n", "app-routing-system", "-l", "app=nginx", "--tail=-1")
			if err != nil || !logLine.MatchString(out) {
				return fmt.Errorf("no line like %s in:\n%s", logLine, lastLines(out, 10))
			}
			return nil
		})
		ip := c.mustKubectl("get", "svc", "-n", "app-routing-system", "nginx-metrics", "-o", "jsonpath={.spec.clusterIP}")
		node := c.nodes().Items[0].Metadata.Name
		out, err := netns.Run("minaks."+c.name+"."+node, "", "curl", "-sS", "--max-time", "5", "http://"+ip+":10254/metrics")
		if err != nil {
			t.Fatal(err)
		}
		requests := regexp.MustCompile(`(?m)^nginx_ingress_controller_requests\{[^}]*ingress="routes"[^}]*\} \d+`)
		if !requests.Match(out) || !strings.Contains(string(out), "nginx_ingress_controller_request_duration_seconds_bucket") {
			t.Errorf("metrics through nginx-metrics lack the request metrics:\n%s", lastLines(string(out), 20))
		}
	})

	t.Run("a second NginxIngressController: its own class, on the internal load balancer", func(t *testing.T) {
		c.mustKubectl("apply", "-f", write("private.yaml", internalController))
		svc := ""
		eventually(t, 60*time.Second, "the private controller's Service", func() error {
			out, err := c.kubectl("get", "svc", "-n", "app-routing-system", "-o", `jsonpath={range .items[*]}{.metadata.name} {.metadata.ownerReferences[0].name} {.spec.type}{"\n"}{end}`)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) == 3 && f[1] == "private" && f[2] == "LoadBalancer" {
					svc = f[0]
					return nil
				}
			}
			return fmt.Errorf("none yet:\n%s", out)
		})
		internal := lbAddress(t, c, "app-routing-system", svc)
		if !netip.MustParsePrefix("10.224.0.0/16").Contains(internal) {
			t.Fatalf("internal controller's address %s is not in the subnet", internal)
		}
		c.mustKubectl("get", "ingressclass", "nginx-private")
		eventually(t, 60*time.Second, "the private Ingress through "+internal.String(), func() error {
			a, err := curlVia("", internal, "https://i.example.test/", "-k")
			if err != nil || a.name() != "beta" {
				return fmt.Errorf("%+v %v", a, err)
			}
			return nil
		})
		if subj, err := servedCertificate(internal, "i.example.test"); err != nil || !strings.Contains(subj, "CN=tls.example.test") {
			t.Errorf("defaultSSLCertificate: the certificate for i.example.test is %q %v", subj, err)
		}
		if a, err := curlVia("", internal, "http://i.example.test/x"); err != nil || a.code != 308 || !strings.Contains(a.headers, "Location: https://i.example.test/x") {
			t.Errorf("forceSSLRedirect: %+v %v", a, err)
		}
		if a, err := curlVia("", internal, "https://nowhere.example.test/", "-k"); err != nil || a.name() != "canary" {
			t.Errorf("defaultBackendService: an unknown host answered by %+v %v", a, err)
		}
		c.mustKubectl("wait", "--for=condition=Available", "nic/private", "--timeout=60s")
		if a := get(t, "http://i.example.test/"); a.code != 404 {
			t.Errorf("the default controller serves the private class: %d", a.code)
		}
		if _, err := curlVia(lan, internal, "http://i.example.test/"); err == nil {
			t.Errorf("the internal load balancer answers beyond the host")
		}
	})

	t.Run("approuting disable removes it all; enable --nginx Internal brings an internal default", func(t *testing.T) {
		c.mustMinaks("approuting", "disable")
		for _, obj := range []string{"namespace/app-routing-system", "ingressclass/webapprouting.kubernetes.azure.com", "ingressclass/nginx-private", "clusterrole/nginx"} {
			eventually(t, 90*time.Second, obj+" removed", func() error {
				if out, err := c.kubectl("get", obj, "-o", "name"); err == nil {
					return fmt.Errorf("still there: %s", out)
				}
				return nil
			})
		}
		// Not asked: with its route gone, the address would lead off the host.
		eventually(t, 30*time.Second, "the default controller's frontend gone", func() error {
			if owner, _ := netstack.HostAddrOwner(lb); owner != "" {
				return fmt.Errorf("host still routes %s to cluster %s", lb, owner)
			}
			return nil
		})
		c.mustMinaks("approuting", "enable", "--nginx", "Internal")
		ip := lbAddress(t, c, "app-routing-system", "nginx")
		if !netip.MustParsePrefix("10.224.0.0/16").Contains(ip) {
			t.Errorf("default controller with --nginx Internal at %s", ip)
		}
		eventually(t, 60*time.Second, "Ingresses served again through "+ip.String(), func() error {
			a, err := curlVia("", ip, "http://a.example.test/")
			if err != nil || a.name() != "alpha" {
				return fmt.Errorf("%+v %v", a, err)
			}
			return nil
		})
	})
}

// lbAddress waits for a Service's load balancer address.
func lbAddress(t *testing.T, c *testCluster, ns, svc string) netip.Addr {
	t.Helper()
	var ip netip.Addr
	eventually(t, 90*time.Second, "load balancer address of "+ns+"/"+svc, func() error {
		out, err := c.kubectl("get", "svc", "-n", ns, svc, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		if err != nil {
			return err
		}
		if ip, err = netip.ParseAddr(out); err != nil {
			return fmt.Errorf("none yet: %q", out)
		}
		return nil
	})
	return ip
}

func firstLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
