package agnhost

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"
)

// The fake registry's user and password with --private, upstream's.
const (
	fakeRegistryUser     = "user"
	fakeRegistryPassword = "password"
)

// fakeRegistryServerMain is agnhost fake-registry-server: a registry that holds pause:testing
// (upstream's image holds registry.k8s.io/pause copied into /var/registry; this one builds
// it at start from agnhost's own binary, whose pause program runs it), behind basic auth with
// --private, as upstream's serves it: tags redirect to their manifest's digest.
func fakeRegistryServerMain(args []string) int {
	fs := newFlags("fake-registry-server")
	port := fs.Int("port", 5000, "Port number.")
	private := fs.Bool("private", false, "Enable authentication for the registry.")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if !maxArgs("fake-registry-server", pos, 0) {
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		log.Printf("Error while building the pause image: %v", err)
		return 1
	}
	exe, err := os.ReadFile(self)
	if err != nil {
		log.Printf("Error while building the pause image: %v", err)
		return 1
	}
	reg, err := newFakeRegistry(exe)
	if err != nil {
		log.Printf("Error while building the pause image: %v", err)
		return 1
	}
	var h http.Handler = reg
	if *private {
		h = basicAuth(h)
	}
	addr := fmt.Sprintf(":%d", *port)
	log.Printf("HTTP server starting to listen on %s", addr)
	log.Printf("Error while starting the HTTP server: %v", http.ListenAndServe(addr, h))
	return 1
}

// fakeRegistry serves one image's manifest and blobs, by digest, and its tags.
type fakeRegistry struct {
	name      string
	tags      map[string]string // tag → manifest digest
	manifests map[string][]byte // digest → manifest
	blobs     map[string][]byte // digest → blob
}

// newFakeRegistry builds pause:testing: one layer holding exe as /pause, for this platform.
func newFakeRegistry(exe []byte) (*fakeRegistry, error) {
	var layer, gzLayer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(exe)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(exe); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	gz := gzip.NewWriter(&gzLayer)
	if _, err := gz.Write(layer.Bytes()); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{"/pause"}, "User": "65535:65535"},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digestOf(layer.Bytes())}},
	})
	if err != nil {
		return nil, err
	}
	descriptor := func(mediaType string, b []byte) map[string]any {
		return map[string]any{"mediaType": mediaType, "digest": digestOf(b), "size": len(b)}
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor("application/vnd.oci.image.config.v1+json", config),
		"layers":        []any{descriptor("application/vnd.oci.image.layer.v1.tar+gzip", gzLayer.Bytes())},
	})
	if err != nil {
		return nil, err
	}
	return &fakeRegistry{
		name:      "pause",
		tags:      map[string]string{"testing": digestOf(manifest)},
		manifests: map[string][]byte{digestOf(manifest): manifest},
		blobs:     map[string][]byte{digestOf(config): config, digestOf(gzLayer.Bytes()): gzLayer.Bytes()},
	}, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (reg *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	if r.URL.Path == "/v2/" {
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v2/"), "/")
	if len(parts) != 3 || parts[0] != reg.name {
		http.NotFound(w, r)
		return
	}
	kind, id := parts[1], parts[2]
	switch kind {
	case "manifests":
		if digest, ok := reg.tags[id]; ok {
			w.Header().Set("Location", strings.Replace(r.URL.String(), id, digest, 1))
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		serveContent(w, r, reg.manifests, id, "application/vnd.oci.image.manifest.v1+json")
	case "blobs":
		serveContent(w, r, reg.blobs, id, "application/octet-stream")
	default:
		http.NotFound(w, r)
	}
}

// serveContent serves the content of byDigest named by digest, or 404.
func serveContent(w http.ResponseWriter, r *http.Request, byDigest map[string][]byte, digest, contentType string) {
	b, ok := byDigest[digest]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Docker-Content-Digest", digest)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// basicAuth lets through the requests with the registry's user and password.
func basicAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != fakeRegistryUser || pass != fakeRegistryPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="Restricted"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("Unauthorized\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
