// Command proxybench measures Service networking on a 3-node cluster (kube-proxy in iptables
// mode, as on AKS):
//
//   - network programming latency: from a Service's creation (its EndpointSlice already there)
//     to a connection to its ClusterIP succeeding from every node, over -samples Services
//     added to -services existing ones;
//   - one node's full sync (kube-proxy restarted, its kubeproxy_sync_full_proxy_rules_duration)
//     at -services and at -big Services, next to restoring the same rules into an empty
//     namespace with iptables-restore (nf_tables backend), iptables-legacy-restore, and nft -f
//     of their translation;
//   - the data path from a pod: new connections per second and single-stream throughput to a
//     ClusterIP and directly to the pod behind it.
//
// The cluster lives in a temporary state directory and is removed at the end; traffic stays in
// the cluster's namespaces.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/netstack/netnstest"
	"github.com/minaks/minaks/test/bench/internal/benchcluster"
	"github.com/minaks/minaks/test/bench/internal/load"
)

func main() {
	minaks := flag.String("minaks", "bin/minaks", "minaks binary")
	services := flag.Int("services", 1000, "Services in the cluster while latency is measured")
	big := flag.Int("big", 10000, "Services for the second full-sync measurement (0: skip)")
	samples := flag.Int("samples", 100, "Services whose programming latency is measured")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "proxybench: run as root (minaks up needs it)")
		os.Exit(1)
	}
	if err := bench(*minaks, *services, *big, *samples); err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}

const name = "proxybench"

type cluster struct {
	*benchcluster.Cluster
	// backend is an agnhost netexec pod (HTTP on 8080) on the first node; client a pause pod
	// on the second, whose namespace the data path is measured from.
	backend, client *v1.Pod
}

func bench(minaks string, services, big, samples int) (err error) {
	bc, err := benchcluster.Up(minaks, name, 1000, 2000)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bc.Down()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c := &cluster{Cluster: bc}
	if c.backend, c.client, err = c.BackendAndClient(ctx); err != nil {
		return err
	}

	// Data path first, on a quiet cluster.
	if err := dataPath(ctx, c); err != nil {
		return err
	}

	fmt.Printf("\nCreating %d Services ...\n", services)
	if err := createServices(ctx, c, 0, services); err != nil {
		return err
	}
	lat, err := programmingLatency(ctx, c, services, samples)
	if err != nil {
		return err
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	fmt.Printf("\n%-62s %10s %10s %10s\n", fmt.Sprintf("network programming latency (%d Services, 3 nodes, iptables)", services), "p50", "p99", "max")
	fmt.Printf("%-62s %10v %10v %10v\n", "Service created -> ClusterIP answers on every node", pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	fmt.Printf("target: p99 <= 1.5s (kube-proxy's minSyncPeriod is 1s)\n")

	fmt.Printf("\n%-40s %12s %16s %14s %10s\n", "full sync of one node", "kube-proxy", "iptables-restore", "legacy-restore", "nft -f")
	if err := fullSync(ctx, c, services+samples); err != nil {
		return err
	}
	if big > services+samples {
		fmt.Printf("Creating %d more Services ...\n", big-services-samples)
		if err := createServices(ctx, c, services+samples, big); err != nil {
			return err
		}
		if err := fullSync(ctx, c, big); err != nil {
			return err
		}
	}
	return nil
}

// serviceIP is the i-th benchmark Service's ClusterIP, set explicitly so that probers know it
// before the Service exists: 10.0.128.0/17 of the default 10.0.0.0/16 range.
func serviceIP(i int) string {
	return netip.AddrFrom4([4]byte{10, 0, byte(128 + i/250), byte(1 + i%250)}).String()
}

// createServices creates Services from..to-1 without selectors, each with an EndpointSlice that
// points at the backend pod, 16 at a time.
func createServices(ctx context.Context, c *cluster, from, to int) error {
	work := make(chan int)
	errc := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := createService(ctx, c, i, 8080); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for i := from; i < to; i++ {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func createService(ctx context.Context, c *cluster, i, targetPort int) error {
	return createServiceAt(ctx, c, fmt.Sprintf("svc-%d", i), serviceIP(i), targetPort)
}

func createServiceAt(ctx context.Context, c *cluster, svcName, ip string, targetPort int) error {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svcName, Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{c.backend.Status.PodIP}, NodeName: &c.backend.Spec.NodeName,
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(""), Port: ptr.To(int32(targetPort)), Protocol: ptr.To(v1.ProtocolTCP)}},
	}
	if _, err := c.API.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		return err
	}
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: svcName},
		Spec:       v1.ServiceSpec{ClusterIP: ip, Ports: []v1.ServicePort{{Port: 80, TargetPort: intstr.FromInt(targetPort)}}},
	}
	_, err := c.API.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	return err
}

