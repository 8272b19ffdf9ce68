package agnhost

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

func connectMain(args []string) int {
	fs := newFlags("connect")
	timeout := fs.Duration("timeout", 0, "Maximum time before returning an error")
	protocol := fs.String("protocol", "tcp", "The protocol to use to perform the connection, can be tcp, udp or sctp")
	udpData := fs.String("udp-data", "hostname", "The UDP payload send to the server")
	sctpData := fs.String("sctp-data", "hostname", "The SCTP payload send to the server")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(os.Stderr, "Error: accepts 1 arg(s), received %d\nRun 'app connect --help' for usage.\n", len(pos))
		return 1
	}
	return connect(os.Stderr, pos[0], *protocol, *timeout, *udpData, *sctpData)
}

// connect tries a connection to dest and returns the exit code; on failure it writes one line
// to stderr starting with what tests check for: UNKNOWN, TIMEOUT, DNS, REFUSED or OTHER.
func connect(stderr io.Writer, dest, protocol string, timeout time.Duration, udpData, sctpData string) int {
	switch protocol {
	case "", "tcp":
		return connectTCP(stderr, dest, timeout)
	case "udp":
		return connectUDP(stderr, dest, timeout, udpData)
	case "sctp":
		return connectSCTP(stderr, dest, timeout, sctpData)
	}
	fmt.Fprint(stderr, "Unsupported protocol\n", protocol)
	return 1
}

func connectTCP(stderr io.Writer, dest string, timeout time.Duration) int {
	if _, _, err := net.SplitHostPort(dest); err != nil {
		fmt.Fprintf(stderr, "UNKNOWN: %v\n", err)
		return 1
	}
	if _, err := net.ResolveTCPAddr("tcp", dest); err != nil {
		fmt.Fprintf(stderr, "DNS: %v\n", err)
		return 1
	}
	conn, err := net.DialTimeout("tcp", dest, timeout)
	if err == nil {
		conn.Close()
		return 0
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		if opErr.Timeout() {
			fmt.Fprintf(stderr, "TIMEOUT\n")
			return 1
		}
		var sysErr *os.SyscallError
		if errors.As(opErr.Err, &sysErr) && sysErr.Err == syscall.ECONNREFUSED {
			fmt.Fprintf(stderr, "REFUSED\n")
			return 1
		}
	}
	fmt.Fprintf(stderr, "OTHER: %v\n", err)
	return 1
}

func connectSCTP(stderr io.Writer, dest string, timeout time.Duration, data string) int {
	addr, err := net.ResolveTCPAddr("tcp", dest)
	if err != nil {
		fmt.Fprintf(stderr, "DNS: %v\n", err)
		return 1
	}
	errc := make(chan error, 1)
	go func() {
		conn, err := dialSCTP(addr.String(), 0)
		if err != nil {
			errc <- err
			return
		}
		defer conn.Close()
		if _, err := conn.Write([]byte(data + "\n")); err != nil {
			errc <- err
			return
		}
		buf := make([]byte, 1024)
		_, err = conn.Read(buf)
		errc <- err
	}()
	// As upstream, a zero timeout fires at once unless the exchange has already finished.
	select {
	case err := <-errc:
		if err != nil {
			fmt.Fprintf(stderr, "OTHER: %v\n", err)
			return 1
		}
		return 0
	case <-time.After(timeout):
		fmt.Fprint(stderr, "TIMEOUT\n")
		return 1
	}
}

func connectUDP(stderr io.Writer, dest string, timeout time.Duration, data string) int {
	if _, err := net.ResolveUDPAddr("udp", dest); err != nil {
		fmt.Fprintf(stderr, "DNS: %v\n", err)
		return 1
	}
	conn, err := net.Dial("udp", dest)
	if err != nil {
		fmt.Fprintf(stderr, "OTHER: %v\n", err)
		return 1
	}
	defer conn.Close()
	if timeout > 0 {
		if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			fmt.Fprintf(stderr, "OTHER: %v\n", err)
			return 1
		}
	}
	if _, err := conn.Write([]byte(data + "\n")); err != nil {
		return udpError(stderr, err)
	}
	buf := make([]byte, 1024)
	n, err := conn.Read(buf)
	if err != nil {
		return udpError(stderr, err)
	}
	if n == 0 {
		fmt.Fprintf(stderr, "OTHER: No data received from the server. Cannot guarantee the server received the request.\n")
		return 1
	}
	return 0
}

func udpError(stderr io.Writer, err error) int {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		fmt.Fprintf(stderr, "TIMEOUT: %v\n", err)
	case strings.Contains(err.Error(), "connection refused"):
		fmt.Fprintf(stderr, "REFUSED: %v\n", err)
	default:
		fmt.Fprintf(stderr, "UNKNOWN: %v\n", err)
	}
	return 1
}
