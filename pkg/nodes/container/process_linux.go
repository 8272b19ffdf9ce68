package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// IO is how a container's standard streams are connected. Output goes to Stdout and Stderr;
// with TTY the container gets a terminal instead, whose output goes to Stdout; with Stdin (or
// TTY) Process.Stdin writes to the container.
type IO struct {
	Stdout, Stderr io.Writer
	Stdin, TTY     bool
}

// Process is a running container.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	// stdin writes to the container's standard input (its terminal with TTY), when it has one.
	stdin io.WriteCloser
	tty   *os.File
	// copied is closed when the terminal's output has been copied out.
	copied chan struct{}
	// cgroup is the container's, when it has limits; destroyed once it exited.
	cgroup cgroups.Manager
	// identity is the container's user and privileges, which Command's commands take too;
	// helper is minaks-run, open for them. It is closed when the Process is collected, not
	// when the container exits: a command made just before may still be starting.
	identity Spec
	helper   *os.File
	// Set once done is closed.
	oomKilled bool
	exitCode  int
	err       error
	finished  time.Time
}

// Start starts the container described by s, its output going to stdout and stderr. It
// prepares s.Dir (the writable layer) and returns once the init runs; whether the container's
// command could be executed shows in its exit (code 128 and a reason on stderr when not).
func Start(s *Spec, stdio IO) (*Process, error) {
	if len(s.Argv) == 0 {
		return nil, errors.New("no command")
	}
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	self, err := Binary(RunBinary)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// The init reports on statusW why it could not exec; the pipe closes without a word when
	// the exec worked (the init marks it close-on-exec).
	statusR, statusW, err := os.Pipe()
	if err != nil {
		w.Close()
		return nil, err
	}
	defer statusR.Close()
	helper, err := os.Open(self)
	if err != nil {
		w.Close()
		statusW.Close()
		return nil, err
	}
	p := &Process{done: make(chan struct{}), helper: helper, identity: Spec{
		UID: s.UID, GID: s.GID, Groups: s.Groups, Capabilities: s.Capabilities, NoNewPrivileges: s.NoNewPrivileges,
	}}
	cmd := &exec.Cmd{
		Path:       self,
		Args:       []string{InitName},
		Env:        s.Env,
		Stdout:     stdio.Stdout,
		Stderr:     stdio.Stderr,
		ExtraFiles: []*os.File{r, statusW},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWPID,
			// A container does not outlive its node agent's daemon.
			Pdeathsig: syscall.SIGKILL,
			Setsid:    true,
		},
	}
	var childEnds []*os.File
	switch {
	case stdio.TTY:
		ptmx, tty, err := pty.Open()
		if err != nil {
			w.Close()
			statusW.Close()
			return nil, err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr.Setctty = true
		p.stdin, p.tty, childEnds = ptmx, ptmx, []*os.File{tty}
	case stdio.Stdin:
		in, out, err := os.Pipe()
		if err != nil {
			w.Close()
			statusW.Close()
			return nil, err
		}
		cmd.Stdin, p.stdin, childEnds = in, out, []*os.File{in}
	}
	if s.PIDNamespaceOf != 0 {
		err = startInPIDNamespace(cmd, s.PIDNamespaceOf)
	} else {
		onSpawnerThread(func() bool {
			err = cmd.Start()
			return false
		})
	}
	statusW.Close()
	for _, f := range childEnds {
		f.Close()
	}
	p.copied = make(chan struct{})
	if err == nil && p.tty != nil {
		out := stdio.Stdout
		go func() {
			_, _ = io.Copy(out, p.tty) // ends with EIO once the container's side is closed
			close(p.copied)
		}()
	} else {
		close(p.copied)
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start container init: %w", err)
	}
	if s.Resources != nil {
		// Before the spec: until it has it, the init runs nothing of the container.
		if p.cgroup, err = joinCgroup(s.Resources, cmd.Process.Pid); err != nil {
			w.Close()
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, err
		}
	}
	sent := *s // the caller's spec stays as it was given
	if p.cgroup != nil && s.Capabilities != nil {
		sent.Cgroups = cgroupMounts(p.cgroup)
	}
	err = json.NewEncoder(w).Encode(&sent)
	w.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		p.destroyCgroup()
		return nil, fmt.Errorf("send container spec: %w", err)
	}
	p.cmd = cmd
	go p.wait()
	msg, _ := io.ReadAll(statusR)
	if len(msg) > 0 {
		<-p.done
		return nil, &StartError{Msg: string(msg)}
	}
	return p, nil
}

// A child's parent-death signal fires when the thread that forked it ends, not the process
// (go.dev/issue/27505), and the runtime does end threads: one a goroutine leaves locked. Every
// container is therefore started from the spawner thread, locked for the life of the process.
var spawner struct {
	sync.Mutex
	requests chan spawnRequest
}

// spawnRequest is work for the spawner thread; fn tells whether the thread must be retired.
type spawnRequest struct {
	fn      func() (retire bool)
	retired chan bool
}

