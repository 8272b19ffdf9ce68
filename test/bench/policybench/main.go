// Command policybench measures the network policy engines (--network-policy azure and calico,
// --network-dataplane cilium) on a 3-node cluster each:
//
//   - enforcement latency: from a NetworkPolicy's creation to its being enforced on every node,
//     seen with real connections (a deny-all ingress policy over a server pod on each node,
//     probed from a client pod until none answers), over -samples policies created one at a
//     time (goal: p99 ≤ 1 s);
//   - the data path: new TCP connections per second from a pod to a pod on another node with
//     100 policies selecting the server in force, next to the same with none (goal ≥ 80 %);
//   - a node's rule writing at 1,000 policies: the engine's own apply-time summary
//     (npm_add_policy_exec_time, felix_int_dataplane_apply_time_seconds,
//     cilium_policy_implementation_delay) for one change, next to the same at 100 policies.
//
// The clusters live in temporary state directories and are removed at the end; traffic stays
// in the clusters' namespaces.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/test/bench/internal/benchcluster"
	"github.com/minaks/minaks/test/bench/internal/load"
)

func main() {
	minaks := flag.String("minaks", "bin/minaks", "minaks binary")
	samples := flag.Int("samples", 200, "policies whose enforcement latency is measured")
	only := flag.String("engines", "azure,calico,cilium", "the engines to measure")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "policybench: run as root (minaks up needs it)")
		os.Exit(1)
	}
	for _, e := range engines {
		if !slices.Contains(strings.Split(*only, ","), e.policy) {
			continue
		}
		if err := bench(*minaks, e, *samples); err != nil {
			fmt.Fprintf(os.Stderr, "policybench (%s): %v\n", e.policy, err)
			os.Exit(1)
		}
	}
}

// engine is a --network-policy flavour, the flags that choose it, and where its agent says
// how long writing takes.
type engine struct {
	policy       string
	flags        []string
	port         int
	path, metric string
}

var engines = []engine{
	{"azure", []string{"--network-policy", "azure"}, 10091, "/node-metrics", "npm_add_policy_exec_time"},
	{"calico", []string{"--network-policy", "calico"}, 9091, "/metrics", "felix_int_dataplane_apply_time_seconds"},
	{"cilium", []string{"--network-dataplane", "cilium"}, 9962, "/metrics", "cilium_policy_implementation_delay"},
}

type cluster struct {
	*benchcluster.Cluster
	engine
	client  *v1.Pod
	backend *v1.Pod
	// targets are servers on each node, which the measured policies isolate.
	targets []*v1.Pod
}

func bench(minaks string, e engine, samples int) (err error) {
	bc, err := benchcluster.Up(minaks, "policybench", 1000, 2000, e.flags...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bc.Down()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c := &cluster{Cluster: bc, engine: e}
	if err := c.pods(ctx); err != nil {
		return err
	}
	fmt.Printf("%s (3 nodes)\n", strings.Join(e.flags, " "))

	// The data path, without policy and then with 100 selecting the backend.
	backend := net.JoinHostPort(c.backend.Status.PodIP, "8080")
	none, _, err := load.ConnRate(c.PodNS(c.client), backend, 5*time.Second)
	if err != nil {
		return err
	}
	for i := range 100 {
		if err := c.create(ctx, allowPolicy(i)); err != nil {
			return err
		}
	}
	// In force: a target pod, not a client, no longer reaches the backend.
	if err := c.until(ctx, func() bool { return !reaches(c.PodNS(c.targets[2]), backend) }); err != nil {
		return fmt.Errorf("the 100 policies are not enforced: %w", err)
	}
	with, _, err := load.ConnRate(c.PodNS(c.client), backend, 5*time.Second)
	if err != nil {
		return err
	}
	at100, err := c.applyTime(ctx, 100)
	if err != nil {
		return err
	}

	// Enforcement latency, one policy at a time.
	var lat []time.Duration
	for i := range samples {
		start := time.Now()
		if err := c.create(ctx, denyTargets(i)); err != nil {
			return err
		}
		if err := c.until(ctx, func() bool { return c.targetsReached() == 0 }); err != nil {
			return fmt.Errorf("deny-targets-%d: %w", i, err)
		}
		lat = append(lat, time.Since(start))
		if err := c.API.NetworkingV1().NetworkPolicies("default").Delete(ctx, denyTargets(i).Name, metav1.DeleteOptions{}); err != nil {
			return err
		}
		if err := c.until(ctx, func() bool { return c.targetsReached() == len(c.targets) }); err != nil {
			return fmt.Errorf("deny-targets-%d deleted: %w", i, err)
		}
	}
	slices.Sort(lat)

	// A node's rule writing at 1,000 policies.
	for i := 100; i < 1000; i++ {
		if err := c.create(ctx, allowPolicy(i)); err != nil {
			return err
		}
	}
	at1000, err := c.applyTime(ctx, 1000)
	if err != nil {
		return err
	}

	fmt.Printf("  policy created → enforced on every node  p50 %-8v p99 %-8v max %-8v (%d policies; goal p99 ≤ 1s)\n",
		load.Percentile(lat, 0.5).Round(time.Millisecond), load.Percentile(lat, 0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), len(lat))
	fmt.Printf("  new TCP connections/s pod → pod         %-8.0f with 100 policies, %-8.0f with none: %.0f %% (goal ≥ 80 %%)\n", with, none, 100*with/none)
	fmt.Printf("  a node's rule write, one change         %-8v at 1,000 policies, %-8v at 100 (%s, slowest node)\n",
		at1000.Round(time.Microsecond*100), at100.Round(time.Microsecond*100), e.metric)
	return nil
}

// pods starts the client (node 1), the backend (node 0) and a target on each node.
func (c *cluster) pods(ctx context.Context) error {
	agnhost := "registry.k8s.io/e2e-test-images/agnhost:2.53"
	client := benchcluster.Pod("client", c.Nodes[1].Name, "registry.k8s.io/pause:3.10")
	client.Labels = map[string]string{"role": "client"}
	backend := benchcluster.Pod("backend", c.Nodes[0].Name, agnhost, "netexec", "--http-port=8080", "--udp-port=-1")
	backend.Labels = map[string]string{"app": "backend"}
	pods := []*v1.Pod{client, backend}
	for i, n := range c.Nodes {
		t := benchcluster.Pod(fmt.Sprintf("target-%d", i), n.Name, agnhost, "netexec", "--http-port=8080", "--udp-port=-1")
		t.Labels = map[string]string{"app": "target"}
		pods = append(pods, t)
	}
	started, err := c.Start(ctx, pods...)
	if err != nil {
		return err
	}
	c.client, c.backend, c.targets = started[0], started[1], started[2:]
	return nil
}

func (c *cluster) create(ctx context.Context, p *networkingv1.NetworkPolicy) error {
	_, err := c.API.NetworkingV1().NetworkPolicies("default").Create(ctx, p, metav1.CreateOptions{})
	return err
}

// until polls cond every millisecond for at most 30 s.
func (c *cluster) until(ctx context.Context, cond func() bool) error {
	return wait.PollUntilContextTimeout(ctx, time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) { return cond(), nil })
}

