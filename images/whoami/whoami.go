package whoami

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/images/internal/serve"
)

func init() {
	images.Register(&images.Image{
		Name:        "whoami",
		References:  []string{"traefik/whoami", "containous/whoami"},
		Program:     "whoami",
		Entrypoint:  []string{"/whoami"},
		Ports:       []int{80},
		Paths:       []string{"/whoami"},
		Main:        Main,
		Description: "traefik/whoami: answers with the hostname, addresses and the request",
	})
}

// Main runs whoami with its flags (--port, --name, --cert, --key, --verbose).
func Main(args []string) int {
	fs := flag.NewFlagSet("whoami", flag.ContinueOnError)
	verbose := fs.Bool("verbose", false, "Enable verbose logging")
	cert := fs.String("cert", "", "give me a certificate")
	key := fs.String("key", "", "give me a key")
	port := fs.String("port", getEnv("WHOAMI_PORT_NUMBER", "80"), "give me a port number")
	name := fs.String("name", os.Getenv("WHOAMI_NAME"), "give me a name")
	origins := fs.String("allowed-origins", getEnv("WHOAMI_ALLOWED_ORIGINS", "*"), "give me a list of allowed clients")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ln, err := net.Listen("tcp", ":"+*port)
	if err != nil {
		log.Print(err)
		return 1
	}
	w := &Server{Name: *name, AllowedOrigins: *origins, Verbose: *verbose}
	if *cert != "" && *key != "" {
		log.Printf("Starting up with TLS on port %s", *port)
	} else {
		*cert, *key = "", ""
		log.Printf("Starting up on port %s", *port)
	}
	ctx, _ := serve.SignalContext()
	if err := serve.HTTP(ctx, &http.Server{Handler: w.Handler()}, ln, *cert, *key); err != nil {
		log.Print(err)
		return 1
	}
	return 0
}

// Server is whoami's state: its name and the status /health answers.
type Server struct {
	Name           string
	AllowedOrigins string
	Verbose        bool

	mu     sync.RWMutex
	health int // 0 means 200
}

// Handler returns whoami's endpoints: "/", "/api", "/health", "/bench" and "/data".
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/data", s.logged(s.data))
	mux.Handle("/bench", s.logged(bench))
	mux.Handle("/api", s.logged(s.api))
	mux.Handle("/health", s.logged(s.healthz))
	mux.Handle("/", s.logged(s.whoami))
	return mux
}

func (s *Server) logged(next http.HandlerFunc) http.Handler {
	if !s.Verbose {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next(w, r)
		log.Printf("%s - - [%s] \"%s %s %s\" - -", r.RemoteAddr, time.Now().Format("02/Jan/2006:15:04:05 -0700"), r.Method, r.URL.Path, r.Proto)
	})
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if wait := q.Get("wait"); wait != "" {
		if d, err := time.ParseDuration(wait); err == nil {
			time.Sleep(d)
		}
	}
	if s.Name != "" {
		fmt.Fprintln(w, "Name:", s.Name)
	}
	hostname, _ := os.Hostname()
	fmt.Fprintln(w, "Hostname:", hostname)
	for _, ip := range ips() {
		fmt.Fprintln(w, "IP:", ip)
	}
	fmt.Fprintln(w, "RemoteAddr:", r.RemoteAddr)
	if err := r.Write(w); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if ok, _ := strconv.ParseBool(q.Get("env")); ok {
		for _, env := range os.Environ() {
			fmt.Fprintln(w, env)
		}
	}
}

// data is whoami's /api answer.
type data struct {
	Hostname   string            `json:"hostname,omitempty"`
	IP         []string          `json:"ip,omitempty"`
	Headers    http.Header       `json:"headers,omitempty"`
	URL        string            `json:"url,omitempty"`
	Host       string            `json:"host,omitempty"`
	Method     string            `json:"method,omitempty"`
	Name       string            `json:"name,omitempty"`
	RemoteAddr string            `json:"remoteAddr,omitempty"`
	Environ    map[string]string `json:"environ,omitempty"`
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", s.AllowedOrigins)
	w.Header().Set("Access-Control-Allow-Methods", "*")
	hostname, _ := os.Hostname()
	environ := map[string]string{}
	if ok, _ := strconv.ParseBool(r.URL.Query().Get("env")); ok {
		for _, env := range os.Environ() {
			k, v, _ := strings.Cut(env, "=")
			environ[k] = v
		}
	}
	d := data{
		Hostname: hostname, IP: ips(), Headers: r.Header, URL: r.URL.RequestURI(), Host: r.Host,
		Method: r.Method, Name: s.Name, RemoteAddr: r.RemoteAddr, Environ: environ,
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// healthz answers the current health status; a POST of a number sets it.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var code int
		if err := json.NewDecoder(r.Body).Decode(&code); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Printf("Update health check status code [%d]\n", code)
		s.mu.Lock()
		s.health = code
		s.mu.Unlock()
		return
	}
	s.mu.RLock()
	code := s.health
	s.mu.RUnlock()
	if code == 0 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
}

func bench(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Connection", "keep-alive")
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, "1")
}

// data answers ?size=N&unit=kb|mb|gb bytes of filler text.
func (s *Server) data(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, err := strconv.ParseInt(q.Get("size"), 10, 64)
	if err != nil {
		size = 1
	}
	size = max(size, 0)
	switch strings.ToLower(q.Get("unit")) {
	case "kb":
		size <<= 10
	case "mb":
		size <<= 20
	case "gb":
		size <<= 30
	}
	if ok, _ := strconv.ParseBool(q.Get("attachment")); ok {
		w.Header().Set("Content-Disposition", "Attachment")
	}
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	const chunk = "|ABCDEFGHIJKLMNOPQRSTUVWXYZ|abcdefghijklmnopqrstuvwxyz|0123456789"
	buf := []byte(strings.Repeat(chunk, 512))
	for size > 0 {
		n := min(size, int64(len(buf)))
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
		size -= n
	}
}

// ips returns the addresses of every interface, as whoami lists them.
func ips() []string {
	var out []string
	ifaces, _ := net.Interfaces()
	for _, i := range ifaces {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			switch v := a.(type) {
			case *net.IPNet:
				out = append(out, v.IP.String())
			case *net.IPAddr:
				out = append(out, v.IP.String())
			}
		}
	}
	return out
}

func getEnv(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
