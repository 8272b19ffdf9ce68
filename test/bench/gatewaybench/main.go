// Command gatewaybench measures app routing's Gateway API implementation on a 3-node cluster
// (`minaks up --enable-gateway-api --enable-app-routing-istio`), with the same backend pods
// reached two ways from a node's network namespace in the same run:
//
//   - requests per second over 4 keep-alive connections through a Gateway of class
//     approuting-istio (its load balancer address, then its proxy) next to the pods directly;
//     the goal is at least 60 % of the direct rate;
//   - latency at 1,000 requests per second: the p99 the Gateway adds;
//   - HTTPRoute created → its first 200 through the Gateway, over -samples HTTPRoutes created
//     one after another (goal p99 ≤ 1 s).
//
// The cluster lives in a temporary state directory and is removed at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/minaks/minaks/test/bench/internal/benchcluster"
	"github.com/minaks/minaks/test/bench/internal/httpbench"
)

const (
	name      = "gwbench"
	benchHost = "bench.example.test"
)

func main() {
	minaks := flag.String("minaks", "bin/minaks", "minaks binary")
	samples := flag.Int("samples", 100, "HTTPRoutes whose create → first 200 is measured (0: skip)")
	duration := flag.Duration("duration", 10*time.Second, "length of each rate and latency run")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "gatewaybench: run as root (minaks up needs it)")
		os.Exit(1)
	}
	if err := bench(*minaks, *samples, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaybench:", err)
		os.Exit(1)
	}
}

func bench(minaks string, samples int, d time.Duration) (err error) {
	c, err := benchcluster.Up(minaks, name, 1000, 2000, "--enable-gateway-api", "--enable-app-routing-istio")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Down()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return err
	}
	gw, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return err
	}

	direct, err := httpbench.StartWeb(ctx, c)
	if err != nil {
		return err
	}
	if _, err := gw.GatewayV1().Gateways("default").Create(ctx, &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "approuting-istio",
			Listeners: []gatewayv1.Listener{{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	addr, err := gatewayAddress(ctx, gw)
	if err != nil {
		return err
	}
	if _, err := createRoute(ctx, gw, "bench", benchHost); err != nil {
		return err
	}
	ns := c.NodeNS(c.Nodes[0])
	front := []string{net.JoinHostPort(addr, "80")}
	if _, err := httpbench.FirstOK(ns, front, benchHost, 2*time.Minute); err != nil {
		return fmt.Errorf("the bench HTTPRoute never answered: %w", err)
	}
	if err := httpbench.DataPath(ns, "Gateway data path (3 nodes, 2 nginx pods, 4 clients, keep-alive)",
		"node -> LB IP -> gateway proxy -> pods vs node -> pods", front, direct, benchHost, d); err != nil {
		return err
	}
	if samples > 0 {
		return httpbench.FirstAnswers(ns, "HTTPRoute created -> first 200 through the Gateway", front, samples, func(i int) (string, time.Time, error) {
			host := fmt.Sprintf("h%d.example.test", i)
			start, err := createRoute(ctx, gw, fmt.Sprintf("h%d", i), host)
			return host, start, err
		})
	}
	return nil
}

// gatewayAddress waits for the bench Gateway's address.
func gatewayAddress(ctx context.Context, gw gatewayclient.Interface) (string, error) {
	var ip string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		g, err := gw.GatewayV1().Gateways("default").Get(ctx, "bench", metav1.GetOptions{})
		if err != nil || len(g.Status.Addresses) == 0 {
			return false, nil
		}
		ip = g.Status.Addresses[0].Value
		return true, nil
	})
	return ip, err
}

// createRoute creates an HTTPRoute for host → Service web on the bench Gateway.
func createRoute(ctx context.Context, gw gatewayclient.Interface, name, host string) (time.Time, error) {
	start := time.Now()
	port := gatewayv1.PortNumber(80)
	_, err := gw.GatewayV1().HTTPRoutes("default").Create(ctx, &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "bench"}}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(host)},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "web", Port: &port}}}}}},
		},
	}, metav1.CreateOptions{})
	return start, err
}
