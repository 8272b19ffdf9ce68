package agnhost

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
)

// porterPort is one port porter serves, from an environment variable SERVE_<kind>_PORT_<port>.
type porterPort struct {
	kind  string // tcp, udp, tls or sctp
	port  string
	value string
}

var porterPrefixes = []struct{ prefix, kind string }{
	{"SERVE_PORT_", "tcp"},
	{"SERVE_TCP_PORT_", "tcp"},
	{"SERVE_UDP_PORT_", "udp"},
	{"SERVE_SCTP_PORT_", "sctp"},
	{"SERVE_TLS_PORT_", "tls"},
}

// porterPorts returns the ports env asks porter to serve, sorted.
func porterPorts(env []string) []porterPort {
	var ports []porterPort
	for _, kv := range env {
		key, value, _ := strings.Cut(kv, "=")
		for _, p := range porterPrefixes {
			if port, ok := strings.CutPrefix(key, p.prefix); ok {
				ports = append(ports, porterPort{kind: p.kind, port: port, value: value})
				break
			}
		}
	}
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].port != ports[j].port {
			return ports[i].port < ports[j].port
		}
		return ports[i].kind < ports[j].kind
	})
	return ports
}

func porterMain(args []string) int {
	fs := newFlags("porter")
	jsonResponse := fs.Bool("json-response", false, "Responds to requests with a json response that includes the default value with the http.Request Method")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if !maxArgs("porter", pos, 0) {
		return 1
	}
	for _, p := range porterPorts(os.Environ()) {
		addr := "0.0.0.0:" + p.port
		switch p.kind {
		case "tcp":
			go func() {
				s := &http.Server{Addr: addr, Handler: porterHandler(p.value, *jsonResponse)}
				log.Printf("server on port %q failed: %v", p.port, s.ListenAndServe())
			}()
		case "tls":
			go func() {
				s := &http.Server{Addr: addr, Handler: porterHandler(p.value, *jsonResponse)}
				certFile, keyFile := os.Getenv("CERT_FILE"), os.Getenv("KEY_FILE")
				if certFile == "" {
					certFile = "localhost.crt"
				}
				if keyFile == "" {
					keyFile = "localhost.key"
				}
				if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) && os.Getenv("CERT_FILE") == "" {
					// The real image ships localhost.crt; make an equivalent one.
					cert, err := localhostCert()
					if err != nil {
						log.Fatalf("generate localhost certificate: %v", err)
					}
					s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
					certFile, keyFile = "", ""
				}
				log.Printf("tls server on port %q with certFile=%q, keyFile=%q failed: %v", p.port, certFile, keyFile, s.ListenAndServeTLS(certFile, keyFile))
			}()
		case "udp":
			conn, err := net.ListenPacket("udp", addr)
			if err != nil {
				log.Fatalf("UDP: failed to listen on port %s: %v", p.port, err)
			}
			log.Printf("Started UDP server on port %s", p.port)
			go servePorterUDP(conn, p.value)
		case "sctp":
			ln, err := listenSCTP("0.0.0.0", atoiOr(p.port, -1))
			if err != nil {
				log.Fatal("Failed to listen SCTP. error:", err)
			}
			log.Printf("Started SCTP server")
			go servePorterSCTP(ln, p.value)
		}
	}
	select {}
}

// porterHandler answers every request with value, or with {"Method":…,"Body":value} when
// jsonResponse is set.
func porterHandler(value string, jsonResponse bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := value
		if jsonResponse {
			j, err := json.Marshal(struct{ Method, Body string }{r.Method, value})
			if err != nil {
				http.Error(w, fmt.Sprintf("Internal Server Error: %v", err), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			body = string(j)
		}
		fmt.Fprint(w, body)
	})
}

func servePorterUDP(conn net.PacketConn, value string) {
	defer conn.Close()
	buf := make([]byte, 16)
	for {
		_, client, err := conn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				log.Printf("UDP: error from ReadFrom(): %v", err)
			}
			return
		}
		if _, err := conn.WriteTo([]byte(value), client); err != nil {
			log.Printf("UDP: error from WriteTo(): %v", err)
		}
	}
}

func servePorterSCTP(ln net.Listener, value string) {
	defer ln.Close()
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			log.Fatal("Failed to accept SCTP. error:", err)
		}
		go func() {
			defer conn.Close()
			log.Println("Sending response")
			if _, err := conn.Write([]byte(value)); err != nil {
				log.Println("Failed to send response", err)
				return
			}
			log.Println("Response sent")
		}()
	}
}

// localhostCert makes a self-signed certificate for 127.0.0.1, ::1 and localhost, standing in
// for the real image's localhost.crt.
func localhostCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"Acme Co"}},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Date(2084, time.January, 29, 16, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func atoiOr(s string, def int) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		return def
	}
	return n
}
