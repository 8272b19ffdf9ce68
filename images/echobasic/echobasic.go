package echobasic

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/websocket"
	grpcecho "sigs.k8s.io/gateway-api/conformance/echo-basic/grpc"
	"sigs.k8s.io/gateway-api/conformance/echo-basic/tcpserver"

	"github.com/minaks/minaks/images"
)

func init() {
	images.Register(&images.Image{
		Name: "echo-basic",
		References: []string{
			"registry.k8s.io/gateway-api/conformance/echo-basic",
			"gcr.io/k8s-staging-gateway-api/echo-basic",
		},
		Program:    "echo-basic",
		Binary:     images.KubeBinary,
		Entrypoint: []string{"/echo-basic"},
		WorkingDir: "/",
		// distroless/static's environment.
		Env:         []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Paths:       []string{"/echo-basic"},
		Main:        Main,
		Description: "Gateway API conformance echo-basic: echoes HTTP, h2c, HTTPS, WebSocket, gRPC and TCP requests as JSON",
	})
}

// Main runs echo-basic as its environment says; like the original it takes no arguments.
func Main(args []string) int {
	if os.Getenv("GRPC_ECHO_SERVER") != "" {
		grpcecho.Main()
		return 0
	}
	if os.Getenv("TCP_ECHO_SERVER") != "" {
		tcpserver.Main()
		return 0
	}
	s := &Server{
		HTTPPort: envOr("HTTP_PORT", "3000"),
		Context: Context{
			Namespace: os.Getenv("NAMESPACE"),
			Ingress:   os.Getenv("INGRESS_NAME"),
			Service:   os.Getenv("SERVICE_NAME"),
			Pod:       os.Getenv("POD_NAME"),
		},
		Out: os.Stdout,
	}
	h2cPort := envOr("H2C_PORT", "3001")
	httpsPort := envOr("HTTPS_PORT", "8443")

	errc := make(chan error)
	go func() {
		fmt.Fprintf(s.Out, "Starting server, listening on port %s (http)\n", s.HTTPPort)
		// No timeouts, as the original's http.ListenAndServe.
		errc <- (&http.Server{Addr: ":" + s.HTTPPort, Handler: s.Handler()}).ListenAndServe() //nolint:gosec
	}()
	go func() {
		fmt.Fprintf(s.Out, "Starting server, listening on port %s (h2c)\n", h2cPort)
		errc <- (&http.Server{Addr: ":" + h2cPort, Handler: s.H2CHandler(), ReadHeaderTimeout: time.Second}).ListenAndServe()
	}()
	cert, key := os.Getenv("TLS_SERVER_CERT"), os.Getenv("TLS_SERVER_PRIVKEY")
	if cert != "" && key != "" {
		go func() {
			fmt.Fprintf(s.Out, "Starting server, listening on port %s (https)\n", httpsPort)
			cfg, err := TLSConfig(os.Getenv("TLS_CLIENT_CACERTS"))
			if err != nil {
				errc <- err
				return
			}
			errc <- (&http.Server{Addr: ":" + httpsPort, Handler: s.Handler(), TLSConfig: cfg}).ListenAndServeTLS(cert, key) //nolint:gosec
		}()
	}
	// The original panics when a server stops: the message and exit status 2 of a panic.
	err := <-errc
	fmt.Fprintf(os.Stderr, "panic: Failed to start listening: %s\n\n", err)
	return 2
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Context is where the server runs, from the pod's environment.
type Context struct {
	Namespace string `json:"namespace"`
	Ingress   string `json:"ingress"`
	Service   string `json:"service"`
	Pod       string `json:"pod"`
}

// RequestAssertions is the echo: what the server saw of the request. The JSON field order is
// the original's, Context's fields inline.
type RequestAssertions struct {
	Path     string              `json:"path"`
	Host     string              `json:"host"`
	Method   string              `json:"method"`
	Proto    string              `json:"proto"`
	Headers  map[string][]string `json:"headers"`
	HTTPPort string              `json:"httpPort"`

	Context

	TLS *TLSAssertions `json:"tls,omitempty"`
}

// TLSAssertions is what the server saw of the TLS connection.
type TLSAssertions struct {
	Version            string   `json:"version"`
	PeerCertificates   []string `json:"peerCertificates,omitempty"`
	ServerName         string   `json:"serverName"`
	NegotiatedProtocol string   `json:"negotiatedProtocol,omitempty"`
	CipherSuite        string   `json:"cipherSuite"`
}

// Server is echo-basic's HTTP side.
type Server struct {
	// HTTPPort is the HTTP port, echoed as httpPort by every listener (HTTP, h2c and HTTPS).
	HTTPPort string
	Context  Context
	// Out receives the log lines (stdout).
	Out io.Writer
}

// Handler serves the HTTP and HTTPS ports: /health, /status/, /ws and the echo on every other
// path, routed on the path with "//" folded to "/".
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", health)
	mux.HandleFunc("/status/", status)
	mux.HandleFunc("/", s.echo)
	mux.Handle("/ws", websocket.Handler(s.websocketEcho))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Routing on the folded path spares the mux's redirect to the clean path, while
		// RequestURI, which the echo reports, keeps the slashes as sent.
		r.URL.Path = strings.ReplaceAll(r.URL.Path, "//", "/")
		mux.ServeHTTP(w, r)
	})
}

