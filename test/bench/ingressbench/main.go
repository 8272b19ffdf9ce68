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
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/test/bench/internal/benchcluster"
	"github.com/minaks/minaks/test/bench/internal/httpbench"
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

	direct, err := httpbench.StartWeb(ctx, c)
	if err != nil {
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
	front := []string{net.JoinHostPort(lb, "80")}
	if _, err := httpbench.FirstOK(ns, front, benchHost, time.Minute); err != nil {
		return fmt.Errorf("the bench Ingress never answered: %w", err)
	}
	if err := httpbench.DataPath(ns, "ingress data path (3 nodes, 2 nginx pods, 4 clients, keep-alive)",
		"node -> LB IP -> controller -> pods vs node -> pods", front, direct, benchHost, d); err != nil {
		return err
	}
	if samples > 0 {
		if err := httpbench.FirstAnswers(ns, "Ingress created -> first 200 through it", front, samples, func(i int) (string, time.Time, error) {
			host := fmt.Sprintf("h%d.example.test", i)
			start, err := createIngress(ctx, c, fmt.Sprintf("h%d", i), host)
			return host, start, err
		}); err != nil {
			return err
		}
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
// when it sent the request.
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
