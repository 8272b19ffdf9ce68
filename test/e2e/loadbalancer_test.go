package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/minaks/minaks/pkg/azlb"
	"github.com/minaks/minaks/pkg/azlb/dataplane"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

// TestLoadBalancer drives Services of type LoadBalancer through the emulated Azure Standard
// Load Balancer with real packets: from the host, and from a host beyond it (the LAN test host,
// whose address is neither the host's nor the VNet's).
func TestLoadBalancer(t *testing.T) {
	c := newTestCluster(t)
	publicRoutes := func() []string { // the host's routes to public frontends, of any cluster
		out, _ := netns.Run("", "", "ip", "route", "show")
		var routes []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "198.51.100.") {
				routes = append(routes, l)
			}
		}
		return routes
	}
	before := publicRoutes()
	c.mustMinaks("up")
	lan, lanIP, lanGateway := makeLANHost(t, c.name)

	manifest := filepath.Join(t.TempDir(), "lb.yaml")
	if err := os.WriteFile(manifest, []byte(strings.ReplaceAll(lbManifest, "LAN_HOST", lanIP.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("apply", "-f", manifest)
	c.mustKubectl("wait", "--for=condition=Available", "deployment/web", "deployment/liveness", "--timeout=60s")
	c.mustKubectl("wait", "--for=condition=Ready", "pod", "-l", "app=web", "--timeout=60s")
	c.mustKubectl("wait", "--for=condition=Ready", "pod/client", "--timeout=60s")

	public := netip.MustParsePrefix("198.51.100.0/24")
	subnet := netip.MustParsePrefix("10.224.0.0/16")
	externalIP := func(svc string) netip.Addr {
		t.Helper()
		var ip netip.Addr
		eventually(t, 10*time.Second, "external IP of "+svc, func() error {
			out, err := c.kubectl("get", "svc", svc, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip} {.status.loadBalancer.ingress[0].ipMode}")
			if err != nil {
				return err
			}
			addr, mode, _ := strings.Cut(out, " ")
			if ip, err = netip.ParseAddr(addr); err != nil {
				return fmt.Errorf("no external IP yet: %q", out)
			}
			if mode != "VIP" {
				return fmt.Errorf("ipMode %q, want VIP", mode)
			}
			return nil
		})
		return ip
	}
	hostname := func(ns string, addr string) (string, error) {
		out, err := netnstest.Fetch(ns, addr, "GET /hostname HTTP/1.0\r\n\r\n")
		if err != nil {
			return "", err
		}
		_, body, ok := strings.Cut(out, "\r\n\r\n")
		if !ok || body == "" {
			return "", fmt.Errorf("no HTTP answer: %q", out)
		}
		return body, nil
	}
	webPods := map[string]string{} // pod → node
	for _, p := range c.pods("app=web") {
		webPods[p.name] = p.node
	}
	answers := func(ns string, vip netip.Addr, port int) error {
		name, err := hostname(ns, net.JoinHostPort(vip.String(), strconv.Itoa(port)))
		if err != nil {
			return err
		}
		if _, ok := webPods[name]; !ok {
			return fmt.Errorf("answer %q is not a web pod", name)
		}
		return nil
	}
	nodeNS := func(node string) string { return "minaks." + c.name + "." + node }
	nodes := c.nodes()
	// placed returns the nodes whose conntrack has a flow from src to dst (and dport).
	placed := func(src string, dst string, dport int) map[string]int {
		out := map[string]int{}
		for _, n := range nodes.Items {
			b, err := netns.Run(nodeNS(n.Metadata.Name), "", "conntrack", "-L", "-p", "tcp", "-s", src, "-d", dst, "--dport", strconv.Itoa(dport))
			if err != nil {
				t.Fatalf("conntrack in %s: %v", n.Metadata.Name, err)
			}
			if k := strings.Count(string(b), "src="+src); k > 0 {
				out[n.Metadata.Name] = k
			}
		}
		return out
	}
	// status is the daemon's view, as `minaks lb` reads it.
	status := func() azlb.Status {
		t.Helper()
		var st azlb.Status
		b, err := os.ReadFile(filepath.Join(c.stateDir, c.name, azlb.StatusFile))
		if err == nil {
			err = json.Unmarshal(b, &st)
		}
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	// probeStates is the live state of a Service's probes on every backend.
	probeStates := func(svc string) []azlb.BackendHealth {
		st := status()
		base := ""
		for _, s := range st.Services {
			if s.Name == svc {
				base = s.Base
			}
		}
		var out []azlb.BackendHealth
		for _, h := range st.Health {
			if base != "" && strings.HasPrefix(h.Probe, base) {
				out = append(out, h)
			}
		}
		return out
	}

	// probesUp is nil once every node has a state of svc's probe, up on the nodes want
	// names and not up on the others; else what differs.
	probesUp := func(svc string, want func(node string) bool) error {
		states := probeStates(svc)
		for _, h := range states {
			if (h.State == dataplane.Up) != want(h.Backend) {
				return fmt.Errorf("probe %s on %s is %s (%s), want up: %v", h.Probe, h.Backend, h.State, h.Detail, want(h.Backend))
			}
		}
		if len(states) != len(nodes.Items) {
			return fmt.Errorf("%d probe states for %s, want %d", len(states), svc, len(nodes.Items))
		}
		return nil
	}

	web := externalIP("web")
	t.Run("external IP from the public range, answering from the host and beyond", func(t *testing.T) {
		if !public.Contains(web) {
			t.Fatalf("external IP %s not in %s", web, public)
		}
		eventually(t, 10*time.Second, "web through "+web.String(), func() error {
			if err := answers("", web, 80); err != nil {
				return fmt.Errorf("from the host: %w", err)
			}
			return answers(lan, web, 80)
		})
	})

	t.Run("floating IP: the node sees the frontend IP; 5-tuple spreads flows over nodes", func(t *testing.T) {
		// The first answer comes once one node's probe is up; flows spread over those up.
		eventually(t, 15*time.Second, "every node's probe of web up", func() error {
			return probesUp("web", func(string) bool { return true })
		})
		for range 15 {
			if err := answers(lan, web, 80); err != nil {
				t.Fatal(err)
			}
		}
		got := placed(lanIP.String(), web.String(), 80)
		if len(got) < 2 {
			t.Errorf("15 connections to %s reached nodes %v with the frontend IP as destination, want at least 2 nodes", web, got)
		}
	})

	t.Run("floating IP off: DNAT to the node's NodePort", func(t *testing.T) {
		vip := externalIP("web-nofloat")
		eventually(t, 10*time.Second, "web-nofloat", func() error { return answers(lan, vip, 80) })
		if got := placed(lanIP.String(), vip.String(), 80); len(got) != 0 {
			t.Errorf("nodes saw the frontend IP %s as destination: %v", vip, got)
		}
		nodePort, _ := strconv.Atoi(c.mustKubectl("get", "svc", "web-nofloat", "-o", "jsonpath={.spec.ports[0].nodePort}"))
		total := 0
		for _, n := range nodes.Items {
			for _, k := range placed(lanIP.String(), n.Status.Addresses[0].Address, nodePort) {
				total += k
			}
		}
		if total == 0 {
			t.Errorf("no node saw a flow to its own NodePort %d", nodePort)
		}
	})

	t.Run("SourceIP distribution keeps a client on one node", func(t *testing.T) {
		vip := externalIP("web-affinity")
		eventually(t, 10*time.Second, "web-affinity", func() error { return answers(lan, vip, 80) })
		for range 15 {
			if err := answers(lan, vip, 80); err != nil {
				t.Fatal(err)
			}
		}
		if got := placed(lanIP.String(), vip.String(), 80); len(got) != 1 {
			t.Errorf("one client's flows to %s reached nodes %v, want one", vip, got)
		}
	})

	t.Run("externalTrafficPolicy Local: client IP kept, only nodes with an endpoint pass the probe", func(t *testing.T) {
		vip := externalIP("web-local")
		eventually(t, 15*time.Second, "client IP through web-local", func() error {
			out, err := netnstest.Fetch(lan, net.JoinHostPort(vip.String(), "80"), "GET /clientip HTTP/1.0\r\n\r\n")
			if err != nil {
				return err
			}
			if _, body, _ := strings.Cut(out, "\r\n\r\n"); !strings.HasPrefix(body, lanIP.String()+":") {
				return fmt.Errorf("client IP %q, want %s", body, lanIP)
			}
			return nil
		})
		withPod := map[string]bool{}
		for _, node := range webPods {
			withPod[node] = true
		}
		eventually(t, 15*time.Second, "probe states of web-local", func() error {
			return probesUp("web-local", func(node string) bool { return withPod[node] })
		})
	})

	t.Run("idle timeout: a flow that timed out gets a reset, or nothing without TCP reset", func(t *testing.T) {
		fabric := netstack.FabricNS(c.name)
		for _, tc := range []struct {
			svc   string
			reset bool
		}{{"web", true}, {"web-affinity", false}} {
			vip := externalIP(tc.svc)
			var conn net.Conn
			if err := netns.Do(lan, func() (err error) {
				conn, err = net.DialTimeout("tcp", net.JoinHostPort(vip.String(), "80"), 2*time.Second)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ask := func() error {
				_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
				if _, err := conn.Write([]byte("GET /hostname HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
					return err
				}
				buf := make([]byte, 4096)
				_, err := conn.Read(buf)
				return err
			}
			if err := ask(); err != nil {
				t.Fatalf("%s: first request: %v", tc.svc, err)
			}
			local := conn.LocalAddr().(*net.TCPAddr)
			out, err := netns.Run(fabric, "", "conntrack", "-L", "-p", "tcp", "-s", lanIP.String(), "--sport", strconv.Itoa(local.Port), "-d", vip.String())
			if err != nil {
				t.Fatal(err)
			}
			// The rule's idle timeout (4 minutes) is the flow's: conntrack shows the seconds left.
			var fields []string // tcp 6 <seconds left> ESTABLISHED src=…
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "tcp") {
					fields = strings.Fields(line)
				}
			}
			if len(fields) < 3 {
				t.Fatalf("no conntrack entry in the fabric: %s", out)
			}
			if left, _ := strconv.Atoi(fields[2]); left <= 0 || left > 240 {
				t.Errorf("%s: established flow expires in %d s, want the idle timeout, at most 240", tc.svc, left)
			}
			// The flow times out (its entry goes), then the client speaks again.
			if _, err := netns.Run(fabric, "", "conntrack", "-D", "-p", "tcp", "-s", lanIP.String(), "--sport", strconv.Itoa(local.Port), "-d", vip.String()); err != nil {
				t.Fatal(err)
			}
			err = ask()
			switch {
			case tc.reset && (err == nil || !strings.Contains(err.Error(), "reset")):
				t.Errorf("%s with TCP reset: %v, want a reset", tc.svc, err)
			case !tc.reset && (err == nil || !strings.Contains(err.Error(), "timeout")):
				t.Errorf("%s without TCP reset: %v, want no answer", tc.svc, err)
			}
		}
	})

	t.Run("loadBalancerSourceRanges: other sources blocked", func(t *testing.T) {
		vip := externalIP("web-ranges")
		eventually(t, 10*time.Second, "web-ranges from the allowed host", func() error { return answers(lan, vip, 80) })
		if err := answers("", vip, 80); err == nil {
			t.Errorf("the host (not in loadBalancerSourceRanges) reached %s", vip)
		}
	})

	t.Run("UDP", func(t *testing.T) {
		vip := externalIP("web-udp")
		got, err := udpAsk(lan, net.JoinHostPort(vip.String(), "5353"), "hostname")
		if _, ok := webPods[got]; err != nil || !ok {
			t.Errorf("UDP through %s: %q, %v", vip, got, err)
		}
	})

	t.Run("DNS label answered by Azure DNS", func(t *testing.T) {
		vip := externalIP("web-udp")
		eventually(t, 10*time.Second, "the public IP's DNS name", func() error {
			m, err := query(nodeNS(nodes.Items[0].Metadata.Name), "168.63.129.16:53", "minaks-e2e-web.eastus.cloudapp.azure.com.", dns.TypeA)
			if err != nil {
				return err
			}
			if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != vip.String() {
				return fmt.Errorf("answer %v, want %s", m.Answer, vip)
			}
			return nil
		})
	})

	t.Run("internal load balancer: a subnet IP", func(t *testing.T) {
		vip := externalIP("web-internal")
		if !subnet.Contains(vip) {
			t.Fatalf("internal frontend %s not in %s", vip, subnet)
		}
		eventually(t, 10*time.Second, "web-internal from the host", func() error { return answers("", vip, 80) })
		if err := answers(lan, vip, 80); err == nil {
			t.Errorf("internal frontend %s reachable from beyond the host", vip)
		}
		// Private Link Service is read but not emulated: a Warning says so.
		out := c.mustKubectl("get", "events", "--field-selector", "involvedObject.name=web-internal,reason=AnnotationNotEmulated", "-o", "jsonpath={.items[*].type} {.items[*].message}")
		if !strings.HasPrefix(out, "Warning") || !strings.Contains(out, "azure-pls-create") {
			t.Errorf("no AnnotationNotEmulated warning for azure-pls-create: %q", out)
		}
	})

	t.Run("two Services share one IP on different ports", func(t *testing.T) {
		a, b := externalIP("shared-a"), externalIP("shared-b")
		if a != b || a.String() != "198.51.100.200" {
			t.Fatalf("shared-a %s, shared-b %s, want both 198.51.100.200", a, b)
		}
		eventually(t, 10*time.Second, "both ports", func() error {
			if err := answers(lan, a, 8001); err != nil {
				return err
			}
			return answers(lan, a, 8002)
		})
	})

	t.Run("an HTTP probe on / that answers 404 takes every backend out; the probe path brings it back", func(t *testing.T) {
		vip := externalIP("liveness")
		addr := net.JoinHostPort(vip.String(), "80")
		get := func() error {
			out, err := netnstest.Fetch(lan, addr, "GET /started HTTP/1.0\r\n\r\n")
			if err == nil && !strings.HasPrefix(out, "HTTP/1.0 200") {
				err = fmt.Errorf("answer %q", out)
			}
			return err
		}
		eventually(t, 15*time.Second, "every backend down", func() error {
			states := probeStates("liveness")
			for _, h := range states {
				if h.State != dataplane.Down {
					return fmt.Errorf("%s is %s on %s (%s)", h.Probe, h.State, h.Backend, h.Detail)
				}
			}
			if len(states) == 0 {
				return fmt.Errorf("no probe state for liveness")
			}
			if get() == nil {
				return fmt.Errorf("%s still answers", addr)
			}
			return nil
		})
		c.mustKubectl("annotate", "svc", "liveness", "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path=/started")
		eventually(t, 15*time.Second, "answering again with the probe on /started", get)
	})

	// rulesMap is the fabric's frontend → rule map, as nft lists it.
	rulesMap := func() string {
		t.Helper()
		out, err := netns.Run(netstack.FabricNS(c.name), "", "nft", "list", "map", "ip", dataplane.Table, "rules")
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}

	t.Run("bad annotation: SyncLoadBalancerFailed, nothing changes", func(t *testing.T) {
		before, rulesBefore := status(), rulesMap()
		eventually(t, 15*time.Second, "SyncLoadBalancerFailed on bad", func() error {
			out, err := c.kubectl("get", "events", "--field-selector", "involvedObject.name=bad,reason=SyncLoadBalancerFailed", "-o", "jsonpath={.items[*].message}")
			if err != nil {
				return err
			}
			if !strings.Contains(out, "service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout") {
				return fmt.Errorf("events: %q", out)
			}
			return nil
		})
		if ip := c.mustKubectl("get", "svc", "bad", "-o", "jsonpath={.status.loadBalancer.ingress}"); ip != "" {
			t.Errorf("bad got an external IP: %s", ip)
		}
		after := status()
		if len(after.Model.PublicIPAddresses) != len(before.Model.PublicIPAddresses) {
			t.Errorf("public IPs changed: %d → %d", len(before.Model.PublicIPAddresses), len(after.Model.PublicIPAddresses))
		}
		if rulesAfter := rulesMap(); rulesAfter != rulesBefore {
			t.Errorf("the fabric's rules changed:\n%s\nwere:\n%s", rulesAfter, rulesBefore)
		}
		c.mustKubectl("annotate", "--overwrite", "svc", "bad", "service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout=10")
		vip := externalIP("bad")
		eventually(t, 10*time.Second, "bad fixed", func() error { return answers(lan, vip, 80) })
	})

	t.Run("pod egress leaves with the outbound IP, within its node's SNAT ports", func(t *testing.T) {
		st := status()
		var outbound netip.Addr
		for _, p := range st.Model.PublicIPAddresses {
			if p.Tags["aks-managed-type"] == "aks-slb-managed-outbound-ip" {
				outbound = netip.MustParseAddr(p.IPAddress)
			}
		}
		if !public.Contains(outbound) {
			t.Fatalf("no managed outbound IP in %v", st.Model.PublicIPAddresses)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(lanGateway.String(), "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		from := make(chan net.Addr, 1)
		go func() {
			if conn, err := l.Accept(); err == nil {
				from <- conn.RemoteAddr()
				conn.Close()
			}
		}()
		client := c.pods("role=client")[0]
		_, _ = netnstest.Fetch("minaks."+c.name+".pod-"+client.uid, l.Addr().String(), "hi\n")
		select {
		case a := <-from:
			ap := netip.MustParseAddrPort(a.String())
			if ap.Addr() != outbound {
				t.Errorf("pod's connection came from %s, want the outbound IP %s", ap.Addr(), outbound)
			}
			id, _ := strconv.ParseInt(client.node[len(client.node)-6:], 36, 32)
			first := dataplane.FirstSNATPort + int(id)*azlb.DefaultOutboundPorts(len(nodes.Items))
			if p := int(ap.Port()); p < first || p >= first+azlb.DefaultOutboundPorts(len(nodes.Items)) {
				t.Errorf("source port %d outside node %s's SNAT block %d+%d", p, client.node, first, azlb.DefaultOutboundPorts(len(nodes.Items)))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no connection from the pod")
		}
	})

	t.Run("deleting the Service removes its frontend, rules and public IP", func(t *testing.T) {
		c.mustKubectl("delete", "svc", "web")
		eventually(t, 10*time.Second, "web's frontend gone", func() error {
			if owner, _ := netstack.HostAddrOwner(web); owner != "" {
				return fmt.Errorf("host still routes %s to cluster %s", web, owner)
			}
			for _, p := range status().Model.PublicIPAddresses {
				if p.IPAddress == web.String() {
					return fmt.Errorf("public IP %s still there", p.Name)
				}
			}
			if out := rulesMap(); strings.Contains(out, web.String()+" . tcp . 80") {
				return fmt.Errorf("rule still in the fabric: %s", out)
			}
			return nil
		})
		if err := answers(lan, web, 80); err == nil {
			t.Errorf("%s still answers", web)
		}
	})

	t.Run("minaks lb list and show", func(t *testing.T) {
		out := c.mustMinaks("lb", "list")
		for _, want := range []string{"default/web-local", "kubernetes-internal", "aksOutboundRule"} {
			if !strings.Contains(out, want) {
				t.Errorf("lb list lacks %q:\n%s", want, out)
			}
		}
		var all struct {
			azlb.Model
			Health []azlb.BackendHealth `json:"health"`
		}
		if err := json.Unmarshal([]byte(c.mustMinaks("lb", "show", "--all", "-o", "json")), &all); err != nil {
			t.Fatal(err)
		}
		if len(all.LoadBalancers) != 2 || len(all.Health) == 0 {
			t.Errorf("lb show --all: %d load balancers, %d probe states; want kubernetes and kubernetes-internal, and probes", len(all.LoadBalancers), len(all.Health))
		}
		show := c.mustMinaks("lb", "show", "default/web-udp", "-o", "json")
		uid := strings.ReplaceAll(c.mustKubectl("get", "svc", "web-udp", "-o", "jsonpath={.metadata.uid}"), "-", "")
		if !strings.Contains(show, `"a`+uid[:31]+`-UDP-5353"`) {
			t.Errorf("lb show lacks rule a%s-UDP-5353:\n%s", uid[:31], show)
		}
	})

	c.mustMinaks("down")
	if after := publicRoutes(); !slices.Equal(after, before) {
		t.Errorf("host routes to public frontends after down:\n%s\nbefore up:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}

const lbManifest = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080, --udp-port=8081]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: liveness}
spec:
  replicas: 1
  selector: {matchLabels: {app: liveness}}
  template:
    metadata: {labels: {app: liveness}}
    spec:
      containers:
      - name: liveness
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [liveness]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  containers:
  - {name: pause, image: registry.k8s.io/pause:3.10}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: web-nofloat
  annotations: {service.beta.kubernetes.io/azure-disable-load-balancer-floating-ip: "true"}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: web-affinity
  annotations: {service.beta.kubernetes.io/azure-load-balancer-disable-tcp-reset: "true"}
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-ranges}
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [LAN_HOST/32]
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: web-udp
  annotations: {service.beta.kubernetes.io/azure-dns-label-name: minaks-e2e-web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 5353, targetPort: 8081, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata:
  name: web-internal
  annotations:
    service.beta.kubernetes.io/azure-load-balancer-internal: "true"
    service.beta.kubernetes.io/azure-pls-create: "true"
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: shared-a
  annotations: {service.beta.kubernetes.io/azure-load-balancer-ipv4: 198.51.100.200}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8001, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: shared-b
  annotations: {service.beta.kubernetes.io/azure-load-balancer-ipv4: 198.51.100.200}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8002, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: liveness
  annotations: {service.beta.kubernetes.io/azure-load-balancer-health-probe-protocol: http}
spec:
  type: LoadBalancer
  selector: {app: liveness}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: bad
  annotations: {service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout: "200"}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`
