package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/klog/v2"

	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
)

// serveClusterEgress is the API server's way into the cluster: its egress selector sends every
// "cluster" connection (to kubelets for logs, exec and port-forward, to pods and services for
// proxies and webhooks) as an HTTP CONNECT over the unix socket at path, and this proxy dials
// the target from inside the cluster's fabric namespace, which reaches the nodes and pods. So
// the API server needs no host route to them, which the host has for one cluster per subnet
// only; it is the part Konnectivity plays on AKS.
//
// Connections to a Service address leave from a node's namespace instead, where the node's
// Service rules (kube-proxy's) take them to an endpoint, as they leave from Konnectivity's
// agents on AKS's nodes: the API server reaches an aggregated API (metrics-server's) or a
// webhook by its Service's cluster IP.
func serveClusterEgress(ctx context.Context, path, cluster string, services []netip.Prefix) error {
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return err
	}
	logger := klog.FromContext(ctx).WithValues("egress", "cluster")
	serveConns(ctx, l, func(conn net.Conn) {
		if err := connect(ctx, conn, cluster, services); err != nil && ctx.Err() == nil {
			logger.V(2).Info("Cluster egress", "err", err)
		}
	})
	return nil
}

// serveConns hands every connection l accepts to handle, each in its own goroutine, until ctx
// is done, which closes l.
func serveConns(ctx context.Context, l net.Listener, handle func(net.Conn)) {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go handle(conn)
		}
	}()
}

// connect serves one CONNECT request and splices the two connections.
func connect(ctx context.Context, conn net.Conn, cluster string, services []netip.Prefix) error {
	defer conn.Close()
	br := bufio.NewReader(conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(conn, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return errors.New("not a CONNECT request")
	}
	// Only addresses: a name would be resolved inside the namespace switch, which must not
	// happen (the API server asks for kubelets by InternalIP, for pods and services by IP).
	target, err := netip.ParseAddrPort(req.Host)
	if err != nil {
		_, _ = io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\n\r\nminaks cluster egress takes IP addresses only")
		return errors.New("not an IP address: " + req.Host)
	}
	ns, err := dialNS(cluster, services, target.Addr().Unmap())
	if err != nil {
		_, _ = io.WriteString(conn, "HTTP/1.1 502 Bad Gateway\r\n\r\n"+err.Error())
		return err
	}
	var targetConn net.Conn
	err = netns.Do(ns, func() (err error) {
		targetConn, err = (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", req.Host)
		return err
	})
	if err != nil {
		_, _ = io.WriteString(conn, "HTTP/1.1 502 Bad Gateway\r\n\r\n"+err.Error())
		return err
	}
	defer targetConn.Close()
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return err
	}
	splice(conn, br, targetConn) // what the reader buffered comes first
	return nil
}

// dialNS is the namespace a connection to addr leaves from: for a Service address, the first
// node's (by name) that exists; for any other, the fabric's, which routes to every node and pod.
func dialNS(cluster string, services []netip.Prefix, addr netip.Addr) (string, error) {
	if !slices.ContainsFunc(services, func(p netip.Prefix) bool { return p.Contains(addr) }) {
		return netstack.FabricNS(cluster), nil
	}
	names, err := netns.List(netstack.NSPrefix(cluster))
	if err != nil {
		return "", err
	}
	slices.Sort(names)
	for _, name := range names {
		if rest := strings.TrimPrefix(name, netstack.NSPrefix(cluster)); name != netstack.FabricNS(cluster) && !strings.HasPrefix(rest, "pod-") {
			return name, nil
		}
	}
	return "", fmt.Errorf("no node to reach Service address %s from", addr)
}

// splice copies between a client (read through in) and a target until either side is done.
func splice(client net.Conn, in io.Reader, target net.Conn) {
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(target, in)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(client, target)
		done <- struct{}{}
	}()
	<-done
}

// serveAPIEndpoint makes the API server reachable from the cluster at its advertised address,
// the subnet's .2 in the fabric: a TCP forwarder to its loopback listener on the same port
// (TLS passes through; the serving certificate names that address).
func serveAPIEndpoint(ctx context.Context, fabric *netstack.Fabric, addr netip.AddrPort) error {
	l, err := fabric.Listen(addr)
	if err != nil {
		return fmt.Errorf("API server endpoint %s: %w", addr, err)
	}
	loopback := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(addr.Port())))
	serveConns(ctx, l, func(conn net.Conn) {
		defer conn.Close()
		target, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", loopback)
		if err != nil {
			return
		}
		defer target.Close()
		splice(conn, conn, target)
	})
	return nil
}
