package nodes

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/nodes/container"
)

// probeUnit is a second of probe timing (periodSeconds, initialDelaySeconds); tests shorten it.
var probeUnit = time.Second

// probeKind names a probe in events, as the kubelet does.
type probeKind string

const (
	liveness  probeKind = "Liveness"
	readiness probeKind = "Readiness"
	startup   probeKind = "Startup"
)

// runProbes runs a container's probes while its process runs, from the node's network
// namespace as a kubelet probes: the startup probe first, then liveness and readiness side by
// side. A failed startup or liveness probe kills the container, which restarts by the pod's
// policy; readiness sets the container's ready flag.
func (w *podWorker) runProbes(ctx context.Context, pod *v1.Pod, c *ctr, proc *container.Process, env []string) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-proc.Done():
		case <-ctx.Done():
		}
		cancel()
	}()
	pr := &prober{w: w, pod: pod, c: c, proc: proc, env: env}
	if p := c.spec.StartupProbe; p != nil {
		if !pr.loop(ctx, startup, p) {
			return
		}
	}
	w.setFlags(c, func() {
		c.startupOK = true
		c.ready = c.spec.ReadinessProbe == nil
	})
	if p := c.spec.ReadinessProbe; p != nil {
		go pr.loop(ctx, readiness, p)
	}
	if p := c.spec.LivenessProbe; p != nil {
		pr.loop(ctx, liveness, p)
	}
}

// setFlags changes a container's probe state and lets the worker write the status.
func (w *podWorker) setFlags(c *ctr, f func()) {
	w.mu.Lock()
	f()
	w.mu.Unlock()
	w.wake()
}

type prober struct {
	w    *podWorker
	pod  *v1.Pod
	c    *ctr
	proc *container.Process
	env  []string
	// check and kill default to probe and stopping the process (tests replace them).
	check func(context.Context, *v1.Probe) (bool, string)
	kill  func(grace time.Duration)
}

// loop probes every period until ctx is done. A startup probe returns true on its first
// success; liveness and startup kill the container after failureThreshold failures in a row.
func (pr *prober) loop(ctx context.Context, kind probeKind, p *v1.Probe) bool {
	period := seconds(p.PeriodSeconds, 10) / time.Second * probeUnit
	// A kubelet's pod sync probes a running container that is not ready yet at once (its
	// manual trigger), and the first sync after the start follows the runtime's relist, a
	// second later: a container not ready at its first readiness probe gets a second one then.
	relist := min(period, probeUnit)
	successes, failures := 0, 0
	everReady := false
	select {
	case <-ctx.Done():
		return false
	case <-time.After(seconds(p.InitialDelaySeconds, 0) / time.Second * probeUnit):
	}
	for {
		check := pr.probe
		if pr.check != nil {
			check = pr.check
		}
		began := time.Now()
		ok, out := check(ctx, p)
		if ctx.Err() != nil {
			return false
		}
		pr.record(kind, ok, time.Since(began))
		if ok {
			successes, failures = successes+1, 0
		} else {
			successes, failures = 0, failures+1
			pr.w.rt.recorder.Eventf(pr.pod, v1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, out)
		}
		threshold := int(p.FailureThreshold)
		if threshold == 0 {
			threshold = 3
		}
		needed := max(int(p.SuccessThreshold), 1)
		switch kind {
		case startup:
			if successes >= 1 {
				return true
			}
		case readiness:
			if successes >= needed {
				everReady = true
				pr.w.setFlags(pr.c, func() { pr.c.ready = true })
			} else if failures >= threshold {
				pr.w.setFlags(pr.c, func() { pr.c.ready = false })
			}
		}
		if kind != readiness && failures >= threshold {
			what := "liveness"
			if kind == startup {
				what = "startup"
			}
			pr.w.rt.recorder.Eventf(pr.pod, v1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", pr.c.spec.Name, what)
			grace := gracePeriod(pr.pod)
			if p.TerminationGracePeriodSeconds != nil {
				grace = time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
			}
			if pr.kill != nil {
				pr.kill(grace)
			} else {
				pr.proc.Stop(grace)
			}
			return false
		}
		next := period
		if kind == readiness && !everReady && relist > 0 {
			next, relist = relist, 0
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(next):
		}
	}
}

// record counts a probe's result and its duration in the node's probe metrics, labelled as the
// kubelet labels them.
func (pr *prober) record(kind probeKind, ok bool, took time.Duration) {
	m := pr.w.rt.metrics
	if m == nil {
		return
	}
	result := "failed"
	if ok {
		result = "successful"
	}
	kindLabel := string(kind)
	m.probeResults.WithLabelValues(kindLabel, result, pr.c.spec.Name, pr.pod.Name, pr.pod.Namespace, string(pr.pod.UID)).Inc()
	if ok {
		// The kubelet times successful probes only.
		m.probeDuration.WithLabelValues(kindLabel, pr.c.spec.Name, pr.pod.Name, pr.pod.Namespace).Observe(took.Seconds())
	}
}

func seconds(s int32, def int) time.Duration {
	if s <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(s) * time.Second
}

// probe runs one probe and says whether it passed, and why not.
func (pr *prober) probe(ctx context.Context, p *v1.Probe) (bool, string) {
	timeout := seconds(p.TimeoutSeconds, 1)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	podIP := pr.pod.Status.PodIP
	if ips := pr.w.podIPs; len(ips) > 0 {
		podIP = ips[0].String()
	}
	switch {
	case p.Exec != nil:
		cmd := pr.proc.Command(p.Exec.Command, pr.env)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return false, err.Error()
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				return false, strings.TrimSpace(out.String() + " " + err.Error())
			}
			return true, ""
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return false, fmt.Sprintf("command timed out after %s", timeout)
		}
	case p.HTTPGet != nil:
		return pr.httpProbe(ctx, p.HTTPGet, podIP, timeout)
	case p.TCPSocket != nil:
		host := p.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, err := pr.port(p.TCPSocket.Port)
		if err != nil {
			return false, err.Error()
		}
		conn, err := pr.dial(ctx, net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	case p.GRPC != nil:
		addr := net.JoinHostPort(podIP, strconv.Itoa(int(p.GRPC.Port)))
		conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return pr.dial(ctx, a) }))
		if err != nil {
			return false, err.Error()
		}
		defer conn.Close()
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return false, fmt.Sprintf("failed to connect service %q within %s: %v", addr, timeout, err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return false, fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus())
		}
		return true, ""
	}
	return false, "probe has no handler"
}

func (pr *prober) httpProbe(ctx context.Context, h *v1.HTTPGetAction, podIP string, timeout time.Duration) (bool, string) {
	host := h.Host
	if host == "" {
		host = podIP
	}
	port, err := pr.port(h.Port)
	if err != nil {
		return false, err.Error()
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	u, err = u.Parse(path)
	if err != nil {
		return false, err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	req.Header.Set("Accept", "*/*")
	for _, hd := range h.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
		} else {
			req.Header.Add(hd.Name, hd.Value)
		}
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:       func(ctx context.Context, _, addr string) (net.Conn, error) { return pr.dial(ctx, addr) },
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 || req.URL.Hostname() != u.Hostname() {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

// port resolves a probe's port: a number, or the name of one of the container's ports.
func (pr *prober) port(p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range pr.c.spec.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, pr.c.spec.Ports)
}

// dial connects from the node's network namespace, where the kubelet's probes come from.
func (pr *prober) dial(ctx context.Context, addr string) (conn net.Conn, err error) {
	err = netns.Do(pr.w.rt.agent.NS(), func() error {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	return conn, err
}
