package agnhost

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// grpcHealthCheckingMain is upstream's grpc-health-checking: the gRPC health service
// (grpc.health.v1.Health/Check) on --port, SERVING for --service until --delay-unhealthy-sec (or
// /make-not-serving on --http-port), NOT_SERVING after; NOT_FOUND for another service name. It
// speaks gRPC over Go's own HTTP/2 (cleartext, or TLS with --tls-cert-file), not with the gRPC
// library, which would double the size of the binary every container runs.
func grpcHealthCheckingMain(args []string) int {
	fs := newFlags("grpc-health-checking")
	port := fs.Int("port", 5000, "Port number.")
	httpPort := fs.Int("http-port", 8080, "Port number for the /make-serving and /make-not-serving.")
	delay := fs.Int("delay-unhealthy-sec", -1, "Number of seconds to delay before start reporting NOT_SERVING, negative value indicates never.")
	service := fs.String("service", "", "Service name to register the health check for.")
	cert := fs.String("tls-cert-file", "", "File containing an x509 certificate for gRPC TLS. (CA cert, if any, concatenated after server cert).")
	key := fs.String("tls-private-key-file", "", "File containing an x509 private key matching --tls-cert-file.")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if !maxArgs("grpc-health-checking", pos, 0) {
		return 1
	}
	if (*cert == "") != (*key == "") {
		log.Fatalf("Both --tls-cert-file and --tls-private-key-file must be set")
	}
	h := &grpcHealth{started: time.Now(), service: *service, delay: *delay}
	go func() {
		log.Printf("Http server starting to listen on :%d", *httpPort)
		log.Fatal(http.ListenAndServe(fmt.Sprintf(":%d", *httpPort), h.toggles()))
	}()
	srv := &http.Server{Addr: fmt.Sprintf(":%d", *port), Handler: h, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP2(true)
	log.Printf("gRPC server starting to listen on :%d", *port)
	if *cert != "" {
		log.Fatal(srv.ListenAndServeTLS(*cert, *key))
	}
	srv.Protocols.SetUnencryptedHTTP2(true)
	log.Fatal(srv.ListenAndServe())
	return 1
}

// gRPC status codes and the health service's serving states (grpc_health_v1).
const (
	grpcOK            = 0
	grpcNotFound      = 5
	grpcUnimplemented = 12
	grpcInternal      = 13

	healthServing    = 1
	healthNotServing = 2
)

// grpcHealth is the health service of grpc-health-checking.
type grpcHealth struct {
	started time.Time
	service string
	delay   int
	// forced is 0 until /make-serving (1) or /make-not-serving (2) is called.
	forced atomic.Int32
}

// toggles serves /make-serving and /make-not-serving, which answer the time since the start.
func (h *grpcHealth) toggles() http.Handler {
	mux := http.NewServeMux()
	for _, t := range []struct {
		path, mark string
		state      int32
	}{{"/make-serving", "healthy", healthServing}, {"/make-not-serving", "unhealthy", healthNotServing}} {
		mux.HandleFunc(t.path, func(w http.ResponseWriter, r *http.Request) {
			log.Printf("Mark as %s", t.mark)
			h.forced.Store(t.state)
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(time.Since(h.started).String()))
		})
	}
	return mux
}

// ServeHTTP answers a gRPC call: Check, or Unimplemented for the service's other methods.
func (h *grpcHealth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
	if r.Method != http.MethodPost || r.URL.Path != "/grpc.health.v1.Health/Check" {
		grpcStatus(w, grpcUnimplemented, "unimplemented")
		return
	}
	log.Printf("Serving the Check request for health check, started at %v", h.started)
	service, err := readHealthCheckRequest(r.Body)
	if err != nil {
		grpcStatus(w, grpcInternal, err.Error())
		return
	}
	if service != h.service {
		grpcStatus(w, grpcNotFound, "unknown service")
		return
	}
	state := byte(healthServing)
	if h.forced.Load() == healthNotServing || (h.forced.Load() == 0 && h.delay >= 0 && time.Since(h.started) >= time.Duration(h.delay)*time.Second) {
		state = healthNotServing
	}
	// One uncompressed message: HealthCheckResponse{status (field 1, varint)}.
	w.WriteHeader(http.StatusOK)
	w.Write([]byte{0, 0, 0, 0, 2, 0x08, state})
	grpcStatus(w, grpcOK, "")
}

// grpcStatus ends a call with its status, in the trailers (or in the headers of a call that has
// sent nothing).
func grpcStatus(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Grpc-Status", strconv.Itoa(code))
	if msg != "" {
		w.Header().Set("Grpc-Message", msg)
	}
}

// readHealthCheckRequest reads one length-prefixed HealthCheckRequest and returns its service
// (field 1, a string; other fields are skipped).
func readHealthCheckRequest(body io.Reader) (string, error) {
	var prefix [5]byte
	if _, err := io.ReadFull(body, prefix[:]); err != nil {
		return "", fmt.Errorf("reading the request: %w", err)
	}
	if prefix[0] != 0 {
		return "", errors.New("compressed requests are not supported")
	}
	msg := make([]byte, binary.BigEndian.Uint32(prefix[1:]))
	if _, err := io.ReadFull(body, msg); err != nil {
		return "", fmt.Errorf("reading the request: %w", err)
	}
	service := ""
	for len(msg) > 0 {
		tag, n := binary.Uvarint(msg)
		if n <= 0 {
			return "", errors.New("malformed request")
		}
		msg = msg[n:]
		switch tag & 7 {
		case 0: // varint
			if _, n = binary.Uvarint(msg); n <= 0 {
				return "", errors.New("malformed request")
			}
			msg = msg[n:]
		case 2: // length-delimited
			l, n := binary.Uvarint(msg)
			if n <= 0 || uint64(len(msg)-n) < l {
				return "", errors.New("malformed request")
			}
			if tag>>3 == 1 {
				service = string(msg[n : n+int(l)])
			}
			msg = msg[n+int(l):]
		default:
			return "", fmt.Errorf("unexpected wire type %d in the request", tag&7)
		}
	}
	return service, nil
}
