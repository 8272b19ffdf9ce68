package tools

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minaks/minaks/images"
)

func init() { images.RegisterTool("nc", ncMain) }

// ncOptions are the options of OpenBSD's netcat (agnhost's nc) that nc takes.
type ncOptions struct {
	network     string // "tcp" or "udp", with -4/-6 appended
	listen      bool
	verbose     bool
	scan        bool
	shutdown    bool          // -N: shut the write side down after EOF on stdin
	timeout     time.Duration // -w: connect timeout, and idle timeout
	quit        time.Duration // -q: quit this long after EOF on stdin; negative, never
	recvLimit   int           // -W: quit after receiving this many packets; 0, never
	port        string        // -p: local port
	host, rport string
}

func ncMain(args []string) int {
	o, err := parseNC(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nc: %v\nusage: nc [-46lNnuvz] [-p source_port] [-q seconds] [-W recvlimit] [-w timeout] [destination] [port]\n", err)
		return 1
	}
	if err := o.run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "nc: %v\n", err)
		return 1
	}
	return 0
}

func parseNC(args []string) (*ncOptions, error) {
	o := &ncOptions{network: "tcp", quit: -1}
	family := ""
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		// Flags bundle (-vz, -lvp 80, -w2); a flag with a value takes the rest or the next word.
		for j := 1; j < len(a); j++ {
			switch f := a[j]; f {
			case '4', '6':
				family = string(f)
			case 'l':
				o.listen = true
			case 'u':
				o.network = "udp"
			case 't':
				o.network = "tcp"
			case 'v':
				o.verbose = true
			case 'z':
				o.scan = true
			case 'N':
				o.shutdown = true
			case 'n', 'k', 'd', 'D':
				// numeric only, keep listening, no stdin, debug: nothing to do here
			case 'w', 'q', 'p', 'W':
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option requires an argument -- '%c'", f)
					}
					i++
					v = args[i]
				}
				if f == 'p' {
					o.port = v
				} else {
					n, err := strconv.Atoi(v)
					if err != nil {
						return nil, fmt.Errorf("-%c %s: not a number", f, v)
					}
					d := time.Duration(n) * time.Second
					switch f {
					case 'w':
						o.timeout = d
					case 'q':
						o.quit = d
					case 'W':
						o.recvLimit = n
					}
				}
				j = len(a)
			default:
				return nil, fmt.Errorf("invalid option -- '%c'", f)
			}
		}
	}
	o.network += family
	switch {
	case o.listen && len(pos) == 1 && o.port == "":
		o.port = pos[0]
	case o.listen && len(pos) == 2:
		o.host, o.port = pos[0], pos[1]
	case o.listen && len(pos) == 0 && o.port != "":
	case !o.listen && len(pos) == 2:
		o.host, o.rport = pos[0], pos[1]
	default:
		return nil, errors.New("missing or extra arguments")
	}
	return o, nil
}

func (o *ncOptions) run(stdin io.Reader, stdout io.Writer) error {
	var conn net.Conn
	var err error
	proto := strings.TrimRight(o.network, "46")
	if o.listen {
		conn, err = o.accept()
	} else {
		d := net.Dialer{Timeout: o.timeout}
		if o.port != "" {
			d.LocalAddr, err = resolveLocal(o.network, o.port)
			if err != nil {
				return err
			}
		}
		conn, err = d.Dial(o.network, net.JoinHostPort(o.host, o.rport))
		if err != nil {
			return fmt.Errorf("connect to %s port %s (%s) failed: %v", o.host, o.rport, proto, causeOf(err))
		}
		if o.verbose {
			fmt.Fprintf(os.Stderr, "Connection to %s %s port [%s/*] succeeded!\n", o.host, o.rport, proto)
		}
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	if o.scan {
		return nil
	}
	return o.copy(conn, stdin, stdout)
}

// accept waits for the first connection (TCP) or datagram (UDP) on the local port.
func (o *ncOptions) accept() (net.Conn, error) {
	addr := net.JoinHostPort(o.host, o.port)
	if strings.HasPrefix(o.network, "udp") {
		pc, err := net.ListenPacket(o.network, addr)
		if err != nil {
			return nil, err
		}
		return &udpPeer{PacketConn: pc}, nil
	}
	l, err := net.Listen(o.network, addr)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if o.verbose {
		fmt.Fprintf(os.Stderr, "Listening on %s\n", l.Addr())
	}
	c, err := l.Accept()
	if err == nil && o.verbose {
		fmt.Fprintf(os.Stderr, "Connection received on %s\n", c.RemoteAddr())
	}
	return c, err
}

// copy carries stdin to conn and conn to stdout, as netcat: it ends when the other side
// closes, when both are idle for the timeout (-w), or the -q delay after stdin's end.
func (o *ncOptions) copy(conn net.Conn, stdin io.Reader, stdout io.Writer) error {
	activity := make(chan struct{}, 1)
	touch := func() {
		select {
		case activity <- struct{}{}:
		default:
		}
	}
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		buf := make([]byte, 32<<10)
		for {
			n, err := stdin.Read(buf)
			if n > 0 {
				touch()
				if _, werr := conn.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				break
			}
		}
		if cw, ok := conn.(interface{ CloseWrite() error }); ok && o.shutdown {
			_ = cw.CloseWrite()
		}
	}()
	readDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for received := 0; ; {
			n, err := conn.Read(buf)
			if n > 0 {
				touch()
				if _, werr := stdout.Write(buf[:n]); werr != nil {
					readDone <- werr
					return
				}
				if received++; received == o.recvLimit {
					readDone <- nil
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
					err = nil
				}
				readDone <- err
				return
			}
		}
	}()
	var idle, quit <-chan time.Time
	resetIdle := func() {
		if o.timeout > 0 {
			idle = time.After(o.timeout)
		}
	}
	resetIdle()
	stdinOpen := stdinDone
	for {
		select {
		case err := <-readDone:
			if err != nil && strings.HasPrefix(o.network, "udp") && isRefused(err) {
				return nil // nothing listens: OpenBSD's nc says nothing either
			}
			return err
		case <-activity:
			resetIdle()
		case <-stdinOpen:
			stdinOpen = nil
			if o.quit >= 0 {
				quit = time.After(o.quit)
			}
		case <-quit:
			return nil
		case <-idle:
			return nil
		}
	}
}

// udpPeer is a listening UDP socket as a connection to the first peer that sends to it.
type udpPeer struct {
	net.PacketConn
	peer net.Addr
}

func (u *udpPeer) Read(b []byte) (int, error) {
	for {
		n, from, err := u.ReadFrom(b)
		if err != nil {
			return n, err
		}
		if u.peer == nil {
			u.peer = from
		}
		if from.String() == u.peer.String() {
			return n, nil
		}
	}
}

func (u *udpPeer) Write(b []byte) (int, error) {
	if u.peer == nil {
		return 0, errors.New("no peer yet")
	}
	return u.WriteTo(b, u.peer)
}

func (u *udpPeer) RemoteAddr() net.Addr { return u.peer }

func resolveLocal(network, port string) (net.Addr, error) {
	if strings.HasPrefix(network, "udp") {
		return net.ResolveUDPAddr(network, net.JoinHostPort("", port))
	}
	return net.ResolveTCPAddr(network, net.JoinHostPort("", port))
}

// causeOf is a dial error's cause as netcat says it ("Connection refused").
func causeOf(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	if isTimeout(err) {
		return "Connection timed out"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

func isRefused(err error) bool {
	return strings.Contains(err.Error(), "connection refused")
}
