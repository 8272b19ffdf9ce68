// Package endpoint is the handshake between a node's pod runtime and the network policy agent
// on that node, as a CNI plugin's ADD waits for Cilium's agent to have an endpoint's policy:
// the runtime announces a new pod's addresses, the agent answers once the node enforces the
// policy that selects the pod, and only then do the pod's containers start. So a pod under a
// default-deny policy is isolated from its first packet, both ways.
//
// The agent listens on an abstract unix socket, which belongs to the network namespace it was
// made in: each node's agent (hostNetwork) has its own, and the runtime dials it from inside
// the node's namespace. One request per connection: a JSON Endpoint and a newline; the answer
// is "ok\n" or an error line.
package endpoint

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// Socket is the abstract socket's name (without the leading NUL) in a node's namespace.
const Socket = "minaks-policy-endpoints"

// Endpoint is a pod that is about to start.
type Endpoint struct {
	Namespace string       `json:"namespace"`
	Name      string       `json:"name"`
	UID       types.UID    `json:"uid"`
	IPs       []netip.Addr `json:"ips"`
}

// ErrNoAgent is Announce's error when no agent listens in the node.
var ErrNoAgent = errors.New("no network policy agent listens on the node")

// Announce tells the policy agent of node namespace ns about e and returns once the agent
// enforces e's policy (or ctx is done).
func Announce(ctx context.Context, ns string, e Endpoint) error {
	var fd int
	if err := netns.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		return err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: "@" + Socket}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOENT) {
			return ErrNoAgent
		}
		return err
	}
	f := os.NewFile(uintptr(fd), Socket)
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req, _ := json.Marshal(e)
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("the network policy agent: %w", err)
	}
	if line = strings.TrimSpace(line); line != "ok" {
		return fmt.Errorf("the network policy agent: %s", line)
	}
	return nil
}

// Server is the agent's side: the endpoints announced and not yet enforced.
type Server struct {
	// Changed is called when an endpoint is announced: the agent syncs soon.
	Changed func()

	mu      sync.Mutex
	pending map[types.UID]*waiter
}

type waiter struct {
	e    Endpoint
	at   time.Time
	done chan struct{}
}

// forgetAfter is how long an announcement of a pod that never shows up is kept.
const forgetAfter = 2 * time.Minute

// Listen opens the socket in the calling process's network namespace.
func Listen() (net.Listener, error) {
	return net.Listen("unix", "@"+Socket)
}

// Serve answers announcements on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go s.handle(ctx, conn)
	}
}

func (s *Server) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return
	}
	var e Endpoint
	if err := json.Unmarshal([]byte(line), &e); err != nil || e.UID == "" {
		fmt.Fprintf(conn, "bad request: %v\n", err)
		return
	}
	w := &waiter{e: e, at: time.Now(), done: make(chan struct{})}
	s.mu.Lock()
	if s.pending == nil {
		s.pending = map[types.UID]*waiter{}
	}
	if old, ok := s.pending[e.UID]; ok {
		w.done = old.done // a repeated announcement waits for the same
	}
	s.pending[e.UID] = w
	s.mu.Unlock()
	if s.Changed != nil {
		s.Changed()
	}
	select {
	case <-w.done:
		_, _ = conn.Write([]byte("ok\n"))
		klog.V(3).InfoS("Endpoint enforced", "pod", klog.KRef(e.Namespace, e.Name), "ips", e.IPs)
	case <-ctx.Done():
	}
}

// Pending returns the announced pods' addresses by UID: the agent takes them as the pods'
// own until the API server has them.
func (s *Server) Pending() map[types.UID][]netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[types.UID][]netip.Addr, len(s.pending))
	for uid, w := range s.pending {
		if time.Since(w.at) > forgetAfter {
			delete(s.pending, uid)
			continue
		}
		out[uid] = w.e.IPs
	}
	return out
}

// Enforced answers the announcements that enforced reports true for; the agent calls it
// after it has written a ruleset, with a check of what that ruleset covered.
func (s *Server) Enforced(enforced func(Endpoint) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for uid, w := range s.pending {
		if enforced(w.e) {
			close(w.done)
			delete(s.pending, uid)
		}
	}
}
