package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack"
)

// gatewayManifest is a backend, a public Gateway and an internal one (through
// spec.infrastructure.annotations) of app routing's class, and a route attached to both.
const gatewayManifest = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: whoami}
spec:
  replicas: 2
  selector: {matchLabels: {app: whoami}}
  template:
    metadata: {labels: {app: whoami}}
    spec:
      containers:
      - {name: whoami, image: traefik/whoami, env: [{name: WHOAMI_NAME, value: whoami}], ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: whoami}
spec: {selector: {app: whoami}, ports: [{port: 80, targetPort: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: http, protocol: HTTP, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: private}
spec:
  gatewayClassName: approuting-istio
  infrastructure:
    annotations:
      service.beta.kubernetes.io/azure-load-balancer-internal: "true"
  listeners:
  - {name: http, protocol: HTTP, port: 8080}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: whoami}
spec:
  parentRefs: [{name: public}, {name: private}]
  hostnames: [whoami.example.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: whoami, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: agc}
spec:
  gatewayClassName: azure-alb-external
  listeners:
  - {name: http, protocol: HTTP, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: azure-alb-external}
spec:
  controllerName: alb.networking.azure.io/alb-controller
`

// TestGatewayAPI checks the AKS side of Gateway API: the managed CRDs, app routing's Istio
// control plane, the objects istiod renders for each Gateway (named <gateway>-approuting-istio)
// behind the emulated Azure load balancer, an internal Gateway reachable only from the VNet,
// the other implementations' classes said to be not emulated, and turning it all off.
func TestGatewayAPI(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up", "--enable-gateway-api", "--enable-app-routing-istio")
	lan, _, _ := makeLANHost(t, c.name)

	t.Run("managed CRDs, istiod and the GatewayClass, as AKS installs them", func(t *testing.T) {
		out := c.mustKubectl("get", "crd", "httproutes.gateway.networking.k8s.io", "-o",
			`jsonpath={.metadata.annotations.gateway\.networking\.k8s\.io/bundle-version} {.metadata.annotations.gateway\.networking\.k8s\.io/channel}`)
		if out != "v1.5.1 standard" {
			t.Errorf("HTTPRoute CRD: %q, want v1.5.1 standard", out)
		}
		out = c.mustKubectl("get", "gatewayclass", "approuting-istio", "-o",
			`jsonpath={.spec.controllerName} {.status.conditions[?(@.type=="Accepted")].status}`)
		if out != "istio.io/gateway-controller True" {
			t.Errorf("GatewayClass approuting-istio: %q", out)
		}
		out = c.mustKubectl("get", "hpa", "-n", "aks-istio-system", "istiod", "-o", "jsonpath={.spec.minReplicas}-{.spec.maxReplicas}")
		if out != "2-5" {
			t.Errorf("istiod HPA: %q", out)
		}
		if out := c.mustMinaks("status"); !strings.Contains(out, "managed Gateway API v1.5.1") || !strings.Contains(out, "app routing Istio") {
			t.Errorf("minaks status does not show the add-ons:\n%s", out)
		}
	})

	dir := t.TempDir()
	manifest := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(manifest, []byte(gatewayManifest), 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("apply", "-f", manifest)
	c.mustKubectl("wait", "--for=condition=Available", "deployment/whoami", "--timeout=60s")
	c.mustKubectl("wait", "--for=condition=Programmed", "gateway/public", "gateway/private", "--timeout=90s")
	public := gatewayAddress(t, c, "public")
	private := gatewayAddress(t, c, "private")

	t.Run("each Gateway gets <gateway>-approuting-istio objects and a load balancer", func(t *testing.T) {
		for _, obj := range []string{"deployment", "service", "hpa", "pdb", "serviceaccount"} {
			c.mustKubectl("get", obj, "public-approuting-istio")
		}
		out := c.mustKubectl("get", "service", "public-approuting-istio", "-o", "jsonpath={.spec.type} {.spec.ports[*].port}")
		if out != "LoadBalancer 15021 80" {
			t.Errorf("Service: %q", out)
		}
		if !netip.MustParsePrefix("198.51.100.0/24").Contains(public) {
			t.Errorf("public Gateway address %s is not a public frontend", public)
		}
		if svc := lbAddress(t, c, "default", "public-approuting-istio"); svc != public {
			t.Errorf("Gateway address %s, its Service's %s", public, svc)
		}
		eventually(t, 30*time.Second, "whoami through "+public.String(), func() error {
			a, err := curlVia("", public, "http://whoami.example.test/")
			if err != nil || a.name() != "whoami" || !strings.Contains(a.headers, "Server: istio-envoy") {
				return fmt.Errorf("%+v %v", a, err)
			}
			return nil
		})
		out = c.mustKubectl("get", "httproute", "whoami", "-o", `jsonpath={range .status.parents[*]}{.parentRef.name}={.conditions[?(@.type=="Accepted")].status},{end}`)
		if out != "public=True,private=True," {
			t.Errorf("HTTPRoute parents: %q", out)
		}
	})

	t.Run("an internal Gateway: a subnet address, reachable from the host, not from beyond it", func(t *testing.T) {
		if !netip.MustParsePrefix("10.224.0.0/16").Contains(private) {
			t.Fatalf("internal Gateway address %s is not in the subnet", private)
		}
		eventually(t, 30*time.Second, "whoami through "+private.String(), func() error {
			a, err := curlVia("", private, "http://whoami.example.test:8080/")
			if err != nil || a.name() != "whoami" {
				return fmt.Errorf("%+v %v", a, err)
			}
			return nil
		})
		if _, err := curlVia(lan, private, "http://whoami.example.test:8080/"); err == nil {
			t.Error("the internal Gateway answers beyond the host")
		}
	})

	t.Run("other implementations' classes are said to be not emulated", func(t *testing.T) {
		eventually(t, 20*time.Second, "the azure-alb-external class refused", func() error {
			out, err := c.kubectl("get", "gatewayclass", "azure-alb-external", "-o", `jsonpath={.status.conditions[?(@.type=="Accepted")].status} {.status.conditions[?(@.type=="Accepted")].message}`)
			if err != nil || !strings.HasPrefix(out, "False ") || !strings.Contains(out, "not emulated") {
				return fmt.Errorf("%q %v", out, err)
			}
			return nil
		})
	})

	t.Run("deleting a Gateway removes its objects and its frontend", func(t *testing.T) {
		c.mustKubectl("delete", "gateway", "public")
		eventually(t, 60*time.Second, "public-approuting-istio gone", func() error {
			if out, err := c.kubectl("get", "deployment,service", "public-approuting-istio", "-o", "name", "--ignore-not-found"); err != nil || out != "" {
				return fmt.Errorf("still there: %q %v", out, err)
			}
			if owner, _ := netstack.HostAddrOwner(public); owner != "" {
				return fmt.Errorf("host still routes %s to cluster %s", public, owner)
			}
			return nil
		})
	})

	t.Run("minaks update turns app routing Istio and the managed Gateway API off", func(t *testing.T) {
		if out, err := c.minaks("update", "--disable-gateway-api"); err == nil || !strings.Contains(out, "--disable-app-routing-istio") {
			t.Errorf("disabling the CRDs under app routing Istio: %v\n%s", err, out)
		}
		c.mustMinaks("update", "--disable-app-routing-istio")
		eventually(t, 90*time.Second, "aks-istio-system removed", func() error {
			if out, err := c.kubectl("get", "namespace", "aks-istio-system", "-o", "name"); err == nil {
				return fmt.Errorf("still there: %s", out)
			}
			return nil
		})
		// Without istiod, a class of Istio's controller (the Istio add-on's "istio") is told
		// to be not emulated.
		class := filepath.Join(dir, "istio-class.yaml")
		if err := os.WriteFile(class, []byte("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio}\nspec: {controllerName: istio.io/gateway-controller}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c.mustKubectl("apply", "-f", class)
		eventually(t, 20*time.Second, "the istio class refused", func() error {
			out, err := c.kubectl("get", "gatewayclass", "istio", "-o", `jsonpath={.status.conditions[?(@.type=="Accepted")].status} {.status.conditions[?(@.type=="Accepted")].message}`)
			if err != nil || !strings.HasPrefix(out, "False ") || !strings.Contains(out, "Istio service mesh add-on is not emulated") {
				return fmt.Errorf("%q %v", out, err)
			}
			return nil
		})
		c.mustMinaks("update", "--disable-gateway-api")
		if out, err := c.kubectl("get", "crd", "gateways.gateway.networking.k8s.io"); err == nil {
			t.Errorf("the Gateway CRD is still there: %s", out)
		}
	})
}

// gatewayAddress waits for a Gateway's first address.
func gatewayAddress(t *testing.T, c *testCluster, name string) netip.Addr {
	t.Helper()
	var ip netip.Addr
	eventually(t, 90*time.Second, "address of Gateway "+name, func() error {
		out, err := c.kubectl("get", "gateway", name, "-o", "jsonpath={.status.addresses[0].value}")
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