// programmingLatency creates Services first..first+n-1 one at a time and, for each, returns
// the time from its create call until a connection to its ClusterIP succeeded from every node.
func programmingLatency(ctx context.Context, c *cluster, first, n int) ([]time.Duration, error) {
	// The last bulk Service answering everywhere: the bulk is programmed.
	if _, err := probeAll(ctx, c, serviceIP(first-1), time.Now()); err != nil {
		return nil, err
	}
	var out []time.Duration
	for i := first; i < first+n; i++ {
		// Changes come at random moments, not in step with kube-proxy's syncs (at most one a
		// second, its minSyncPeriod).
		time.Sleep(time.Duration(rand.Int64N(int64(1500 * time.Millisecond))))
		start := time.Now()
		done := make(chan struct{})
		var lat time.Duration
		var perr error
		go func() {
			defer close(done)
			lat, perr = probeAll(ctx, c, serviceIP(i), start)
		}()
		if err := createService(ctx, c, i, 8080); err != nil {
			return nil, err
		}
		<-done
		if perr != nil {
			return nil, perr
		}
		out = append(out, lat)
	}
	return out, nil
}

// probeAll connects to ip:80 from every node until it works everywhere and returns the time
// since start at which the last node got through.
func probeAll(ctx context.Context, c *cluster, ip string, start time.Time) (time.Duration, error) {
	var (
		mu   sync.Mutex
		last time.Duration
		wg   sync.WaitGroup
		errs []error
	)
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := netns.Do(c.NodeNS(n), func() error {
				d := net.Dialer{Timeout: 20 * time.Millisecond}
				for ctx.Err() == nil && time.Since(start) < 2*time.Minute {
					conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, "80"))
					if err == nil {
						at := time.Since(start)
						conn.Close()
						mu.Lock()
						last = max(last, at)
						mu.Unlock()
						return nil
					}
					time.Sleep(5 * time.Millisecond)
				}
				return fmt.Errorf("%s: %s:80 never answered", n.Name, ip)
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return last, errors.Join(errs...)
}

// fullSync restarts the first node's kube-proxy, reads how long its first (full) sync took
// from its metrics, and restores the node's rules into an empty namespace with each tool.
func fullSync(ctx context.Context, c *cluster, services int) error {
	node := c.Nodes[0]
	ns := c.NodeNS(node)
	pid, err := netnstest.PID(ns, "kube-proxy")
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	nodeIP := ""
	for _, a := range node.Status.Addresses {
		if a.Type == v1.NodeInternalIP {
			nodeIP = a.Address
			break
		}
	}
	var proxySync time.Duration
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		if newPID, err := netnstest.PID(ns, "kube-proxy"); err != nil || newPID == pid {
			return false, nil
		}
		sum, count, err := metric(nodeIP, "kubeproxy_sync_full_proxy_rules_duration_seconds")
		if err != nil || count < 1 {
			return false, nil
		}
		// The first full sync after start: the one that wrote everything.
		proxySync = time.Duration(sum / count * float64(time.Second))
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("kube-proxy's full sync after restart: %w", err)
	}
	dump, err := netns.Run(ns, "", "iptables-legacy-save")
	if err != nil {
		return err
	}
	// kube-proxy counts the invalid packets it drops with an nfacct object that it makes over
	// netlink first; the scratch namespace has none, so the bare restores go without the match.
	dump = regexp.MustCompile(` -m nfacct --nfacct-name +\S+`).ReplaceAll(dump, nil)
	scratch := "minaks-proxybench-scratch"
	restore := func(stdin []byte, argv ...string) (time.Duration, error) {
		if err := netns.Create(scratch); err != nil {
			return 0, err
		}
		defer netns.Delete(scratch)
		start := time.Now()
		if out, err := netns.Run(scratch, string(stdin), argv...); err != nil {
			return 0, fmt.Errorf("%v: %v: %s", argv, err, out)
		}
		return time.Since(start), nil
	}
	f := filepath.Join(os.TempDir(), "proxybench-rules")
	if err := os.WriteFile(f, dump, 0o600); err != nil {
		return err
	}
	defer os.Remove(f)
	nftDump, err := exec.Command("iptables-restore-translate", "-f", f).Output()
	if err != nil {
		return fmt.Errorf("iptables-restore-translate: %w", err)
	}
	// The translator loses the protocol match of kube-proxy's DNAT rules ("-p tcp -m tcp -j
	// DNAT --to-destination ip:port"), which nft then refuses; every bench Service is TCP.
	nftDump = regexp.MustCompile(`(?m) counter dnat to `).ReplaceAll(nftDump, []byte(" meta l4proto tcp counter dnat to "))
	nftRestore, err := restore(nftDump, "nft", "-f", "-")
	if err != nil {
		return err
	}
	nftBackend, err := restore(dump, "iptables-nft-restore")
	if err != nil {
		return err
	}
	legacy, err := restore(dump, "iptables-legacy-restore")
	if err != nil {
		return err
	}
	lines := strings.Count(string(dump), "\n-A ")
	fmt.Printf("%-40s %12v %16v %14v %10v\n", fmt.Sprintf("%d Services (%d rules)", services, lines),
		proxySync.Round(time.Millisecond), nftBackend.Round(time.Millisecond), legacy.Round(time.Millisecond), nftRestore.Round(time.Millisecond))
	return nil
}

