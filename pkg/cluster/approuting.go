package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/pkg/apiserver/addons/approuting"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

// appRouting runs the app routing operator while the add-on is on, as AKS runs it in its
// control plane, and turns the add-on on and off when `minaks approuting` asks.
type appRouting struct {
	c *config.Cluster
	// ctx is the daemon's: the operator stops with it.
	ctx context.Context

	mu     sync.Mutex
	op     *approuting.Operator
	cancel context.CancelFunc
	done   chan struct{}
}

func newAppRouting(ctx context.Context, c *config.Cluster, cfg *rest.Config) (*appRouting, error) {
	a := &appRouting{c: c, ctx: ctx, op: &approuting.Operator{}}
	var err error
	if a.op.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if a.op.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if a.op.Extensions, err = apiextensionsclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// start runs the operator with the default controller's mode, and waits until that controller
// serves: its Deployment available and its load balancer address assigned.
func (a *appRouting) start(mode string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.startLocked(mode)
}

func (a *appRouting) startLocked(mode string) error {
	a.stopLocked()
	op := *a.op
	op.DefaultMode = mode
	ctx, cancel := context.WithCancel(a.ctx)
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		if err := op.Run(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "App routing operator")
			errc <- err
		}
	}()
	a.cancel, a.done = cancel, done
	if mode == "None" {
		return nil
	}
	return a.waitDefault(ctx, errc)
}

// stopLocked stops the operator, if it runs.
func (a *appRouting) stopLocked() {
	if a.cancel != nil {
		a.cancel()
		<-a.done
		a.cancel, a.done = nil, nil
	}
}

// appRoutingReadyTimeout bounds the wait for the default controller: its pods' readiness
// probes start after 10 s.
const appRoutingReadyTimeout = 3 * time.Minute

// waitDefault waits until the default NginxIngressController is Available and its Service has
// its load balancer address.
func (a *appRouting) waitDefault(ctx context.Context, errc <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, appRoutingReadyTimeout)
	defer cancel()
	var last string
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-errc:
			return false, err
		default:
		}
		u, err := a.op.Dynamic.Resource(approuting.GroupVersionResource).Get(ctx, approuting.DefaultName, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		nic, err := approuting.FromUnstructured(u.Object)
		if err != nil {
			return false, err
		}
		available := false
		for _, cond := range nic.Status.Conditions {
			if cond.Type == "Available" {
				available = cond.Status == metav1.ConditionTrue
				last = fmt.Sprintf("Available=%s: %s", cond.Status, cond.Message)
			}
		}
		if !available {
			return false, nil
		}
		svc, err := a.op.Client.CoreV1().Services(approuting.Namespace).Get(ctx, approuting.ResourceName(nic), metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			last = "Service " + svc.Name + " has no load balancer address yet"
			return false, nil
		}
		return true, nil
	})
	if err != nil && last != "" {
		return fmt.Errorf("the default NGINX ingress controller is not serving (%s): %w", last, err)
	}
	return err
}

// set carries out a `minaks approuting` request and records the add-on's state in the
// cluster's definition, so that the next start keeps it.
func (a *appRouting) set(req AppRoutingRequest) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	mode := a.c.AppRoutingDefaultNginxController
	if req.Nginx != "" {
		m, ok := config.ParseNginxMode(req.Nginx)
		if !ok {
			return fmt.Errorf("--nginx=%s: must be one of %v", req.Nginx, config.NginxModes)
		}
		mode = m
	}
	if mode == "" {
		mode = "AnnotationControlled"
	}
	save := func(enabled bool, mode string) error {
		c := *a.c
		c.EnableAppRouting, c.AppRoutingDefaultNginxController = enabled, mode
		if err := c.Save(); err != nil {
			return err
		}
		a.c.EnableAppRouting, a.c.AppRoutingDefaultNginxController = enabled, mode
		return nil
	}
	switch req.Action {
	case "enable", "update":
		if req.Action == "update" && !a.c.EnableAppRouting {
			return errors.New("app routing is not enabled; enable it with 'minaks approuting enable'")
		}
		if err := save(true, mode); err != nil {
			return err
		}
		return a.startLocked(mode)
	case "disable":
		a.stopLocked()
		if err := a.op.Disable(a.ctx); err != nil {
			return err
		}
		return save(false, "")
	}
	return fmt.Errorf("unknown app routing action %q", req.Action)
}
