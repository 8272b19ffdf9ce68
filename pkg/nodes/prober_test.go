package nodes

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
)

// TestProbeStateMachine drives the probe loop with scripted results, as the kubelet's prober
// worker tests do: readiness follows successThreshold/failureThreshold, liveness kills after
// failureThreshold failures in a row, startup passes on its first success.
func TestProbeStateMachine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    probeKind
		probe   v1.Probe
		results []bool
		// ready is the container's ready flag after each result (readiness only).
		ready  []bool
		killed bool
		passed bool
	}{
		{name: "readiness: one success makes ready, failureThreshold failures unready", kind: readiness,
			probe:   v1.Probe{FailureThreshold: 2},
			results: []bool{true, false, true, false, false},
			ready:   []bool{true, true, true, true, false}},
		{name: "readiness: successThreshold 2", kind: readiness,
			probe:   v1.Probe{SuccessThreshold: 2, FailureThreshold: 1},
			results: []bool{true, true, false, true},
			ready:   []bool{false, true, false, false}},
		{name: "liveness: failures that do not follow each other are forgiven", kind: liveness,
			probe:   v1.Probe{FailureThreshold: 2},
			results: []bool{false, true, false, true}},
		{name: "liveness: failureThreshold failures in a row kill", kind: liveness,
			probe:   v1.Probe{FailureThreshold: 3},
			results: []bool{true, false, false, false}, killed: true},
		{name: "startup: passes on its first success", kind: startup,
			probe:   v1.Probe{FailureThreshold: 5},
			results: []bool{false, false, true}, passed: true},
		{name: "startup: failureThreshold failures kill", kind: startup,
			probe:   v1.Probe{FailureThreshold: 2},
			results: []bool{false, false}, killed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &podWorker{kick: make(chan struct{}, 1), rt: &runtime{recorder: record.NewFakeRecorder(100)}}
			c := &ctr{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tc.probe.PeriodSeconds = 1
			var got []bool
			i, killed := 0, false
			pr := &prober{w: w, pod: &v1.Pod{}, c: c,
				check: func(context.Context, *v1.Probe) (bool, string) {
					if i > 0 && tc.ready != nil {
						got = append(got, c.ready)
					}
					if i == len(tc.results) {
						cancel()
						return false, "done"
					}
					i++
					return tc.results[i-1], "scripted"
				},
				kill: func(time.Duration) { killed = true },
			}
			probeUnit = time.Millisecond
			defer func() { probeUnit = time.Second }()
			passed := pr.loop(ctx, tc.kind, &tc.probe)
			if tc.ready != nil {
				for j := range tc.ready {
					if j >= len(got) || got[j] != tc.ready[j] {
						t.Fatalf("ready after each result %v, want %v", got, tc.ready)
					}
				}
			}
			if killed != tc.killed || passed != tc.passed {
				t.Errorf("killed %v passed %v, want %v %v", killed, passed, tc.killed, tc.passed)
			}
		})
	}
}

// TestReadinessRelist: a container not ready at its first readiness probe is probed again a
// second later (the kubelet's pod sync after the runtime's relist), then every period.
func TestReadinessRelist(t *testing.T) {
	w := &podWorker{kick: make(chan struct{}, 1), rt: &runtime{recorder: record.NewFakeRecorder(100)}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var at []time.Duration
	start := time.Now()
	pr := &prober{w: w, pod: &v1.Pod{}, c: &ctr{},
		check: func(context.Context, *v1.Probe) (bool, string) {
			at = append(at, time.Since(start))
			if len(at) == 4 {
				cancel()
			}
			return false, "not yet"
		},
	}
	probeUnit = 20 * time.Millisecond
	defer func() { probeUnit = time.Second }()
	pr.loop(ctx, readiness, &v1.Probe{PeriodSeconds: 10})
	// Probes at 0, one unit (the relist), then every 10 units.
	want := []time.Duration{0, probeUnit, 11 * probeUnit, 21 * probeUnit}
	for i := range want {
		if at[i] < want[i] || at[i] > want[i]+probeUnit/2+10*time.Millisecond {
			t.Fatalf("probes at %v, want about %v", at, want)
		}
	}
}