// onSpawnerThread runs fn on the spawner thread and returns once it has. When fn says the
// thread is no longer fit to start containers, it is retired: kept (its children keep their
// parent) but given no more work, and the next request gets a new one.
func onSpawnerThread(fn func() (retire bool)) {
	spawner.Lock()
	defer spawner.Unlock()
	if spawner.requests == nil {
		spawner.requests = make(chan spawnRequest)
		go runSpawner(spawner.requests)
	}
	r := spawnRequest{fn: fn, retired: make(chan bool)}
	spawner.requests <- r
	if <-r.retired {
		spawner.requests = nil
	}
}

func runSpawner(requests chan spawnRequest) {
	runtime.LockOSThread() // never unlocked
	for r := range requests {
		retire := r.fn()
		r.retired <- retire
		if retire {
			select {}
		}
	}
}

// startInPIDNamespace starts cmd in the PID namespace of the process pid: the spawner thread
// joins it for the fork (its children go there) and returns to its own. The container's init
// takes its parent-death signal itself (Go's check of it would find the parent outside the
// namespace, and kill the child).
func startInPIDNamespace(cmd *exec.Cmd, pid int) (err error) {
	cmd.SysProcAttr.Cloneflags &^= unix.CLONE_NEWPID
	cmd.SysProcAttr.Pdeathsig = 0
	own, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", os.Getpid()))
	if err != nil {
		return err
	}
	defer own.Close()
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return fmt.Errorf("join the PID namespace of process %d: %w", pid, err)
	}
	defer target.Close()
	onSpawnerThread(func() bool {
		if err = unix.Setns(int(target.Fd()), unix.CLONE_NEWPID); err != nil {
			err = fmt.Errorf("join the PID namespace of process %d: %w", pid, err)
			return false
		}
		err = cmd.Start()
		if back := unix.Setns(int(own.Fd()), unix.CLONE_NEWPID); back != nil {
			// The thread would start every later container in that namespace.
			err = errors.Join(err, fmt.Errorf("return to the daemon's PID namespace: %w", back))
			return true
		}
		return false
	})
	return err
}

// StartError is a container that could not be started: its init failed before the exec
// (a missing command, a mount that cannot be made). Its process has exited with code 128.
type StartError struct{ Msg string }

func (e *StartError) Error() string { return e.Msg }

func (p *Process) wait() {
	err := p.cmd.Wait()
	p.finished = time.Now()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		p.exitCode = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.exitCode = 128 + int(ws.Signal())
		}
	default:
		p.exitCode, p.err = -1, err
	}
	if p.cgroup != nil {
		n, err := p.cgroup.OOMKillCount()
		p.oomKilled = err == nil && n > 0
		p.destroyCgroup()
	}
	select {
	case <-p.copied:
	case <-time.After(time.Second): // a process the container left behind holds the terminal
	}
	if p.stdin != nil {
		p.stdin.Close()
	}
	close(p.done)
}

func (p *Process) destroyCgroup() {
	if p.cgroup != nil {
		_ = p.cgroup.Destroy()
	}
}

// OOMKilled tells whether the kernel killed a process of the container for going over its
// memory limit; valid after Done.
func (p *Process) OOMKilled() bool { return p.oomKilled }

// Stdin writes to the container's standard input or terminal; nil when it has neither.
func (p *Process) Stdin() io.WriteCloser { return p.stdin }

// Resize sets the size of the container's terminal, if it has one.
func (p *Process) Resize(cols, rows uint16) error {
	if p.tty == nil {
		return nil
	}
	return pty.Setsize(p.tty, &pty.Winsize{Cols: cols, Rows: rows})
}

// PID is the container's process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the container has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit returns the exit code (128+n for signal n) and when it exited; valid after Done.
func (p *Process) Exit() (code int, at time.Time, err error) { return p.exitCode, p.finished, p.err }

// Signal sends sig to the container's process.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// Stop asks the container to stop (SIGTERM), and kills it (SIGKILL) if it has not exited
// after grace. It returns when the process has exited; the container's other processes are
// gone with it (it is PID 1 of the container's PID namespace).
func (p *Process) Stop(grace time.Duration) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
}

// Update gives the running container r's limits (an in-place resize), r.Path aside: its
// cgroup's memory limit, CPU quota and shares; a limit of 0 is taken away. A memory limit
// below what the container uses fails (EBUSY) once the kernel could not reclaim enough.
func (p *Process) Update(r *Resources) error {
	if p.cgroup == nil {
		return errors.New("the container has no cgroup")
	}
	select {
	case <-p.done:
		return errors.New("the container has exited")
	default:
	}
	return updateCgroup(p.cgroup, r)
}

// Command returns a command that runs argv inside the running container: in its namespaces,
// root and working directory, as `kubectl exec` and exec probes do. It uses util-linux's
// nsenter: joining a mount namespace takes a single-threaded process, which no Go program is.
func (p *Process) Command(argv, env []string) *exec.Cmd {
	s := p.identity
	s.Argv = argv
	encoded, err := json.Marshal(&s)
	if err != nil {
		panic(err) // a Spec always encodes
	}
	// The helper is minaks-run, open as the child's fd 3 (ExtraFiles), which nsenter's child
	// reaches through the container's /proc once inside.
	args := []string{"--target", fmt.Sprint(p.PID()), "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd",
		"--", "/proc/self/fd/3", ExecName, string(encoded)}
	cmd := exec.Command("nsenter", args...)
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{p.helper}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}