// metric reads a histogram's sum and count from kube-proxy's metrics on the node.
func metric(nodeIP, name string) (sum, count float64, err error) {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + net.JoinHostPort(nodeIP, "10249") + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	read := func(suffix string) float64 {
		m := regexp.MustCompile(`(?m)^` + name + suffix + `(?:\{[^}]*\})? (\S+)$`).FindSubmatch(b)
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	return read("_sum"), read("_count"), nil
}

// dataPath measures, from the client pod, new connections per second and single-stream
// throughput to a ClusterIP and directly to the pod behind it, alternating three rounds.
func dataPath(ctx context.Context, c *cluster) error {
	const port = 9000
	l, err := load.Sink(c.PodNS(c.backend), net.JoinHostPort(c.backend.Status.PodIP, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer l.Close()
	const svcIP = "10.0.127.250" // below every bulk Service's
	if err := createServiceAt(ctx, c, "datapath", svcIP, port); err != nil {
		return err
	}
	if _, err := probeAll(ctx, c, svcIP, time.Now()); err != nil {
		return err
	}
	direct := net.JoinHostPort(c.backend.Status.PodIP, strconv.Itoa(port))
	viaService := net.JoinHostPort(svcIP, "80")
	var connDirect, connSvc, tputDirect, tputSvc []float64
	for range 3 {
		for _, t := range []struct {
			addr       string
			conns, bps *[]float64
		}{{direct, &connDirect, &tputDirect}, {viaService, &connSvc, &tputSvc}} {
			n, lost, err := load.ConnRate(c.PodNS(c.client), t.addr, 3*time.Second)
			if err != nil {
				return err
			}
			if lost > 0 {
				fmt.Printf("%s: %d connections lost (no answer within 1 s)\n", t.addr, lost)
			}
			*t.conns = append(*t.conns, n)
			bps, err := load.Throughput(c.PodNS(c.client), t.addr, 3*time.Second)
			if err != nil {
				return err
			}
			*t.bps = append(*t.bps, bps)
		}
	}
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	fmt.Printf("\n%-50s %16s %16s %8s\n", "data path from a pod (median of 3 rounds)", "pod -> pod", "pod -> ClusterIP", "ratio")
	fmt.Printf("%-50s %16.0f %16.0f %7.0f%%\n", "new TCP connections per second (4 clients)", med(connDirect), med(connSvc), 100*med(connSvc)/med(connDirect))
	fmt.Printf("%-50s %13.2f Gb/s %13.2f Gb/s %7.0f%%\n", "single-stream throughput", med(tputDirect)/1e9, med(tputSvc)/1e9, 100*med(tputSvc)/med(tputDirect))
	fmt.Printf("target: pod -> ClusterIP connection rate >= 90%% of pod -> pod\n")
	return nil
}
