package netnstest

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// Serve answers every TCP connection to addr inside ns (the host's when empty) with
// reply(conn), until the test ends.
func Serve(t *testing.T, ns, addr string, reply func(net.Conn) string) {
	t.Helper()
	var l net.Listener
	listen := func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	}
	var err error
	if ns == "" {
		err = listen()
	} else {
		err = netns.Do(ns, listen)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, reply(c))
			c.Close()
		}
	}()
}

// Text is a reply that is always the same.
func Text(s string) func(net.Conn) string { return func(net.Conn) string { return s } }

// RemoteIP is a reply that says where the connection came from.
func RemoteIP(c net.Conn) string {
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	return host
}

// Fetch connects to addr from inside ns (the host when empty), sends request, and returns what
// the server sent back before closing.
func Fetch(ns, addr, request string) (string, error) {
	var c net.Conn
	dial := func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	}
	var err error
	if ns == "" {
		err = dial()
	} else {
		err = netns.Do(ns, dial)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if request != "" {
		if _, err := io.WriteString(c, request); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// PID returns the process named comm (its /proc/PID/comm) whose network namespace is the
// named one, such as a node's kube-proxy.
func PID(ns, comm string) (int, error) {
	want, err := os.Stat(netns.Path(ns))
	if err != nil {
		return 0, err
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if strings.TrimSpace(string(name)) != comm {
			continue
		}
		if st, err := os.Stat(filepath.Join("/proc", e.Name(), "ns", "net")); err == nil && os.SameFile(st, want) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no %s process in %s", comm, ns)
}
