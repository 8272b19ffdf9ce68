package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Progress receives the steps of a bring-up, in order: Start(step) then End(err) for each.
type Progress interface {
	Start(step string)
	End(err error)
}

// StatusPrinter prints one line per step, as kind does: on a terminal the line shows a spinner
// while the step runs and becomes "✓ step" or "✗ step" when it ends; elsewhere only the final
// lines are printed.
type StatusPrinter struct {
	out  io.Writer
	tty  bool
	mu   sync.Mutex
	step string
	stop chan struct{}
	done chan struct{}
}

// NewStatusPrinter prints to f, with a spinner if f is a terminal.
func NewStatusPrinter(f *os.File) *StatusPrinter {
	return &StatusPrinter{out: f, tty: term.IsTerminal(int(f.Fd()))}
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Start begins a step.
func (p *StatusPrinter) Start(step string) {
	p.End(nil) // a step left open ends as a success
	p.mu.Lock()
	defer p.mu.Unlock()
	p.step = step
	if !p.tty {
		return
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.spin(step, p.stop, p.done)
}

func (p *StatusPrinter) spin(step string, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		fmt.Fprintf(p.out, "\r\x1b[K %s %s ", spinnerFrames[i%len(spinnerFrames)], step)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// End finishes the current step, with success when err is nil.
func (p *StatusPrinter) End(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.step == "" {
		return
	}
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
		fmt.Fprint(p.out, "\r\x1b[K")
	}
	mark := "✓"
	if err != nil {
		mark = "✗"
	}
	fmt.Fprintf(p.out, " %s %s\n", mark, p.step)
	p.step = ""
}

// event is one line of the progress protocol between the daemon and `up`.
type event struct {
	Step  string `json:"step,omitempty"`
	Error string `json:"error,omitempty"`
	// Kind is "start", "end" or "ready".
	Kind string `json:"kind"`
}

// pipeProgress writes progress to the pipe `up` reads (the daemon's fd 3).
type pipeProgress struct {
	mu  sync.Mutex
	enc *json.Encoder
	w   io.WriteCloser
}

func newPipeProgress(w io.WriteCloser) *pipeProgress {
	return &pipeProgress{enc: json.NewEncoder(w), w: w}
}

func (p *pipeProgress) send(e event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil {
		_ = p.enc.Encode(e) // `up` may be gone; the daemon carries on
	}
}

func (p *pipeProgress) Start(step string) { p.send(event{Kind: "start", Step: step}) }
func (p *pipeProgress) End(err error) {
	e := event{Kind: "end"}
	if err != nil {
		e.Error = err.Error()
	}
	p.send(e)
}

// Ready tells `up` the cluster is ready and closes the pipe.
func (p *pipeProgress) Ready() {
	p.send(event{Kind: "ready"})
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Close()
	p.w = nil
}

// relay copies the daemon's progress from r to p until the daemon says it is ready (nil), a
// step fails (its error), or the pipe closes (the daemon died).
func relay(r io.Reader, p Progress) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		switch e.Kind {
		case "start":
			p.Start(e.Step)
		case "end":
			if e.Error != "" {
				err := fmt.Errorf("%s", e.Error)
				p.End(err)
				return err
			}
			p.End(nil)
		case "ready":
			return nil
		}
	}
	return errDaemonExited
}
