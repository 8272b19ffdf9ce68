package echobasic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"

	"github.com/minaks/minaks/images"
)

// TestMain makes the test binary multi-call, as minaks's binaries are: run as "echo-basic" it
// is echo-basic.
func TestMain(m *testing.M) {
	if code, ok := images.Main(os.Args[0], os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// start runs the test binary as /echo-basic with env added, stopping it at the end of the test.
func start(t *testing.T, env ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(t.TempDir(), "echo-basic")
	if err := os.Symlink(self, prog); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog)
	cmd.Env = append(os.Environ(), append([]string{"NAMESPACE=ns", "INGRESS_NAME=ing", "SERVICE_NAME=svc", "POD_NAME=pod-1"}, env...)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, out
}

// syncBuffer is a buffer the program's output is copied into while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// dial connects to port once it listens.
func dial(t *testing.T, port string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMainHTTP(t *testing.T) {
	httpPort, h2cPort := freePort(t), freePort(t)
	_, out := start(t, "HTTP_PORT="+httpPort, "H2C_PORT="+h2cPort)
	dial(t, httpPort).Close()
	dial(t, h2cPort).Close()
	resp, err := http.Get("http://127.0.0.1:" + httpPort + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	var got RequestAssertions
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := Context{Namespace: "ns", Ingress: "ing", Service: "svc", Pod: "pod-1"}
	if got.Context != want || got.HTTPPort != httpPort || got.Path != "/hello" {
		t.Errorf("echo %+v", got)
	}
	time.Sleep(100 * time.Millisecond) // the log line of the request may follow the answer
	for _, line := range []string{
		"Starting server, listening on port " + httpPort + " (http)\n",
		"Starting server, listening on port " + h2cPort + " (h2c)\n",
		"Echoing back request made to /hello to client (127.0.0.1:",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

// TestMainPortTaken: a port that cannot be listened on ends the program as the original's
// panic does, with status 2.
func TestMainPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	cmd, out := start(t, "HTTP_PORT="+port, "H2C_PORT="+freePort(t))
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("exit %v, want status 2", err)
	}
	if !strings.Contains(out.String(), "panic: Failed to start listening: listen tcp :"+port) {
		t.Errorf("output:\n%s", out)
	}
}

// TestMainGRPC runs GRPC_ECHO_SERVER mode, the conformance module's own gRPC echo server, and
// calls its Echo method as the suite's gRPC client does.
func TestMainGRPC(t *testing.T) {
	port := freePort(t)
	cmd, _ := start(t, "GRPC_ECHO_SERVER=1", "HTTP_PORT="+port)
	dial(t, port).Close()
	conn, err := grpc.NewClient("127.0.0.1:"+port, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := pb.NewGrpcEchoClient(conn).Echo(ctx, &pb.EchoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	a := resp.GetAssertions()
	if a.GetFullyQualifiedMethod() != "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo" ||
		a.GetContext().GetPod() != "pod-1" || a.GetAuthority() != "127.0.0.1:"+port {
		t.Errorf("assertions %v", a)
	}
	// It stops on SIGTERM, with status 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// TestMainTCP runs TCP_ECHO_SERVER mode, the conformance module's TCP echo server.
func TestMainTCP(t *testing.T) {
	port := freePort(t)
	start(t, "TCP_ECHO_SERVER=1", "TCP_PORT="+port)
	conn := dial(t, port)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil || line != "Gateway API Test TCP Server\n" {
		t.Fatalf("welcome %q (%v)", line, err)
	}
	fmt.Fprint(conn, "TEST\n")
	line, err = r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("TEST answer %q: %v", line, err)
	}
	if got["pod"] != "pod-1" || got["tcpport"] != port || got["isTLS"] != false {
		t.Errorf("TEST answer %v", got)
	}
	fmt.Fprint(conn, "PING\n")
	if line, _ := r.ReadString('\n'); line != "PONG\n" {
		t.Errorf("PING answered %q", line)
	}
}
