package imagestoretest

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is a registry on loopback, closed when the test ends.
type Registry struct {
	// Host is its host:port.
	Host string
	// Requests counts the requests other than pings (GET /v2/); BlobGets the blobs fetched.
	Requests, BlobGets atomic.Int64
	user, pwd          string
	srv                *httptest.Server
	blobHook           atomic.Pointer[func(*http.Request)]
}

// OnBlob has hook called before each blob is served (nil: none).
func (r *Registry) OnBlob(hook func(*http.Request)) {
	if hook == nil {
		r.blobHook.Store(nil)
		return
	}
	r.blobHook.Store(&hook)
}

// NewRegistry starts a registry closed when the test ends; with pwd, it answers 401
// UNAUTHORIZED to any request without user and pwd.
func NewRegistry(t testing.TB, user, pwd string) *Registry {
	r := Start(user, pwd)
	t.Cleanup(r.Close)
	return r
}

// Start starts a registry, for programs that are not tests (benchmarks); Close stops it.
func Start(user, pwd string) *Registry {
	r := &Registry{user: user, pwd: pwd}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v2/" {
			r.Requests.Add(1)
		}
		if r.pwd != "" {
			if u, p, ok := req.BasicAuth(); !ok || u != r.user || p != r.pwd {
				w.Header().Set("WWW-Authenticate", `Basic realm="minaks test"`)
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
		}
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
			r.BlobGets.Add(1)
			if hook := r.blobHook.Load(); hook != nil {
				(*hook)(req)
			}
		}
		reg.ServeHTTP(w, req)
	}))
	r.srv, r.Host = srv, strings.TrimPrefix(srv.URL, "http://")
	return r
}

// Close stops the registry.
func (r *Registry) Close() { r.srv.Close() }

// Auth is what pushes to it.
func (r *Registry) Auth() authn.Authenticator {
	if r.pwd == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.user, Password: r.pwd}
}

// Push pushes img as repo (path:tag) and returns its whole reference.
func (r *Registry) Push(t testing.TB, repo string, img v1.Image) string {
	t.Helper()
	ref, err := r.Write(repo, img)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// PushIndex pushes a multi-platform index as repo (path:tag) and returns its whole reference.
func (r *Registry) PushIndex(t testing.TB, repo string, idx v1.ImageIndex) string {
	t.Helper()
	ref, err := r.write(repo, func(n name.Reference, o remote.Option) error { return remote.WriteIndex(n, idx, o) })
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// Write is Push for programs that are not tests.
func (r *Registry) Write(repo string, img v1.Image) (string, error) {
	return r.write(repo, func(n name.Reference, o remote.Option) error { return remote.Write(n, img, o) })
}

func (r *Registry) write(repo string, push func(name.Reference, remote.Option) error) (string, error) {
	ref := r.Host + "/" + repo
	n, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	return ref, push(n, remote.WithAuth(r.Auth()))
}
