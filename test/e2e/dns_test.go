package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// TestClusterDNS: CoreDNS runs as AKS deploys it, answers for Services and pods from pods and
// nodes, and coredns-custom changes its configuration without a restart.
func TestClusterDNS(t *testing.T) {
	c := newTestCluster(t)
	// The world's DNS, for this test: Azure DNS in the fabric forwards to it.
	upstream := serveZone(t, "", "127.0.0.1:0", "upstream.example.", "192.168.77.8")
	c.mustMinaks("up", "--node-count", "2", "--upstream-dns", upstream)

	// up returned: CoreDNS is ready.
	if out := c.mustKubectl("-n", "kube-system", "get", "deployment", "coredns", "-o", "jsonpath={.status.readyReplicas}"); out != "2" {
		t.Fatalf("coredns ready replicas %q, want 2", out)
	}
	if out := c.mustKubectl("-n", "kube-system", "get", "svc", "kube-dns", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[*].port}"); out != "10.0.0.10 53 53 9153" {
		t.Errorf("kube-dns: %q", out)
	}
	manifest := filepath.Join(t.TempDir(), "dns.yaml")
	if err := os.WriteFile(manifest, []byte(dnsManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("apply", "-f", manifest)
	c.mustKubectl("wait", "--for=condition=Ready", "pod/client", "pod/web-0", "pod/web-1", "--timeout=60s")

	client := c.pods("role=client")[0]
	podNS := "minaks." + c.name + ".pod-" + client.uid
	nodeNS := "minaks." + c.name + "." + c.nodes().Items[0].Metadata.Name
	ask := func(t *testing.T, ns, name string, qtype uint16) []dns.RR {
		t.Helper()
		var in *dns.Msg
		eventually(t, 10*time.Second, fmt.Sprintf("%s %s from %s", dns.TypeToString[qtype], name, ns), func() error {
			var err error
			in, err = query(ns, "10.0.0.10:53", name, qtype)
			return err
		})
		return in.Answer
	}
	values := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			switch rr := rr.(type) {
			case *dns.A:
				out = append(out, rr.A.String())
			case *dns.CNAME:
				out = append(out, "CNAME "+rr.Target)
			case *dns.SRV:
				out = append(out, fmt.Sprintf("SRV %d %s", rr.Port, rr.Target))
			}
		}
		slices.Sort(out)
		return out
	}
	webIPs := []string{}
	for _, p := range c.pods("app=web") {
		webIPs = append(webIPs, p.ip)
	}
	slices.Sort(webIPs)
	notReady := c.pods("app=not-ready")[0]

	for _, tc := range []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"kubernetes.default.svc.cluster.local.", dns.TypeA, []string{"10.0.0.1"}},
		{"web.default.svc.cluster.local.", dns.TypeA, []string{c.mustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")}},
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, []string{"SRV 80 web.default.svc.cluster.local."}},
		// Headless: one A record per ready endpoint, the not-ready pod left out...
		{"web-headless.default.svc.cluster.local.", dns.TypeA, webIPs},
		// ...unless the Service publishes not-ready addresses.
		{"all-headless.default.svc.cluster.local.", dns.TypeA, append(slices.Clone(webIPs), notReady.ip)},
		// A pod's hostname under its subdomain's headless Service.
		{"web-0.web-headless.default.svc.cluster.local.", dns.TypeA, []string{c.pods("statefulset.kubernetes.io/pod-name=web-0")[0].ip}},
		{"ext.default.svc.cluster.local.", dns.TypeCNAME, []string{"CNAME example.internal."}},
		{strings.ReplaceAll(client.ip, ".", "-") + ".default.pod.cluster.local.", dns.TypeA, []string{client.ip}},
		// Anything else: CoreDNS → the node's resolver, Azure DNS at 168.63.129.16 → upstream.
		{"www.upstream.example.", dns.TypeA, []string{"192.168.77.8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, ns := range []string{podNS, nodeNS} {
				got := values(ask(t, ns, tc.name, tc.qtype))
				want := slices.Clone(tc.want)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("from %s: %v, want %v", ns, got, want)
				}
			}
		})
	}

	t.Run("pods resolve short names through their search path", func(t *testing.T) {
		// BusyBox's ping resolves as the C library does: /etc/hosts, then DNS with the search
		// path of the pod's resolv.conf.
		out, _ := c.kubectl("exec", "client", "--", "ping", "-c", "1", "-W", "1", "web")
		if ip := c.mustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"); !strings.Contains(out, "PING web ("+ip+")") {
			t.Errorf("ping web (%s): %q", ip, out)
		}
	})

	t.Run("coredns-custom: a forward zone takes effect without restarting CoreDNS", func(t *testing.T) {
		lan, lanHost, _ := makeLANHost(t, c.name)
		serveZone(t, lan, net.JoinHostPort(lanHost.String(), "53"), "corp.example.", "192.168.77.7")
		before := c.mustKubectl("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[*].metadata.uid} {.items[*].status.containerStatuses[*].restartCount}")
		custom := filepath.Join(t.TempDir(), "custom.yaml")
		if err := os.WriteFile(custom, []byte(fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: coredns-custom, namespace: kube-system}
data:
  corp.server: |
    corp.example:53 {
        errors
        forward . %s
    }
`, lanHost)), 0o644); err != nil {
			t.Fatal(err)
		}
		c.mustKubectl("apply", "-f", custom)
		// The kubelet refreshes the volume (within a minute), the reload plugin notices (30 s).
		eventually(t, 3*time.Minute, "corp.example resolved through the forward zone", func() error {
			in, err := query(podNS, "10.0.0.10:53", "intranet.corp.example.", dns.TypeA)
			if err != nil {
				return err
			}
			if got := values(in.Answer); !slices.Equal(got, []string{"192.168.77.7"}) {
				return fmt.Errorf("answer %v", got)
			}
			return nil
		})
		if after := c.mustKubectl("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[*].metadata.uid} {.items[*].status.containerStatuses[*].restartCount}"); after != before {
			t.Errorf("CoreDNS pods changed: %q, then %q", before, after)
		}
	})
}

// query asks server for name from inside ns, over UDP.
func query(ns, server, name string, qtype uint16) (*dns.Msg, error) {
	var conn net.Conn
	if err := netns.Do(ns, func() (err error) {
		conn, err = net.DialTimeout("udp", server, time.Second)
		return err
	}); err != nil {
		return nil, err
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	cl := &dns.Client{Timeout: time.Second}
	in, _, err := cl.ExchangeWithConn(m, &dns.Conn{Conn: conn})
	if err != nil {
		return nil, err
	}
	if in.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[in.Rcode])
	}
	return in, nil
}

// serveZone answers A queries under zone with ip, on addr inside ns (the host when empty),
// until the test ends, and returns the address it listens on.
func serveZone(t *testing.T, ns, addr, zone, ip string) string {
	t.Helper()
	var pc net.PacketConn
	if err := netns.Do(ns, func() (err error) {
		pc, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(zone, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if q := r.Question[0]; q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.ParseIP(ip)})
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

const dnsManifest = `
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  containers:
  - {name: shell, image: busybox, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: all-headless}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {tier: any}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: example.internal
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web-headless
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: any}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
---
apiVersion: v1
kind: Pod
metadata: {name: not-ready, labels: {app: not-ready, tier: any}}
spec:
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    readinessProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
`
