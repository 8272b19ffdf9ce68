package calico

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"k8s.io/klog/v2"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/images/internal/netpol"
	"github.com/minaks/minaks/images/internal/xtables"
)

func init() {
	images.Register(&images.Image{
		Name:        "calico-node",
		References:  []string{"mcr.microsoft.com/oss/calico/node", "docker.io/calico/node", "quay.io/calico/node"},
		Program:     "calico-node",
		Binary:      images.KubeBinary,
		HostRoot:    true,
		Entrypoint:  []string{"/bin/calico-node", "-felix"},
		Paths:       []string{"/bin/calico-node"},
		Env:         []string{xtables.Path},
		Main:        Main,
		Description: "Calico's node agent (--network-policy calico): NetworkPolicies as Felix's cali-* chains and ipsets in the node",
	})
}

// healthPort is Felix's default HealthPort, where it serves /readiness and /liveness;
// metricsPort its PrometheusMetricsPort.
const (
	healthPort  = "9099"
	metricsPort = "9091"
)

// Main runs `calico-node -felix`, or the probes `calico-node -felix-ready | -felix-live`.
func Main(args []string) int {
	fs := flag.NewFlagSet("calico-node", flag.ContinueOnError)
	klog.InitFlags(fs)
	felix := fs.Bool("felix", false, "run Felix, the policy agent")
	ready := fs.Bool("felix-ready", false, "exit 0 if Felix is ready")
	live := fs.Bool("felix-live", false, "exit 0 if Felix is live")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	addr := net.JoinHostPort(env("FELIX_HEALTHHOST", "localhost"), env("FELIX_HEALTHPORT", healthPort))
	switch {
	case *ready:
		return probe("http://" + addr + "/readiness")
	case *live:
		return probe("http://" + addr + "/liveness")
	case !*felix:
		fmt.Fprintln(os.Stderr, "usage: calico-node -felix | -felix-ready | -felix-live")
		return 2
	}
	return netpol.Main("calico-node", "NODENAME", func(node string) *netpol.Agent { return felixAgent(node, addr) })
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// probe is calico-node's -felix-ready/-felix-live: Felix's health endpoint answers 200.
func probe(url string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "calico/node is not ready: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "calico/node is not ready: felix is not ready: %s\n", resp.Status)
		return 1
	}
	return 0
}

// felixAgent is Felix on node: the cluster's policy as Felix's rules (IPv4: AKS offers Calico
// in IPv4 clusters only). Pods on kubenet's bridge (made with the node's first pod) are told
// apart by address, and bridged packets are made to traverse iptables
// (net.bridge.bridge-nf-call-iptables, as on an AKS kubenet node), or pods of one node would
// reach each other unpoliced.
func felixAgent(node, healthAddr string) *netpol.Agent {
	applier := NewApplier(netpol.RunCommand)
	bridgeNF := false
	return &netpol.Agent{
		Name: "calico-node",
		Write: func(c *netpol.Cluster) error {
			_, err := net.InterfaceByName(endpointsBridge)
			bridged := err == nil
			if bridged && !bridgeNF {
				for _, f := range []string{"bridge-nf-call-iptables", "bridge-nf-call-ip6tables"} {
					if err := os.WriteFile("/proc/sys/net/bridge/"+f, []byte("1"), 0o644); err != nil {
						return fmt.Errorf("kubenet's bridge: %w", err)
					}
				}
				bridgeNF = true
			}
			return applier.Apply(Render(c, node, bridged))
		},
		Addr:        healthAddr,
		HealthPaths: []string{"/readiness", "/liveness"},
		MetricsAddr: ":" + metricsPort,
		MetricsPath: "/metrics",
		ApplyTime:   "felix_int_dataplane_apply_time_seconds",
	}
}

// NewApplier writes Felix's sets and chains: cali-FORWARD and cali-INPUT first in FORWARD and
// INPUT (Felix's ChainInsertMode insert), and at FORWARD's end the accept of what policy
// accepted, after kube-proxy's chains.
func NewApplier(run netpol.Exec) *netpol.Applier {
	first := func([]string) int { return 0 }
	last := func(others []string) int { return len(others) }
	return &netpol.Applier{
		Run:         run,
		SetPrefix:   setPrefix,
		ChainPrefix: chainPrefix,
		TempSet:     setPrefix + "-minaks-swap",
		Jumps: []netpol.Jump{
			{Chain: "FORWARD", Place: first,
				Args:  []string{"-m", "comment", "--comment", "cali:wUHhoiAYhphO9Mso", "-j", chainForward},
				Saved: "-m comment --comment cali:wUHhoiAYhphO9Mso -j " + chainForward},
			{Chain: "FORWARD", Place: last,
				Args:  []string{"-m", "comment", "--comment", "cali:S93hcgKJrXEqnTfs", "-m", "comment", "--comment", "Policy explicitly accepted packet.", "-m", "mark", "--mark", markAccept, "-j", "ACCEPT"},
				Saved: `-m comment --comment cali:S93hcgKJrXEqnTfs -m comment --comment "Policy explicitly accepted packet." -m mark --mark ` + markAccept + " -j ACCEPT"},
			{Chain: "INPUT", Place: first,
				Args:  []string{"-m", "comment", "--comment", "cali:Cz_u1IQiXIMmKD4c", "-j", chainInput},
				Saved: "-m comment --comment cali:Cz_u1IQiXIMmKD4c -j " + chainInput},
		},
	}
}