// H2CHandler serves the h2c port: the echo for HTTP/2 requests (with prior knowledge or
// upgraded from HTTP/1.1) on any path, 400 for plain HTTP/1.
func (s *Server) H2CHandler() http.Handler {
	only := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 && r.Header.Get("Upgrade") != "h2c" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, "Expected h2c request")
			return
		}
		s.echo(w, r)
	})
	// x/net's h2c, deprecated, is kept because it also upgrades HTTP/1.1 requests carrying
	// "Upgrade: h2c", which net/http's own unencrypted HTTP/2 does not, and the original does.
	return h2c.NewHandler(only, &http2.Server{}) //nolint:staticcheck
}

func (s *Server) websocketEcho(ws *websocket.Conn) {
	fmt.Fprintln(s.Out, "established websocket connection", ws.RemoteAddr())
	// Echo frames back until the client closes.
	_, _ = io.Copy(ws, ws)
}

func health(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

var statusPath = regexp.MustCompile(`^/status/(\d\d\d)$`)

// status answers /status/NNN with status NNN, judged on the request URI as sent (so a query
// string makes it a 400).
func status(w http.ResponseWriter, r *http.Request) {
	code := http.StatusBadRequest
	if m := statusPath.FindStringSubmatch(r.RequestURI); m != nil {
		code, _ = strconv.Atoi(m[1])
	}
	w.WriteHeader(code)
}

// delay waits for the request's delay parameter (a Go duration), from the query or a form
// body as FormValue reads them.
func delay(r *http.Request) error {
	d := r.FormValue("delay")
	if d == "" {
		return nil
	}
	wait, err := time.ParseDuration(d)
	if err != nil {
		return err
	}
	time.Sleep(wait)
	return nil
}

func (s *Server) echo(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(s.Out, "Echoing back request made to %s to client (%s)\n", r.RequestURI, r.RemoteAddr)
	if err := delay(r); err != nil {
		writeError(w, err, http.StatusInternalServerError)
		return
	}
	body, err := json.MarshalIndent(RequestAssertions{
		Path:     r.RequestURI,
		Host:     r.Host,
		Method:   r.Method,
		Proto:    r.Proto,
		Headers:  r.Header,
		HTTPPort: s.HTTPPort,
		Context:  s.Context,
		TLS:      tlsAssertions(r.TLS),
	}, "", " ")
	if err != nil {
		writeError(w, err, http.StatusInternalServerError)
		return
	}
	setEchoHeaders(w, r.Header)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

// setEchoHeaders sets the response headers the request asks for in X-Echo-Set-Header
// ("Name:value, Name2:value2", possibly repeated), the names' case kept; a name given twice
// gets the values joined by ",".
func setEchoHeaders(w http.ResponseWriter, h http.Header) {
	for _, list := range h["X-Echo-Set-Header"] {
		for _, kv := range strings.Split(list, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(kv), ":")
			if cur := w.Header()[name]; len(cur) > 0 {
				cur[0] += "," + strings.TrimSpace(value)
			} else {
				w.Header()[name] = []string{value}
			}
		}
	}
}

func writeError(w http.ResponseWriter, err error, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	body, jerr := json.Marshal(struct {
		Message string `json:"message"`
	}{err.Error()})
	w.WriteHeader(code)
	if jerr != nil {
		fmt.Fprintln(w, jerr)
		return
	}
	_, _ = w.Write(body)
}

// TLSConfig is the HTTPS server's TLS configuration: with clientCAFile set, client
// certificates are verified against its certificates when given, and not required.
func TLSConfig(clientCAFile string) (*tls.Config, error) {
	cfg := &tls.Config{} //nolint:gosec // the original's defaults
	if clientCAFile == "" {
		return cfg, nil
	}
	pemData, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("unable to append certificate in %q to CA pool", clientCAFile)
	}
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.ClientCAs = pool
	return cfg, nil
}

func tlsAssertions(cs *tls.ConnectionState) *TLSAssertions {
	if cs == nil {
		return nil
	}
	a := &TLSAssertions{
		NegotiatedProtocol: cs.NegotiatedProtocol,
		ServerName:         cs.ServerName,
		CipherSuite:        tls.CipherSuiteName(cs.CipherSuite),
	}
	switch cs.Version {
	case tls.VersionTLS13:
		a.Version = "TLSv1.3"
	case tls.VersionTLS12:
		a.Version = "TLSv1.2"
	case tls.VersionTLS11:
		a.Version = "TLSv1.1"
	case tls.VersionTLS10:
		a.Version = "TLSv1.0"
	}
	for _, c := range cs.PeerCertificates {
		a.PeerCertificates = append(a.PeerCertificates, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	return a
}
