// Command ingressbench measures the app routing add-on's ingress controller on a 3-node cluster
// (`minaks up --enable-app-routing`), with the same backend pods reached two ways from a node's
// network namespace in the same run:
//
//   - requests per second over 4 keep-alive connections: through the ingress (the controller's
//     load balancer address, a Host header, then the controller's proxy) next to the backend
//     pods directly; the goal is at least 60 % of the direct rate;
//   - latency at 1,000 requests per second, paced: the p99 the ingress adds (goal ≤ 1 ms);
//   - Ingress created → its first 200 through the ingress, over -samples Ingresses created one
//     after another (goal p99 ≤ 1 s).
//
// The cluster lives in a temporary state directory and is removed at the end; traffic stays in
// the cluster's namespaces.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/test/bench/internal/benchcluster"
	"github.com/minaks/minaks/test/bench/internal/load"
)

const (
	name      = "ingbench"
	class     = "webapprouting.kubernetes.azure.com"
	benchHost = "bench.example.test"
)

func main() {
	minaks := flag.String("minaks", "bin/minaks", "minaks binary")
	samples := flag.Int("samples", 100, "Ingresses whose create → first 200 is measured (0: skip)")
	duration := flag.Duration("duration", 10*time.Second, "length of each rate and latency run")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ingressbench: run as root (minaks up needs it)")
		os.Exit(1)
	}
	if err := bench(*minaks, *samples, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "ingressbench:", err)
		os.Exit(1)
	}
}

func bench(minaks string, samples int, d time.Duration) (err error) {
	c, err := benchcluster.Up(minaks, name, 1000, 2000, "--enable-app-routing")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Down()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	// Two backends (the built-in nginx: its default page) on the second and third nodes, the
	// load from the first node's namespace.
	var backends []*v1.Pod
	for i, n := range c.Nodes[1:] {
		p := benchcluster.Pod(fmt.Sprintf("web-%d", i), n.Name, "nginx")
		p.Labels = map[string]string{"app": "web"}
		backends = append(backends, p)
	}
	if backends, err = c.Start(ctx, backends...); err != nil {
		return err
	}
	if _, err := c.API.CoreV1().Services("default").Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       v1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []v1.ServicePort{{Port: 80, TargetPort: intstr.FromInt(80)}}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	lb, err := controllerAddress(ctx, c)
	if err != nil {
		return err
	}
	if _, err := createIngress(ctx, c, "bench", benchHost); err != nil {
		return err
	}
	ns := c.NodeNS(c.Nodes[0])
	ingress := []string{net.JoinHostPort(lb, "80")}
	if _, err := firstOK(ns, ingress, benchHost, time.Minute); err != nil {
		return fmt.Errorf("the bench Ingress never answered: %w", err)
	}
	var direct []string
	for _, p := range backends {
		direct = append(direct, net.JoinHostPort(p.Status.PodIP, "80"))
	}

	fmt.Printf("\n%-62s %12s %12s %8s %8s\n", "ingress data path (3 nodes, 2 nginx pods, 4 clients, keep-alive)", "ingress", "direct", "ratio", "goal")
	viaRate, err := load.HTTPRate(ns, ingress, benchHost, "/", 4, d)
	if err != nil {
		return fmt.Errorf("through the ingress: %w", err)
	}
	directRate, err := load.HTTPRate(ns, direct, benchHost, "/", 4, d)
	if err != nil {
		return fmt.Errorf("directly: %w", err)
	}
	fmt.Printf("%-62s %12.0f %12.0f %7.0f%% %8s\n", "requests/s, node -> LB IP -> controller -> pods vs node -> pods", viaRate, directRate, 100*viaRate/directRate, ">= 60%")

	viaLat, err := load.HTTPLatency(ns, ingress, benchHost, "/", 1000, d)
	if err != nil {
		return fmt.Errorf("latency through the ingress: %w", err)
	}
	directLat, err := load.HTTPLatency(ns, direct, benchHost, "/", 1000, d)
	if err != nil {
		return fmt.Errorf("latency directly: %w", err)
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) + " ms" }
	for _, p := range []struct {
		name string
		q    float64
		goal string
	}{{"p50", 0.5, ""}, {"p99", 0.99, "+1 ms"}} {
		via, dir := load.Percentile(viaLat, p.q), load.Percentile(directLat, p.q)
		fmt.Printf("%-62s %12s %12s %8s %8s\n", "latency at 1,000 req/s, "+p.name+" (added: "+ms(via-dir)+")", ms(via), ms(dir), "", p.goal)
	}

	if samples > 0 {
		var took []time.Duration
		for i := range samples {
			host := fmt.Sprintf("h%d.example.test", i)
			start, err := createIngress(ctx, c, fmt.Sprintf("h%d", i), host)
			if err != nil {
				return err
			}
			at, err := firstOK(ns, ingress, host, 30*time.Second)
			if err != nil {
				return fmt.Errorf("Ingress %s never answered: %w", host, err)
			}
			took = append(took, at.Sub(start))
		}
		slices.Sort(took)
		fmt.Printf("\n%-62s %12s %12s %8s %8s\n", fmt.Sprintf("Ingress created -> first 200 through it (%d Ingresses)", samples), "p50", "p99", "", "goal p99")
		fmt.Printf("%-62s %12s %12s %8s %8s\n", "", ms(load.Percentile(took, 0.5)), ms(load.Percentile(took, 0.99)), "", "1 s")
		fmt.Printf("baseline: ingress-nginx applies a new Ingress with an nginx reload (at most one every ~3 s, --sync-rate-limit 0.3)\n")
	}
	return nil
}

// controllerAddress waits for the default controller's load balancer address.
func controllerAddress(ctx context.Context, c *benchcluster.Cluster) (string, error) {
	var ip string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := c.API.CoreV1().Services("app-routing-system").Get(ctx, "nginx", metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return false, nil
		}
		ip = s.Status.LoadBalancer.Ingress[0].IP
		return true, nil
	})
	return ip, err
}

// createIngress creates an Ingress of the add-on's class for host → Service web, and returns
// when the API server answered.
func createIngress(ctx context.Context, c *benchcluster.Cluster, name, host string) (time.Time, error) {
	start := time.Now()
	_, err := c.API.NetworkingV1().Ingresses("default").Create(ctx, &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To(class), Rules: []networkingv1.IngressRule{{Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}}}}},
	}, metav1.CreateOptions{})
	return start, err
}

// firstOK asks for host through addrs every 5 ms until it answers 200, and returns when.
func firstOK(ns string, addrs []string, host string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = load.HTTPGet(ns, addrs[0], host, "/"); err == nil {
			return time.Now(), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Time{}, err
}