// reaches reports whether a connection from ns to addr is answered within 30 ms (pods of one
// host answer in well under a millisecond; a policy's drop is silence).
func reaches(ns, addr string) bool {
	err := netns.Do(ns, func() error {
		conn, err := net.DialTimeout("tcp", addr, 30*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err
	})
	return err == nil
}

// targetsReached is how many targets the client reaches.
func (c *cluster) targetsReached() int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	for _, t := range c.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if reaches(c.PodNS(c.client), net.JoinHostPort(t.Status.PodIP, "8080")) {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return n
}

// allowPolicy i selects the backend and lets in, on port 8080, the client (i = 0) or pods of a
// label no pod has, as a namespace's many policies do.
func allowPolicy(i int) *networkingv1.NetworkPolicy {
	role := "client"
	if i > 0 {
		role = fmt.Sprintf("client-%d", i)
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("allow-%d", i)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "backend"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": role}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(v1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(8080))}},
			}},
		},
	}
}

// denyTargets i isolates every target.
func denyTargets(i int) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("deny-targets-%d", i)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "target"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
}

// applyTime is how long one write of a node's rules takes with n policies in the cluster, on
// the slowest node: the mean of the engine's apply-time summary over the writes that one
// policy more causes, once the writes of the n have settled.
func (c *cluster) applyTime(ctx context.Context, n int) (time.Duration, error) {
	settled := map[string][2]float64{}
	if err := c.until(ctx, func() bool {
		stable := true
		for _, node := range c.Nodes {
			sum, count, err := c.summary(node)
			if err != nil {
				return false
			}
			if prev, ok := settled[node.Name]; !ok || prev[1] != count {
				stable = false
			}
			settled[node.Name] = [2]float64{sum, count}
		}
		if !stable {
			time.Sleep(500 * time.Millisecond) // writes a second apart are one batch still
		}
		return stable
	}); err != nil {
		return 0, fmt.Errorf("the writes of %d policies do not settle: %w", n, err)
	}
	marker := allowPolicy(n)
	if err := c.create(ctx, marker); err != nil {
		return 0, err
	}
	defer c.API.NetworkingV1().NetworkPolicies("default").Delete(ctx, marker.Name, metav1.DeleteOptions{})
	var slowest time.Duration
	for _, node := range c.Nodes {
		var mean time.Duration
		if err := c.until(ctx, func() bool {
			sum, count, err := c.summary(node)
			before := settled[node.Name]
			if err != nil || count == before[1] {
				return false
			}
			mean = time.Duration((sum - before[0]) / (count - before[1]) * float64(time.Second))
			return true
		}); err != nil {
			return 0, fmt.Errorf("%s did not write policy %d: %w", node.Name, n, err)
		}
		slowest = max(slowest, mean)
	}
	return slowest, nil
}

// summary reads the engine's apply-time summary (sum, count) from a node's agent.
func (c *cluster) summary(node v1.Node) (sum, count float64, err error) {
	var conn net.Conn
	if err := netns.Do(c.NodeNS(node), func() (err error) {
		conn, err = net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), time.Second)
		return err
	}); err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	err = func() error {
		if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\n\r\n", c.path); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		found := 0
		for sc.Scan() {
			name, value, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue
			}
			switch name {
			case c.metric + "_sum":
				sum, err = strconv.ParseFloat(value, 64)
				found++
			case c.metric + "_count":
				count, err = strconv.ParseFloat(value, 64)
				found++
			}
			if err != nil {
				return err
			}
		}
		if found != 2 {
			return fmt.Errorf("no %s on %s", c.metric, node.Name)
		}
		return sc.Err()
	}()
	return sum, count, err
}
