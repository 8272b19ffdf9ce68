package apiserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/logs"
	"k8s.io/klog/v2"
	apiapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apioptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	cmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	schedoptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
)

// parseArgs parses a component's arguments into its named flag sets.
func parseArgs(component string, sets cliflag.NamedFlagSets, args Args) error {
	fs := pflag.NewFlagSet(component, pflag.ContinueOnError)
	for _, s := range sets.FlagSets {
		fs.AddFlagSet(s)
	}
	if err := fs.Parse(args.List()); err != nil {
		return fmt.Errorf("%s arguments: %w", component, err)
	}
	return nil
}

// The three functions below do what each component's cobra command does between parsing flags
// and running, minus what a process may do only once (signal handlers, applying the logging
// configuration): those belong to the daemon. See ../shared/EMBEDDING.md.

// runAPIServer runs kube-apiserver until ctx is cancelled.
func runAPIServer(ctx context.Context, args Args, logOpts *logs.Options) error {
	s := apioptions.NewServerRunOptions()
	s.Logs = logOpts
	if err := parseArgs("kube-apiserver", s.Flags(), args); err != nil {
		return err
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	// Loopback clients of the API server should not log warnings about themselves.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return utilerrors.NewAggregate(errs)
	}
	return apiapp.Run(ctx, completed)
}

// runControllerManager runs kube-controller-manager until ctx is cancelled.
func runControllerManager(ctx context.Context, args Args, logOpts *logs.Options) error {
	s, err := cmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return err
	}
	s.Logs = logOpts
	known, disabled, aliases := cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases()
	sets := s.Flags(known, disabled, aliases)
	s.ParsedFlags = &sets
	if err := parseArgs("kube-controller-manager", sets, args); err != nil {
		return err
	}
	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	c, err := s.Config(ctx, known, disabled, aliases)
	if err != nil {
		return err
	}
	return cmapp.Run(ctx, c.Complete())
}

// runScheduler runs kube-scheduler until ctx is cancelled.
func runScheduler(ctx context.Context, args Args, logOpts *logs.Options) error {
	opts := schedoptions.NewOptions()
	opts.Logs = logOpts
	if err := parseArgs("kube-scheduler", *opts.Flags, args); err != nil {
		return err
	}
	if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	if opts.InformerName == nil {
		name, err := cache.NewInformerName("kube-scheduler")
		if err != nil {
			return err
		}
		opts.InformerName = name
	}
	cc, sched, err := schedapp.Setup(ctx, opts)
	if err != nil {
		return err
	}
	return schedapp.Run(ctx, cc, sched)
}

// ErrStopped is returned by a component that ended without being asked to.
var ErrStopped = errors.New("stopped unexpectedly")

// component runs fn in a goroutine and reports its end on done. A panic is turned into an error,
// and so is a return while ctx is still live: either brings the whole control plane down.
func component(ctx context.Context, name string, args Args, done chan<- error, fn func(context.Context) error) {
	logger := klog.FromContext(ctx).WithValues("component", name)
	if args != nil {
		logger.Info("Starting", "args", args.String())
	} else {
		logger.Info("Starting")
	}
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s panicked: %v", name, r)
			}
			if err == nil && ctx.Err() == nil {
				err = ErrStopped
			}
			if err != nil && ctx.Err() == nil {
				err = fmt.Errorf("%s: %w", name, err)
				logger.Error(err, "Component failed")
			} else {
				err = nil
				logger.V(1).Info("Stopped")
			}
			done <- err
		}()
		err = fn(klog.NewContext(ctx, logger))
	}()
}
