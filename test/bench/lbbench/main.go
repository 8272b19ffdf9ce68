// Command lbbench measures the emulated Azure Standard Load Balancer on a 3-node cluster:
//
//   - provisioning: from a Service of type LoadBalancer's creation to its external IP in the
//     status, and to the first successful HTTP request through it from the host, over -samples
//     Services created one at a time (AKS takes minutes; the target is 200 ms / 500 ms p99);
//   - probe failure detection: from a backend's failure (its Service's endpoints removed, so
//     every node's NodePort refuses) to the probe marking it down, next to Azure's
//     interval × numberOfProbes;
//   - the data path: new connections per second and single-stream throughput from the host
//     through the external IP, next to the host through a NodePort and pod → pod in the same run.
//
// The cluster lives in a temporary state directory and is removed at the end; traffic stays in
// the cluster's namespaces and the host's routes into them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/azlb"
	"github.com/minaks/minaks/pkg/azlb/dataplane"
	"github.com/minaks/minaks/test/bench/internal/benchcluster"
	"github.com/minaks/minaks/test/bench/internal/load"
)

func main() {
	minaks := flag.String("minaks", "bin/minaks", "minaks binary")
	samples := flag.Int("samples", 100, "Services whose provisioning is measured (0: skip)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "lbbench: run as root (minaks up needs it)")
		os.Exit(1)
	}
	if err := bench(*minaks, *samples); err != nil {
		fmt.Fprintln(os.Stderr, "lbbench:", err)
		os.Exit(1)
	}
}

const name = "lbbench"

type cluster struct {
	*benchcluster.Cluster
	// backend is an agnhost netexec pod (HTTP on 8080) on the first node; client a pause pod
	// on the second.
	backend, client *v1.Pod
}

func bench(minaks string, samples int) (err error) {
	bc, err := benchcluster.Up(minaks, name, 1000, 2000)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bc.Down()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c := &cluster{Cluster: bc}
	if c.backend, c.client, err = c.BackendAndClient(ctx); err != nil {
		return err
	}
	if err := c.dataPath(ctx); err != nil {
		return err
	}
	if samples > 0 {
		if err := c.provisioning(ctx, samples); err != nil {
			return err
		}
	}
	return c.probeDetection(ctx)
}

// createLB creates a Service of type LoadBalancer on port 80 whose endpoint is the backend
// pod's targetPort (an EndpointSlice made first, so that only the load balancer is measured).
func (c *cluster) createLB(ctx context.Context, svcName string, targetPort int, annotations map[string]string) (*v1.Service, error) {
	if err := c.createEndpoints(ctx, svcName, targetPort); err != nil {
		return nil, err
	}
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: svcName, Annotations: annotations},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer,
			Ports: []v1.ServicePort{{Port: 80, TargetPort: intstr.FromInt(targetPort)}}},
	}
	return c.API.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
}

// createEndpoints makes the Service's EndpointSlice: the backend pod's targetPort.
func (c *cluster) createEndpoints(ctx context.Context, svcName string, targetPort int) error {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svcName, Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{c.backend.Status.PodIP}, NodeName: &c.backend.Spec.NodeName,
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(""), Port: ptr.To(int32(targetPort)), Protocol: ptr.To(v1.ProtocolTCP)}},
	}
	_, err := c.API.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{})
	return err
}

// externalIP waits for the Service's external IP.
func (c *cluster) externalIP(ctx context.Context, svcName string) (string, error) {
	var ip string
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := c.API.CoreV1().Services("default").Get(ctx, svcName, metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return false, nil
		}
		ip = s.Status.LoadBalancer.Ingress[0].IP
		return true, nil
	})
	return ip, err
}

