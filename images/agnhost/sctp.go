package agnhost

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// SCTP without a library: a one-to-one (SOCK_STREAM) SCTP socket reads and writes like a TCP
// one, so once set up it is handed to the net package, which treats it as a stream socket.

// sctpError wraps err from op, saying what to do when the kernel has no SCTP.
func sctpError(op string, err error) error {
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ESOCKTNOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) {
		return fmt.Errorf("%s: %w (the kernel has no SCTP: load the sctp module with `modprobe sctp`)", op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// listenSCTP listens for SCTP associations on host:port; an empty host means every IPv4 and
// IPv6 address.
// Equivalent: a socket(AF_INET6, SOCK_STREAM, IPPROTO_SCTP) bound to [::]:port.
func listenSCTP(host string, port int) (net.Listener, error) {
	var sa unix.Sockaddr
	family := unix.AF_INET6
	switch {
	case host == "":
		sa = &unix.SockaddrInet6{Port: port}
	default:
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("listen sctp %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
		}
		sa, family = sockaddr(netip.AddrPortFrom(ip, uint16(port)))
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil && family == unix.AF_INET6 && host == "" && errors.Is(err, unix.EAFNOSUPPORT) {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: port}
		fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	}
	if err != nil {
		return nil, sctpError("create SCTP socket", err)
	}
	f := os.NewFile(uintptr(fd), "sctp")
	defer f.Close()
	if family == unix.AF_INET6 && host == "" {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(fd, sa); err != nil {
		return nil, sctpError(fmt.Sprintf("bind SCTP port %d", port), err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		return nil, sctpError(fmt.Sprintf("listen on SCTP port %d", port), err)
	}
	return net.FileListener(f)
}

// dialSCTP opens an SCTP association to addr ("host:port", host an IP address); a zero
// timeout means the kernel's.
func dialSCTP(addr string, timeout time.Duration) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial sctp %s: %w", addr, err)
	}
	sa, family := sockaddr(ap)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil {
		return nil, sctpError("create SCTP socket", err)
	}
	f := os.NewFile(uintptr(fd), "sctp")
	defer f.Close()
	if timeout > 0 {
		tv := unix.NsecToTimeval(timeout.Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	}
	for {
		err = unix.Connect(fd, sa)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINPROGRESS) {
			return nil, &net.OpError{Op: "dial", Net: "sctp", Addr: net.TCPAddrFromAddrPort(ap), Err: os.NewSyscallError("connect", unix.ETIMEDOUT)}
		}
		return nil, &net.OpError{Op: "dial", Net: "sctp", Addr: net.TCPAddrFromAddrPort(ap), Err: os.NewSyscallError("connect", err)}
	}
	if timeout > 0 {
		var zero unix.Timeval
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &zero)
	}
	return net.FileConn(f)
}

func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	if ap.Addr().Unmap().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, unix.AF_INET6
}
