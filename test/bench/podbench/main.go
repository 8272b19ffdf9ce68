// Command podbench measures pod startup latency, from the create call to the pod's Ready
// condition seen through a watch, over pods created at a steady rate on a 3-node cluster; and
// the memory of idle built-in pods (pause and agnhost netexec). The Kubernetes pod startup SLO
// (p99 <= 5 s) and minaks's own target are printed next to them. The cluster lives in a
// temporary state directory and is removed at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/minaks/minaks/test/bench/internal/benchcluster"
)

func main() {
	minaks := flag.String("minaks", "bin/minaks", "minaks binary")
	pods := flag.Int("pods", 300, "pods to create")
	rate := flag.Float64("rate", 30, "pods created per second")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "podbench: run as root (minaks up needs it)")
		os.Exit(1)
	}
	if err := bench(*minaks, *pods, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "podbench:", err)
		os.Exit(1)
	}
}

func bench(minaks string, n int, rate float64) (err error) {
	bc, err := benchcluster.Up(minaks, "podbench", 100, 200)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bc.Down()) }()
	client := bc.API
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	latencies, scheduled, err := startup(ctx, client, n, rate)
	if err != nil {
		return err
	}
	slices.Sort(latencies)
	slices.Sort(scheduled)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(float64(len(latencies))*p))] }
	fmt.Printf("\n%-58s %10s %10s %10s\n", fmt.Sprintf("pod startup, create -> Ready (%d pause pods, %.0f/s, 3 nodes)", n, rate), "p50", "p99", "max")
	fmt.Printf("%-58s %10v %10v %10v\n", "minaks", pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond))
	spct := func(p float64) time.Duration { return scheduled[min(len(scheduled)-1, int(float64(len(scheduled))*p))] }
	fmt.Printf("%-58s %10v %10v %10v\n", "  of which create -> bound to a node (scheduler)", spct(0.50).Round(time.Millisecond), spct(0.99).Round(time.Millisecond), scheduled[len(scheduled)-1].Round(time.Millisecond))
	fmt.Printf("%-58s %10s %10s\n", "baseline: Kubernetes pod startup SLO", "", "5s")
	fmt.Printf("target: p99 <= 1s\n")

	for _, img := range []struct{ name, image string }{
		{"pause", "registry.k8s.io/pause:3.10"},
		{"agnhost netexec", "registry.k8s.io/e2e-test-images/agnhost:2.53"},
	} {
		rss, err := idleRSS(ctx, client, img.image, img.name)
		if err != nil {
			return err
		}
		fmt.Printf("RSS per idle %s pod: %.1f MiB\n", img.name, rss)
	}
	return nil
}

// startup creates n pods at rate per second and returns each one's time from its create call
// to the watch event that shows it Ready, and to the one that shows it bound to a node.
func startup(ctx context.Context, client kubernetes.Interface, n int, rate float64) (ready, bound []time.Duration, err error) {
	w, err := client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "bench=startup"})
	if err != nil {
		return nil, nil, err
	}
	defer w.Stop()
	var (
		mu        sync.Mutex
		created   = map[string]time.Time{}
		readyAt   = map[string]time.Duration{}
		scheduled = map[string]time.Duration{}
	)
	errc := make(chan error, 1)
	go func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for i := range n {
			<-tick.C
			name := fmt.Sprintf("startup-%d", i)
			pod := &v1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "startup"}},
				Spec: v1.PodSpec{Containers: []v1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10"}},
					TerminationGracePeriodSeconds: new(int64)},
			}
			mu.Lock()
			created[name] = time.Now()
			mu.Unlock()
			if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				errc <- err
				return
			}
		}
	}()
	for len(readyAt) < n {
		select {
		case err := <-errc:
			return nil, nil, err
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%d of %d pods Ready: %w", len(readyAt), n, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, nil, fmt.Errorf("watch ended")
			}
			if ev.Type != watch.Modified {
				continue
			}
			pod := ev.Object.(*v1.Pod)
			mu.Lock()
			since := time.Since(created[pod.Name])
			mu.Unlock()
			if _, done := scheduled[pod.Name]; !done && pod.Spec.NodeName != "" {
				scheduled[pod.Name] = since
			}
			if _, done := readyAt[pod.Name]; !done && isReady(pod) {
				readyAt[pod.Name] = since
			}
		}
	}
	for name, d := range readyAt {
		ready, bound = append(ready, d), append(bound, scheduled[name])
	}
	err = client.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{LabelSelector: "bench=startup"})
	return ready, bound, err
}

func isReady(pod *v1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == v1.PodReady && c.Status == v1.ConditionTrue {
			return true
		}
	}
	return false
}

// idleRSS runs 10 pods of image, waits for them to be Ready and idle, and returns the mean RSS
// of their container processes (found as the processes running in the pods' network
// namespaces).
func idleRSS(ctx context.Context, client kubernetes.Interface, image, what string) (float64, error) {
	const count = 10
	label := "bench-rss-" + strings.ReplaceAll(what, " ", "-")
	var args []string
	if strings.Contains(image, "agnhost") {
		args = []string{"netexec", "--http-port=8080"}
	}
	for i := range count {
		pod := &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", label, i), Labels: map[string]string{"bench": label}},
			Spec: v1.PodSpec{Containers: []v1.Container{{Name: "main", Image: image, Args: args}},
				TerminationGracePeriodSeconds: new(int64)},
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return 0, err
		}
	}
	var uids []string
	for {
		list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "bench=" + label})
		if err != nil {
			return 0, err
		}
		uids = uids[:0]
		for _, p := range list.Items {
			if isReady(&p) {
				uids = append(uids, string(p.UID))
			}
		}
		if len(uids) == count {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	time.Sleep(2 * time.Second) // idle
	var total float64
	for _, uid := range uids {
		total += rssInNetns("minaks.podbench.pod-" + uid)
	}
	err := client.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{LabelSelector: "bench=" + label})
	return total / count, err
}

// rssInNetns sums the RSS (MiB) of the processes whose network namespace is the named one.
func rssInNetns(name string) float64 {
	target, err := os.Stat("/run/netns/" + name)
	if err != nil {
		return 0
	}
	entries, _ := os.ReadDir("/proc")
	var total float64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		fi, err := os.Stat("/proc/" + e.Name() + "/ns/net")
		if err != nil || !os.SameFile(fi, target) {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				total += kb / 1024
			}
		}
	}
	return total
}