// provisioning creates n Services one at a time and reports create → external IP and
// create → first HTTP 200 through it from the host.
func (c *cluster) provisioning(ctx context.Context, n int) error {
	var toIP, toLB, toHTTP []time.Duration
	// Local round trips take well under a millisecond: a short timeout keeps the measurement
	// fine-grained while the nodes' kube-proxy has not caught up yet.
	httpc := &http.Client{Timeout: 50 * time.Millisecond}
	for i := range n {
		// As Services come from people and pipelines, not all at once: 2 s apart, more than
		// kube-proxy's minSyncPeriod.
		time.Sleep(2 * time.Second)
		svcName := fmt.Sprintf("lb-%d", i)
		start := time.Now()
		if _, err := c.createLB(ctx, svcName, 8080, nil); err != nil {
			return err
		}
		ip, err := c.externalIP(ctx, svcName)
		if err != nil {
			return fmt.Errorf("%s: no external IP: %w", svcName, err)
		}
		toIP = append(toIP, time.Since(start))
		if err := c.waitProbes(ip, dataplane.Up, 10*time.Millisecond, false); err != nil {
			return fmt.Errorf("%s: no healthy backend: %w", svcName, err)
		}
		toLB = append(toLB, time.Since(start))
		err = wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			resp, err := httpc.Get("http://" + ip + "/hostname")
			if err != nil {
				return false, nil
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, nil
		})
		if err != nil {
			return fmt.Errorf("%s (%s) never answered: %w", svcName, ip, err)
		}
		toHTTP = append(toHTTP, time.Since(start))
	}
	pct := func(v []time.Duration, p float64) time.Duration {
		slices.Sort(v)
		return v[min(len(v)-1, int(float64(len(v))*p))].Round(time.Millisecond)
	}
	fmt.Printf("\n%-58s %10s %10s %10s\n", fmt.Sprintf("Service type=LoadBalancer provisioning (%d Services, 2 s apart)", n), "p50", "p99", "target p99")
	fmt.Printf("%-58s %10v %10v %10s\n", "created -> status.loadBalancer.ingress set", pct(toIP, 0.5), pct(toIP, 0.99), "200ms")
	fmt.Printf("%-58s %10v %10v %10s\n", "created -> a backend passes its probe (fabric programmed)", pct(toLB, 0.5), pct(toLB, 0.99), "")
	fmt.Printf("%-58s %10v %10v %10s\n", "created -> first HTTP 200 through it from the host", pct(toHTTP, 0.5), pct(toHTTP, 0.99), "500ms")
	fmt.Printf("(the last two wait for every node's kube-proxy to program the NodePort and the new IP; it syncs at most once per minSyncPeriod, 1 s, after a short burst)\n")
	fmt.Printf("baseline: AKS provisions an Azure load balancer rule and public IP in minutes\n")
	return nil
}

// probeDetection removes the endpoints of a Service with the default probe (TCP on the
// NodePort, 5 s × 2) and reports when every backend was marked down.
func (c *cluster) probeDetection(ctx context.Context) error {
	const svcName = "probed"
	if _, err := c.createLB(ctx, svcName, 8080, nil); err != nil {
		return err
	}
	ip, err := c.externalIP(ctx, svcName)
	if err != nil {
		return err
	}
	if err := c.waitProbes(ip, dataplane.Up, 50*time.Millisecond, true); err != nil {
		return err
	}
	var results []time.Duration
	for range 3 {
		start := time.Now()
		if err := c.API.DiscoveryV1().EndpointSlices("default").Delete(ctx, svcName, metav1.DeleteOptions{}); err != nil {
			return err
		}
		if err := c.waitProbes(ip, dataplane.Down, 50*time.Millisecond, true); err != nil {
			return err
		}
		results = append(results, time.Since(start))
		// Back up for the next round.
		if err := c.createEndpoints(ctx, svcName, 8080); err != nil {
			return err
		}
		if err := c.waitProbes(ip, dataplane.Up, 50*time.Millisecond, true); err != nil {
			return err
		}
	}
	slices.Sort(results)
	fmt.Printf("\n%-58s %10s %10s %14s\n", "probe failure detection (TCP on the NodePort, 3 rounds)", "min", "max", "Azure")
	fmt.Printf("%-58s %10v %10v %14s\n", "endpoints removed -> every backend down",
		results[0].Round(100*time.Millisecond), results[len(results)-1].Round(100*time.Millisecond), "5s x 2 = 10s")
	fmt.Printf("(kube-proxy removes the NodePort's endpoint up to its minSyncPeriod, 1 s, after the change)\n")
	return nil
}

