// Package httpbench measures an L7 proxy in front of pods on a benchmark cluster: requests per
// second and the latency it adds, next to the same pods asked directly in the same run, and
// how soon a new route answers. ingressbench (app routing's NGINX) and gatewaybench (app
// routing's Gateway API) share it.
package httpbench

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/minaks/minaks/test/bench/internal/benchcluster"
	"github.com/minaks/minaks/test/bench/internal/load"
)

// StartWeb starts the backends, the built-in nginx (its default page) on every node but the
// first, behind the Service web (port 80), and returns their addresses.
func StartWeb(ctx context.Context, c *benchcluster.Cluster) ([]string, error) {
	var pods []*v1.Pod
	for i, n := range c.Nodes[1:] {
		p := benchcluster.Pod(fmt.Sprintf("web-%d", i), n.Name, "nginx")
		p.Labels = map[string]string{"app": "web"}
		pods = append(pods, p)
	}
	pods, err := c.Start(ctx, pods...)
	if err != nil {
		return nil, err
	}
	if _, err := c.API.CoreV1().Services("default").Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       v1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []v1.ServicePort{{Port: 80, TargetPort: intstr.FromInt(80)}}},
	}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	var addrs []string
	for _, p := range pods {
		addrs = append(addrs, net.JoinHostPort(p.Status.PodIP, "80"))
	}
	return addrs, nil
}

// DataPath prints requests per second (4 keep-alive clients) and the latency at 1,000
// requests per second through front (with Host host) next to the pods at direct, all from the
// namespace ns.
func DataPath(ns, title, path string, front, direct []string, host string, d time.Duration) error {
	fmt.Printf("\n%-62s %12s %12s %8s %8s\n", title, "proxied", "direct", "ratio", "goal")
	via, err := load.HTTPRate(ns, front, host, "/", 4, d)
	if err != nil {
		return fmt.Errorf("through the proxy: %w", err)
	}
	dir, err := load.HTTPRate(ns, direct, host, "/", 4, d)
	if err != nil {
		return fmt.Errorf("directly: %w", err)
	}
	fmt.Printf("%-62s %12.0f %12.0f %7.0f%% %8s\n", "requests/s, "+path, via, dir, 100*via/dir, ">= 60%")
	viaLat, err := load.HTTPLatency(ns, front, host, "/", 1000, d)
	if err != nil {
		return fmt.Errorf("latency through the proxy: %w", err)
	}
	dirLat, err := load.HTTPLatency(ns, direct, host, "/", 1000, d)
	if err != nil {
		return fmt.Errorf("latency directly: %w", err)
	}
	for _, p := range []struct {
		name string
		q    float64
		goal string
	}{{"p50", 0.5, ""}, {"p99", 0.99, "+1 ms"}} {
		v, w := load.Percentile(viaLat, p.q), load.Percentile(dirLat, p.q)
		fmt.Printf("%-62s %12s %12s %8s %8s\n", "latency at 1,000 req/s, "+p.name+" (added: "+ms(v-w)+")", ms(v), ms(w), "", p.goal)
	}
	return nil
}

// FirstAnswers creates n routes one after another with create (which returns the route's
// host name and when it created it) and prints how long each took to answer 200 through
// front, from ns.
func FirstAnswers(ns, title string, front []string, n int, create func(i int) (host string, start time.Time, err error)) error {
	var took []time.Duration
	for i := range n {
		host, start, err := create(i)
		if err != nil {
			return err
		}
		at, err := FirstOK(ns, front, host, 30*time.Second)
		if err != nil {
			return fmt.Errorf("%s never answered: %w", host, err)
		}
		took = append(took, at.Sub(start))
	}
	slices.Sort(took)
	fmt.Printf("\n%-62s %12s %12s %8s %8s\n", fmt.Sprintf("%s (%d)", title, n), "p50", "p99", "", "goal p99")
	fmt.Printf("%-62s %12s %12s %8s %8s\n", "", ms(load.Percentile(took, 0.5)), ms(load.Percentile(took, 0.99)), "", "1 s")
	return nil
}

// FirstOK asks for host through addrs every 5 ms until it answers 200, and returns when.
func FirstOK(ns string, addrs []string, host string, timeout time.Duration) (time.Time, error) {
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

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) + " ms" }
