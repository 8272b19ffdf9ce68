package agnhost

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestGRPCHealthChecking asks the health service with the gRPC library's client, as the
// kubelet's gRPC probe does: SERVING for the configured service, NOT_FOUND for another,
// NOT_SERVING after /make-not-serving and SERVING again after /make-serving, and NOT_SERVING
// once --delay-unhealthy-sec has passed.
func TestGRPCHealthChecking(t *testing.T) {
	serve := func(h *grpcHealth) healthpb.HealthClient {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
		srv.Protocols.SetUnencryptedHTTP2(true)
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		conn, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return healthpb.NewHealthClient(conn)
	}
	check := func(c healthpb.HealthClient, service string) (healthpb.HealthCheckResponse_ServingStatus, codes.Code) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return 0, status.Code(err)
		}
		return resp.GetStatus(), codes.OK
	}

	h := &grpcHealth{started: time.Now(), service: "svc", delay: -1}
	c := serve(h)
	toggles := httptest.NewServer(h.toggles())
	defer toggles.Close()
	for _, step := range []struct {
		toggle  string
		service string
		want    healthpb.HealthCheckResponse_ServingStatus
		code    codes.Code
	}{
		{"", "svc", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"", "other", 0, codes.NotFound},
		{"/make-not-serving", "svc", healthpb.HealthCheckResponse_NOT_SERVING, codes.OK},
		{"/make-serving", "svc", healthpb.HealthCheckResponse_SERVING, codes.OK},
	} {
		if step.toggle != "" {
			if code, _ := get(t, toggles.URL, step.toggle); code != http.StatusOK {
				t.Fatalf("%s: %d", step.toggle, code)
			}
		}
		if got, code := check(c, step.service); got != step.want || code != step.code {
			t.Errorf("after %q, Check(%q) = %v, %v; want %v, %v", step.toggle, step.service, got, code, step.want, step.code)
		}
	}

	late := serve(&grpcHealth{started: time.Now().Add(-2 * time.Second), delay: 1})
	if got, code := check(late, ""); got != healthpb.HealthCheckResponse_NOT_SERVING || code != codes.OK {
		t.Errorf("after --delay-unhealthy-sec, Check = %v, %v; want NOT_SERVING", got, code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := late.List(ctx, &healthpb.HealthListRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("List: %v; want Unimplemented", err)
	}
}
