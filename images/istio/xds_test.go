package istio

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/minaks/minaks/images/istio/translate"
)

// TestStateServer runs istiod's side and the proxy's side of the state protocol over real
// TLS: the proxy is known by its token (a TokenReview), gets its own Gateway's state with only
// the Secrets its listeners name, and waits for the next version.
func TestStateServer(t *testing.T) {
	client := fake.NewSimpleClientset()
	client.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		out := tr.DeepCopy()
		if tr.Spec.Token == "good" && len(tr.Spec.Audiences) == 1 && tr.Spec.Audiences[0] == tokenAud {
			out.Status = authenticationv1.TokenReviewStatus{Authenticated: true,
				User: authenticationv1.UserInfo{Username: "system:serviceaccount:shop:web-approuting-istio"}}
		} else {
			out.Status = authenticationv1.TokenReviewStatus{Error: "invalid token"}
		}
		return true, out, nil
	})
	ctx := context.Background()
	authority, err := loadOrCreateCA(ctx, client, "aks-istio-system")
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadOrCreateCA(ctx, client, "aks-istio-system")
	if err != nil || !again.cert.Equal(authority.cert) {
		t.Fatalf("a second istiod got another CA: %v", err)
	}
	serving, err := authority.servingCertificate([]string{"istiod.aks-istio-system.svc"})
	if err != nil {
		t.Fatal(err)
	}

	server := newStateServer(client)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*serving}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: server}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	caFile, tokenFile := filepath.Join(dir, "root-cert.pem"), filepath.Join(dir, "token")
	must(t, os.WriteFile(caFile, authority.certPEM, 0o600))
	must(t, os.WriteFile(tokenFile, []byte("good\n"), 0o600))
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c, err := newStateClient("istiod.aks-istio-system.svc:"+port, caFile, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	// The name istiod's certificate carries, at the test's address.
	c.http.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, ln.Addr().String())
	}

	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "approuting-istio", Listeners: []gatewayv1.Listener{{
			Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
			TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "web-cert"}}},
		}}}}
	secret := func(ns, name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"tls.key": []byte("secret")}}
	}
	server.publish(&translate.State{Gateways: []*gatewayv1.Gateway{gw},
		Secrets: []*corev1.Secret{secret("shop", "web-cert"), secret("shop", "db-password"), secret("other", "web-cert")}}, true)

	resp, err := c.next(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Gateway.Namespace != "shop" || resp.Gateway.Name != "web" || !resp.AccessLog {
		t.Errorf("answer for %v (access log %v), want shop/web", resp.Gateway, resp.AccessLog)
	}
	if len(resp.State.Secrets) != 1 || resp.State.Secrets[0].Namespace != "shop" || resp.State.Secrets[0].Name != "web-cert" {
		t.Errorf("secrets sent: %v, want only shop/web-cert", resp.State.Secrets)
	}

	// The same version: the proxy waits for the next one.
	next := make(chan *stateResponse, 1)
	go func() {
		r, err := c.next(ctx, resp.Version)
		if err != nil {
			t.Error(err)
		}
		next <- r
	}()
	select {
	case r := <-next:
		t.Fatalf("answered without a new version: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	server.publish(&translate.State{Gateways: []*gatewayv1.Gateway{gw}}, false)
	select {
	case r := <-next:
		if r == nil || r.Version != resp.Version+1 {
			t.Errorf("after a publish: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer after a publish")
	}

	must(t, os.WriteFile(tokenFile, []byte("bad"), 0o600))
	if _, err := c.next(ctx, 0); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("with a bad token: %v, want 401", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
