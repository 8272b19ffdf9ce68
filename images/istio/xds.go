package istio

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/minaks/minaks/images/istio/translate"
	"github.com/minaks/minaks/pkg/apiserver/addons/gatewayapi"
)

// In Istio, a gateway's proxy has no access to the API server: istiod sends it its
// configuration over xDS on port 15012 (TLS, the proxy trusting istio-ca-root-cert and
// presenting its service account token with the audience istio-ca). minaks keeps that shape
// with a smaller protocol: the proxy long-polls statePath and gets the translation's input for
// its own Gateway (the Gateway API objects, Services and EndpointSlices, and only the Secrets
// its listeners name), which it translates itself; the translation is deterministic, so the
// proxy serves exactly what istiod computed its statuses from.
const (
	statePath    = "/minaks.istio.v1/gateway-state"
	tokenAud     = "istio-ca"
	pollDeadline = 25 * time.Second
)

// stateResponse is one answer of statePath.
type stateResponse struct {
	Version uint64               `json:"version"`
	Gateway types.NamespacedName `json:"gateway"`
	State   *translate.State     `json:"state"`
	// AccessLog is the mesh configuration's access log on the proxies' stdout (JSON).
	AccessLog bool `json:"accessLog"`
}

// stateServer serves statePath: every answer is the newest published state, filtered for the
// caller's Gateway; a caller that already has the newest version waits for the next one.
type stateServer struct {
	client kubernetes.Interface

	mu        sync.Mutex
	version   uint64
	state     *translate.State
	accessLog bool
	next      chan struct{} // closed when a newer version is published
	// identities caches TokenReviews: token → "namespace/serviceaccount".
	identities map[string]identity
}

type identity struct {
	ns, sa  string
	expires time.Time
}

func newStateServer(client kubernetes.Interface) *stateServer {
	return &stateServer{client: client, next: make(chan struct{}), identities: map[string]identity{}}
}

// publish makes st the newest state, with the mesh's access log setting.
func (s *stateServer) publish(st *translate.State, accessLog bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.state, s.accessLog = st, accessLog
	close(s.next)
	s.next = make(chan struct{})
}

func (s *stateServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		http.Error(w, "no bearer token", http.StatusUnauthorized)
		return
	}
	id, err := s.authenticate(r.Context(), token)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	have, _ := strconv.ParseUint(r.URL.Query().Get("version"), 10, 64)
	deadline := time.NewTimer(pollDeadline)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		version, st, next, accessLog := s.version, s.state, s.next, s.accessLog
		s.mu.Unlock()
		if st != nil && version != have {
			gw := gatewayOf(st, id)
			if gw == nil {
				http.Error(w, fmt.Sprintf("no Gateway in %s uses the service account %s", id.ns, id.sa), http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(stateResponse{Version: version,
				Gateway: types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}, State: forGateway(st, gw), AccessLog: accessLog})
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-deadline.C:
			w.WriteHeader(http.StatusNotModified)
			return
		case <-next:
		}
	}
}

// authenticate asks the API server who token belongs to (a TokenReview for the audience
// istio-ca), and remembers the answer for a minute.
func (s *stateServer) authenticate(ctx context.Context, token string) (identity, error) {
	s.mu.Lock()
	id, ok := s.identities[token]
	s.mu.Unlock()
	if ok && time.Now().Before(id.expires) {
		return id, nil
	}
	tr, err := s.client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{tokenAud}},
	}, metav1.CreateOptions{})
	if err != nil {
		return identity{}, fmt.Errorf("token review: %w", err)
	}
	if !tr.Status.Authenticated {
		return identity{}, fmt.Errorf("the token is not valid for %s: %s", tokenAud, tr.Status.Error)
	}
	parts := strings.Split(tr.Status.User.Username, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" {
		return identity{}, fmt.Errorf("%s is not a service account", tr.Status.User.Username)
	}
	id = identity{ns: parts[2], sa: parts[3], expires: time.Now().Add(time.Minute)}
	s.mu.Lock()
	if len(s.identities) > 1000 {
		s.identities = map[string]identity{}
	}
	s.identities[token] = id
	s.mu.Unlock()
	return id, nil
}

// gatewayOf is the Gateway whose proxy runs as the service account id.
func gatewayOf(st *translate.State, id identity) *gatewayv1.Gateway {
	for _, gw := range st.Gateways {
		if gw.Namespace == id.ns && gatewayapi.ServiceAccountName(gw) == id.sa {
			return gw
		}
	}
	return nil
}

// forGateway is st with only the Secrets that gw's listeners name: a proxy learns no other
// key.
func forGateway(st *translate.State, gw *gatewayv1.Gateway) *translate.State {
	out := *st
	wanted := map[types.NamespacedName]bool{}
	for _, l := range gw.Spec.Listeners {
		if l.TLS == nil {
			continue
		}
		for _, ref := range l.TLS.CertificateRefs {
			if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
				continue
			}
			ns := gw.Namespace
			if ref.Namespace != nil {
				ns = string(*ref.Namespace)
			}
			wanted[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}] = true
		}
	}
	out.Secrets = nil
	for _, s := range st.Secrets {
		if wanted[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] {
			out.Secrets = append(out.Secrets, s)
		}
	}
	return &out
}

// stateClient is the proxy's side of statePath.
type stateClient struct {
	url       string
	tokenFile string
	http      *http.Client
}

// newStateClient talks to istiod at addr (host:port), trusting the CA in caFile.
func newStateClient(addr, caFile, tokenFile string) (*stateClient, error) {
	pemData, err := readFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("istiod's root certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	host, _, _ := strings.Cut(addr, ":")
	return &stateClient{
		url:       "https://" + addr + statePath,
		tokenFile: tokenFile,
		http: &http.Client{
			Timeout:   pollDeadline + 10*time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}},
		},
	}, nil
}

// next waits for a state newer than version; nil with no error means nothing changed.
func (c *stateClient) next(ctx context.Context, version uint64) (*stateResponse, error) {
	token, err := readFile(c.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("service account token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"?version="+strconv.FormatUint(version, 10), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, nil
	case http.StatusOK:
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("istiod: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	var out stateResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("istiod's answer: %w", err)
	}
	if out.State == nil {
		return nil, errors.New("istiod's answer has no state")
	}
	if out.State.Secrets == nil {
		out.State.Secrets = []*corev1.Secret{}
	}
	return &out, nil
}
