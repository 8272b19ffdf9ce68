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
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

	latencies, scheduled, err := bc.Startup(ctx, startupPods(n), "bench=startup", rate)
	if err != nil {
		return err
	}
	pct := func(p float64) time.Duration { return benchcluster.Percentile(latencies, p) }
	fmt.Printf("\n%-58s %10s %10s %10s\n", fmt.Sprintf("pod startup, create -> Ready (%d pause pods, %.0f/s, 3 nodes)", n, rate), "p50", "p99", "max")
	fmt.Printf("%-58s %10v %10v %10v\n", "minaks", pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond))
	spct := func(p float64) time.Duration { return benchcluster.Percentile(scheduled, p) }
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

// startupPods are n pause pods with the label bench=startup.
func startupPods(n int) []*v1.Pod {
	pods := make([]*v1.Pod, n)
	for i := range pods {
		pods[i] = &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("startup-%d", i), Labels: map[string]string{"bench": "startup"}},
			Spec: v1.PodSpec{Containers: []v1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10"}},
				TerminationGracePeriodSeconds: new(int64)},
		}
	}
	return pods
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
			if benchcluster.Ready(&p) {
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
