// Package benchcluster is the benchmarks' cluster: `minaks up` in a temporary state directory,
// a client for it, pods placed on given nodes and waited for, and `minaks down` with the
// directory removed at the end.
package benchcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

// Cluster is a running benchmark cluster.
type Cluster struct {
	Name string
	// StateDir is the cluster's own state directory (<root>/state/<name>).
	StateDir string
	API      kubernetes.Interface
	// Nodes are sorted by name.
	Nodes []v1.Node

	minaks, root string
	common       []string
}

// Up starts a 3-node cluster named name with the minaks binary, plus extra `up` flags; the
// client gets qps and burst.
func Up(minaks, name string, qps float32, burst int, extra ...string) (*Cluster, error) {
	root, err := os.MkdirTemp("", "minaks-"+name+"-")
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(root, "kubeconfig")
	c := &Cluster{Name: name, StateDir: filepath.Join(root, "state", name), minaks: minaks, root: root,
		common: []string{"--name", name, "--state-dir", filepath.Join(root, "state"), "--kubeconfig", kubeconfig}}
	// Built-in images only: a benchmark's traffic stays on the host.
	args := append(append([]string{"up", "--node-count", "3", "--image-source", "builtin"}, extra...), c.common...)
	if out, err := exec.Command(minaks, args...).CombinedOutput(); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("minaks up: %v: %s", err, out)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, errors.Join(err, c.Down())
	}
	cfg.QPS, cfg.Burst = qps, burst
	if c.API, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, errors.Join(err, c.Down())
	}
	nodes, err := c.API.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, errors.Join(err, c.Down())
	}
	c.Nodes = nodes.Items
	slices.SortFunc(c.Nodes, func(a, b v1.Node) int { return strings.Compare(a.Name, b.Name) })
	return c, nil
}

// Down removes the cluster and its temporary directory.
func (c *Cluster) Down() error {
	defer os.RemoveAll(c.root)
	if out, err := exec.Command(c.minaks, append([]string{"down"}, c.common...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("minaks down: %v: %s", err, out)
	}
	return nil
}

// Kubeconfig is the path of the cluster's kubeconfig.
func (c *Cluster) Kubeconfig() string { return filepath.Join(c.root, "kubeconfig") }

// NodeNS and PodNS are the network namespaces of a node and a pod.
func (c *Cluster) NodeNS(n v1.Node) string { return "minaks." + c.Name + "." + n.Name }
func (c *Cluster) PodNS(p *v1.Pod) string  { return "minaks." + c.Name + ".pod-" + string(p.UID) }

// Pod is a one-container pod bound to node, deleted at once when asked.
func Pod(name, node, image string, args ...string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []v1.Container{{Name: "c", Image: image, Args: args}}},
	}
}

// Start creates pods in the default namespace and returns them once each is Ready with an IP.
func (c *Cluster) Start(ctx context.Context, pods ...*v1.Pod) ([]*v1.Pod, error) {
	for _, p := range pods {
		if _, err := c.API.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
	}
	out := make([]*v1.Pod, len(pods))
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for i, want := range pods {
			p, err := c.API.CoreV1().Pods("default").Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil || p.Status.PodIP == "" || !Ready(p) {
				return false, nil
			}
			out[i] = p
		}
		return true, nil
	})
	return out, err
}

// Ready reports whether the pod's Ready condition is true.
func Ready(p *v1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == v1.PodReady {
			return cond.Status == v1.ConditionTrue
		}
	}
	return false
}

// BackendAndClient starts the data-path pair: backend, agnhost netexec (HTTP on 8080) on the
// first node, and client, a pause pod on the second, whose namespace traffic comes from.
func (c *Cluster) BackendAndClient(ctx context.Context) (backend, client *v1.Pod, err error) {
	pods, err := c.Start(ctx,
		Pod("backend", c.Nodes[0].Name, "registry.k8s.io/e2e-test-images/agnhost:2.53", "netexec", "--http-port=8080", "--udp-port=-1"),
		Pod("client", c.Nodes[1].Name, "registry.k8s.io/pause:3.10"))
	if err != nil {
		return nil, nil, err
	}
	return pods[0], pods[1], nil
}

// Startup creates pods in the default namespace, rate per second, and returns each one's time
// from its create call to the watch event that shows it Ready, and to the one that shows it
// bound to a node; then deletes them. Every pod must carry the label selector matches, and
// only them.
func (c *Cluster) Startup(ctx context.Context, pods []*v1.Pod, selector string, rate float64) (ready, bound []time.Duration, err error) {
	w, err := c.API.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector})
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
		for _, pod := range pods {
			<-tick.C
			mu.Lock()
			created[pod.Name] = time.Now()
			mu.Unlock()
			if _, err := c.API.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				errc <- err
				return
			}
		}
	}()
	for len(readyAt) < len(pods) {
		select {
		case err := <-errc:
			return nil, nil, err
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%d of %d pods Ready: %w", len(readyAt), len(pods), ctx.Err())
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
			if _, done := readyAt[pod.Name]; !done && Ready(pod) {
				readyAt[pod.Name] = since
			}
		}
	}
	for name, d := range readyAt {
		ready, bound = append(ready, d), append(bound, scheduled[name])
	}
	slices.Sort(ready)
	slices.Sort(bound)
	err = c.API.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}, metav1.ListOptions{LabelSelector: selector})
	return ready, bound, err
}

// Percentile is the p-th (0..1) of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}