// waitProbes waits until every probe of the Service at ip is in state (any one, unless all),
// from the status file.
func (c *cluster) waitProbes(ip, state string, every time.Duration, all bool) error {
	return wait.PollUntilContextTimeout(context.Background(), every, 2*time.Minute, true, func(context.Context) (bool, error) {
		b, err := os.ReadFile(filepath.Join(c.StateDir, azlb.StatusFile))
		if err != nil {
			return false, nil
		}
		var st azlb.Status
		if json.Unmarshal(b, &st) != nil {
			return false, nil
		}
		base := ""
		for _, s := range st.Services {
			if s.FrontendIP == ip {
				base = s.Base
			}
		}
		n, in := 0, 0
		for _, h := range st.Health {
			if base != "" && strings.HasPrefix(h.Probe, base) {
				n++
				if h.State == state {
					in++
				}
			}
		}
		if all {
			return n > 0 && in == n, nil
		}
		return in > 0, nil
	})
}

// dataPath compares the host through the external IP, the host through a NodePort, and pod →
// pod, to a sink in the backend pod's namespace.
func (c *cluster) dataPath(ctx context.Context) error {
	const port = 9000
	l, err := load.Sink(c.PodNS(c.backend), net.JoinHostPort(c.backend.Status.PodIP, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer l.Close()
	svc, err := c.createLB(ctx, "datapath", port, nil)
	if err != nil {
		return err
	}
	ip, err := c.externalIP(ctx, svc.Name)
	if err != nil {
		return err
	}
	if svc, err = c.API.CoreV1().Services("default").Get(ctx, svc.Name, metav1.GetOptions{}); err != nil {
		return err
	}
	node, err := c.API.CoreV1().Nodes().Get(ctx, c.backend.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	viaLB := net.JoinHostPort(ip, "80")
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		conn, err := net.DialTimeout("tcp", viaLB, 200*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("%s never answered: %w", viaLB, err)
	}
	paths := []struct {
		what, ns, addr string
	}{
		{"pod -> pod", c.PodNS(c.client), net.JoinHostPort(c.backend.Status.PodIP, strconv.Itoa(port))},
		{"host -> NodePort", "", net.JoinHostPort(node.Status.Addresses[0].Address, strconv.Itoa(int(svc.Spec.Ports[0].NodePort)))},
		{"host -> external IP", "", viaLB},
	}
	conns := make([][]float64, len(paths))
	tput := make([][]float64, len(paths))
	for range 3 {
		for i, p := range paths {
			n, lost, err := load.ConnRate(p.ns, p.addr, 3*time.Second)
			if err != nil {
				return fmt.Errorf("%s: %w", p.what, err)
			}
			if lost > 0 {
				fmt.Printf("%s: %d connections lost (no answer within 1 s)\n", p.what, lost)
			}
			conns[i] = append(conns[i], n)
			bps, err := load.Throughput(p.ns, p.addr, 3*time.Second)
			if err != nil {
				return fmt.Errorf("%s: %w", p.what, err)
			}
			tput[i] = append(tput[i], bps)
		}
	}
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	fmt.Printf("\n%-44s %14s %18s %20s %7s\n", "data path (median of 3 rounds)", paths[0].what, paths[1].what, paths[2].what, "LB/pod")
	fmt.Printf("%-44s %14.0f %18.0f %20.0f %6.0f%%\n", "new TCP connections per second (4 clients)",
		med(conns[0]), med(conns[1]), med(conns[2]), 100*med(conns[2])/med(conns[0]))
	fmt.Printf("%-44s %9.2f Gb/s %13.2f Gb/s %15.2f Gb/s %6.0f%%\n", "single-stream throughput",
		med(tput[0])/1e9, med(tput[1])/1e9, med(tput[2])/1e9, 100*med(tput[2])/med(tput[0]))
	fmt.Printf("target: through the external IP >= 90%% of pod -> pod\n")
	return nil
}
