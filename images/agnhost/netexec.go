package agnhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// netexec is the state of the netexec subcommand: its flags and the signals between servers.
type netexec struct {
	httpPort, udpPort, sctpPort int
	certFile, keyFile           string
	httpOverride                string
	udpListenAddresses          string
	delayShutdown               int

	shell     string // shell for /shell
	uploadDir string // directory /upload writes to

	ready   atomic.Bool      // a UDP or SCTP server is up
	sigterm chan struct{}    // closed on SIGTERM
	exitc   chan exitRequest // /exit asks the HTTP server to shut down
}

type exitRequest struct {
	code    int
	timeout time.Duration
}

func newNetexec() *netexec {
	return &netexec{
		httpPort: 8080, udpPort: 8081, sctpPort: -1,
		shell: "/bin/sh", uploadDir: "/uploads",
		sigterm: make(chan struct{}), exitc: make(chan exitRequest),
	}
}

func netexecMain(args []string) int {
	n := newNetexec()
	fs := newFlags("netexec")
	fs.IntVar(&n.httpPort, "http-port", 8080, "HTTP Listen Port")
	fs.StringVar(&n.certFile, "tls-cert-file", "", "File containing an x509 certificate for HTTPS. (CA cert, if any, concatenated after server cert)")
	fs.StringVar(&n.keyFile, "tls-private-key-file", "", "File containing an x509 private key matching --tls-cert-file")
	fs.IntVar(&n.udpPort, "udp-port", 8081, "UDP Listen Port")
	fs.IntVar(&n.sctpPort, "sctp-port", -1, "SCTP Listen Port")
	fs.StringVar(&n.httpOverride, "http-override", "", "Override the HTTP handler to always respond as if it were a GET with this path & params")
	fs.StringVar(&n.udpListenAddresses, "udp-listen-addresses", "", "A comma separated list of ip addresses the udp servers listen from")
	fs.IntVar(&n.delayShutdown, "delay-shutdown", 0, "Number of seconds to delay shutdown when receiving SIGTERM.")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if !maxArgs("netexec", pos, 0) {
		return 1
	}

	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		<-ch
		close(n.sigterm)
		if n.delayShutdown > 0 {
			log.Printf("Sleeping %d seconds before terminating...", n.delayShutdown)
			time.Sleep(time.Duration(n.delayShutdown) * time.Second)
		}
		exit(0)
	}()

	if n.udpPort != -1 {
		addrs, err := parseAddresses(n.udpListenAddresses)
		if err != nil {
			log.Fatal(err)
		}
		for _, a := range addrs {
			addr := net.JoinHostPort(a, strconv.Itoa(n.udpPort))
			conn, err := net.ListenPacket("udp", addr)
			if err != nil {
				log.Fatalf("Error occurred: failed to create listener for UDP address %s:%v", addr, err)
			}
			log.Printf("Started UDP server on port %s %d", a, n.udpPort)
			go n.serveUDP(conn.(*net.UDPConn))
		}
	}
	if n.sctpPort != -1 {
		ln, err := listenSCTP("", n.sctpPort)
		if err != nil {
			log.Fatalf("Error occurred: failed to create listener for SCTP port %d:%v", n.sctpPort, err)
		}
		log.Printf("Started SCTP server")
		go n.serveSCTP(ln)
	}

	srv := &http.Server{Addr: fmt.Sprintf(":%d", n.httpPort), Handler: n.handler()}
	log.Printf("Started HTTP server on port %d", n.httpPort)
	go func() {
		re := <-n.exitc
		ctx, cancel := context.WithTimeout(context.Background(), re.timeout)
		defer cancel()
		log.Printf("Graceful shutdown completed with: %v", srv.Shutdown(ctx))
		exit(re.code)
	}()
	var err error
	if n.certFile != "" {
		err = srv.ListenAndServeTLS(n.certFile, n.keyFile)
	} else {
		err = srv.ListenAndServe()
	}
	if errors.Is(err, http.ErrServerClosed) {
		select {} // the shutdown goroutine exits
	}
	log.Fatal(err)
	return 1
}

// handler returns netexec's HTTP endpoints, behind --http-override when it is set.
func (n *netexec) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", n.root)
	mux.HandleFunc("/clientip", n.clientIP)
	mux.HandleFunc("/serverport", n.serverPort)
	mux.HandleFunc("/header", n.header)
	mux.HandleFunc("/dial", n.dial)
	mux.HandleFunc("/echo", n.echo)
	mux.HandleFunc("/exit", n.exit)
	mux.HandleFunc("/healthz", n.healthz)
	mux.HandleFunc("/readyz", n.readyz)
	mux.HandleFunc("/hostname", n.hostname)
	mux.HandleFunc("/envvar", n.envvar)
	mux.HandleFunc("/redirect", n.redirect)
	mux.HandleFunc("/shell", n.shellCmd)
	mux.HandleFunc("/upload", n.upload)
	// older handlers
	mux.HandleFunc("/hostName", n.hostName)
	mux.HandleFunc("/shutdown", n.shutdown)
	if n.httpOverride == "" {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		or, err := http.NewRequestWithContext(r.Context(), "GET", n.httpOverride, nil)
		if err != nil {
			http.Error(w, fmt.Sprintf("override request failed: %v", err), http.StatusInternalServerError)
			return
		}
		or.RemoteAddr = r.RemoteAddr
		or.Header = r.Header
		mux.ServeHTTP(w, or)
	})
}

func (n *netexec) root(w http.ResponseWriter, r *http.Request) {
	log.Printf("GET /")
	fmt.Fprintf(w, "NOW: %v", time.Now())
}

func (n *netexec) echo(w http.ResponseWriter, r *http.Request) {
	msg := r.FormValue("msg")
	codeString := r.FormValue("code")
	log.Printf("GET /echo?msg=%s&code=%s", msg, codeString)
	if codeString != "" {
		code, err := strconv.Atoi(codeString)
		if err != nil {
			fmt.Fprintf(w, "argument 'code' must be an integer or empty, got %q\n", codeString)
			return
		}
		w.WriteHeader(code)
	}
	fmt.Fprintf(w, "%s", msg)
}

func (n *netexec) clientIP(w http.ResponseWriter, r *http.Request) {
	log.Printf("GET /clientip")
	fmt.Fprint(w, r.RemoteAddr)
}

func (n *netexec) serverPort(w http.ResponseWriter, r *http.Request) {
	log.Printf("GET /serverport")
	fmt.Fprint(w, n.httpPort)
}

func (n *netexec) header(w http.ResponseWriter, r *http.Request) {
	key := r.FormValue("key")
	if key != "" {
		log.Printf("GET /header?key=%s", key)
		fmt.Fprintf(w, "%s", r.Header.Get(key))
		return
	}
	log.Printf("GET /header")
	data, err := json.Marshal(r.Header)
	if err != nil {
		fmt.Fprintf(w, "error marshalling header, err: %v", err)
		return
	}
	fmt.Fprintf(w, "%s", data)
}

func (n *netexec) exit(w http.ResponseWriter, r *http.Request) {
	waitString := r.FormValue("wait")
	timeoutString := r.FormValue("timeout")
	codeString := r.FormValue("code")
	log.Printf("GET /exit?code=%s&timeout=%s&wait=%s", codeString, timeoutString, waitString)
	timeout, err := time.ParseDuration(timeoutString)
	if err != nil && timeoutString != "" {
		fmt.Fprintf(w, "argument 'timeout' must be a valid golang duration or empty, got %q\n", timeoutString)
		return
	}
	wait, err := time.ParseDuration(waitString)
	if err != nil && waitString != "" {
		fmt.Fprintf(w, "argument 'wait' must be a valid golang duration or empty, got %q\n", waitString)
		return
	}
	code, err := strconv.Atoi(codeString)
	if err != nil && codeString != "" {
		fmt.Fprintf(w, "argument 'code' must be an integer [0-127] or empty, got %q\n", codeString)
		return
	}
	log.Printf("Will begin shutdown in %s, allowing %s for connections to close, then will exit with %d", wait, timeout, code)
	time.Sleep(wait)
	if timeout == 0 {
		exit(code)
		return
	}
	n.exitc <- exitRequest{code: code, timeout: timeout}
}

func (n *netexec) hostname(w http.ResponseWriter, r *http.Request) {
	log.Printf("GET /hostname")
	fmt.Fprint(w, hostname())
}

func (n *netexec) hostName(w http.ResponseWriter, r *http.Request) {
	log.Printf("GET /hostName")
	fmt.Fprint(w, hostname())
}

func (n *netexec) envvar(w http.ResponseWriter, r *http.Request) {
	name := r.FormValue("var")
	if name == "" {
		http.Error(w, "'var' query parameter is required", http.StatusBadRequest)
		return
	}
	log.Printf("GET /envvar?var=%s", name)
	val, ok := os.LookupEnv(name)
	if !ok {
		http.Error(w, fmt.Sprintf("env var %q is not set", name), http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, val)
}

// healthz answers 200 while a UDP or SCTP server is up, 412 otherwise.
func (n *netexec) healthz(w http.ResponseWriter, r *http.Request) {
	log.Printf("GET /healthz")
	if n.ready.Load() {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusPreconditionFailed)
}

// readyz is healthz that turns 503 once SIGTERM has arrived, so that the pod leaves its
// endpoints while it keeps serving.
func (n *netexec) readyz(w http.ResponseWriter, r *http.Request) {
	log.Printf("GET /readyz")
	select {
	case <-n.sigterm:
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("shutting down"))
		return
	default:
	}
	if n.ready.Load() {
		w.Write([]byte("ok"))
		return
	}
	w.WriteHeader(http.StatusPreconditionFailed)
}

func (n *netexec) shutdown(w http.ResponseWriter, r *http.Request) {
	log.Printf("GET /shutdown")
	exit(0)
}

func (n *netexec) dial(w http.ResponseWriter, r *http.Request) {
	values, err := url.Parse(r.URL.RequestURI())
	if err != nil {
		http.Error(w, fmt.Sprintf("%v", err), http.StatusBadRequest)
		return
	}
	q := values.Query()
	host, port, request := q.Get("host"), q.Get("port"), q.Get("request")
	protocol, tryParam := q.Get("protocol"), q.Get("tries")
	log.Printf("GET /dial?host=%s&protocol=%s&port=%s&request=%s&tries=%s", host, protocol, port, request, tryParam)
	tries := 1
	if len(tryParam) > 0 {
		tries, err = strconv.Atoi(tryParam)
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("tries parameter is invalid. %v", err), http.StatusBadRequest)
		return
	}
	if len(request) == 0 {
		http.Error(w, fmt.Sprintf("request parameter not specified. %v", err), http.StatusBadRequest)
		return
	}

	hostPort := net.JoinHostPort(host, port)
	var addr string
	var dialer func(request, addr string) (string, error)
	switch strings.ToLower(protocol) {
	case "", "http":
		dialer = dialHTTP
		var a *net.TCPAddr
		if a, err = net.ResolveTCPAddr("tcp", hostPort); err == nil {
			addr = a.String()
		}
	case "udp":
		dialer = dialUDP
		var a *net.UDPAddr
		if a, err = net.ResolveUDPAddr("udp", hostPort); err == nil {
			addr = a.String()
		}
	case "sctp":
		dialer = dialSCTPRequest
		var a *net.TCPAddr
		if a, err = net.ResolveTCPAddr("tcp", hostPort); err == nil {
			addr = a.String()
		}
	default:
		http.Error(w, fmt.Sprintf("unsupported protocol. %s", protocol), http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("host and/or port param are invalid. %v", err), http.StatusBadRequest)
		return
	}

	errs := make([]string, 0)
	responses := make([]string, 0)
	var response string
	for range tries {
		response, err = dialer(request, addr)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%v", err))
		} else {
			responses = append(responses, response)
		}
	}
	// As upstream: "responses" only when the last try answered something.
	output := map[string][]string{}
	if len(response) > 0 {
		output["responses"] = responses
	}
	if len(errs) > 0 {
		output["errors"] = errs
	}
	data, err := json.Marshal(output)
	if err != nil {
		http.Error(w, fmt.Sprintf("response could not be serialized. %v", err), http.StatusExpectationFailed)
		return
	}
	fmt.Fprint(w, string(data))
}

func dialHTTP(request, addr string) (string, error) {
	transport := &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s/%s", addr, request))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	return string(body), nil
}

func dialUDP(request, addr string) (string, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return "", fmt.Errorf("udp dial failed. err:%v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(request)); err != nil {
		return "", fmt.Errorf("udp connection write failed. err:%v", err)
	}
	buf := make([]byte, 2048)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	count, err := conn.Read(buf)
	if err != nil || count == 0 {
		return "", fmt.Errorf("reading from udp connection failed. err:'%v'", err)
	}
	return string(buf[:count]), nil
}

func dialSCTPRequest(request, addr string) (string, error) {
	conn, err := dialSCTP(addr, 0)
	if err != nil {
		return "", fmt.Errorf("sctp dial failed. err:%v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(request)); err != nil {
		return "", fmt.Errorf("sctp connection write failed. err:%v", err)
	}
	buf := make([]byte, 1024)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	count, err := conn.Read(buf)
	if err != nil || count == 0 {
		return "", fmt.Errorf("reading from sctp connection failed. err:'%v'", err)
	}
	return string(buf[:count]), nil
}

func (n *netexec) shellCmd(w http.ResponseWriter, r *http.Request) {
	cmd := r.FormValue("shellCommand")
	if cmd == "" {
		cmd = r.FormValue("cmd")
	}
	log.Printf("GET /shell?cmd=%s", cmd)
	out, err := exec.Command(n.shell, "-c", cmd).CombinedOutput()
	output := map[string]string{}
	if len(out) > 0 {
		output["output"] = string(out)
	}
	if err != nil {
		output["error"] = fmt.Sprintf("%v", err)
	}
	log.Printf("Output: %s", output)
	data, err := json.Marshal(output)
	if err != nil {
		http.Error(w, fmt.Sprintf("response could not be serialized. %v", err), http.StatusExpectationFailed)
		return
	}
	fmt.Fprint(w, string(data))
}

// upload writes the form file "file" to a new file in the upload directory ("/uploads", which
// the real image has; minaks does not create it on the host).
func (n *netexec) upload(w http.ResponseWriter, r *http.Request) {
	log.Printf("GET /upload")
	fail := func(msg string, err error) {
		data, _ := json.Marshal(map[string]string{"error": msg})
		fmt.Fprint(w, string(data))
		log.Printf("%s: %s", msg, err)
	}
	file, _, err := r.FormFile("file")
	if err != nil {
		fail("Unable to upload file.", err)
		return
	}
	defer file.Close()
	f, err := os.CreateTemp(n.uploadDir, "upload")
	if err != nil {
		fail("Unable to open file for write", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, file); err != nil {
		fail("Unable to write file.", err)
		return
	}
	if err := os.Chmod(f.Name(), 0o700); err != nil {
		fail("Unable to chmod file.", err)
		return
	}
	log.Printf("Wrote upload to %s", f.Name())
	w.WriteHeader(http.StatusCreated)
	data, _ := json.Marshal(map[string]string{"output": f.Name()})
	fmt.Fprint(w, string(data))
}

func (n *netexec) redirect(w http.ResponseWriter, r *http.Request) {
	location := r.FormValue("location")
	codeString := r.FormValue("code")
	log.Printf("%s /redirect?msg=%s&code=%s", r.Method, location, codeString)
	code := http.StatusFound
	if codeString != "" {
		var err error
		if code, err = strconv.Atoi(codeString); err != nil {
			fmt.Fprintf(w, "argument 'code' must be an integer or empty, got %q\n", codeString)
			return
		}
	}
	http.Redirect(w, r, location, code)
}

// command answers one UDP or SCTP request ("hostname", "echo <msg>", "clientip",
// "serverport", "envvar <name>"); ok is false for an unknown command, which gets no answer.
func (n *netexec) command(raw, client string, port int) (reply string, ok bool) {
	raw = strings.TrimSpace(raw)
	text := strings.ToLower(raw)
	switch {
	case text == "hostname":
		return hostname(), true
	case strings.HasPrefix(text, "envvar "):
		name := strings.TrimSpace(strings.SplitN(raw, " ", 2)[1])
		val, _ := os.LookupEnv(name)
		return val, true
	case strings.HasPrefix(text, "echo "):
		return strings.SplitN(text, " ", 2)[1], true
	case text == "clientip":
		return client, true
	case text == "serverport":
		return strconv.Itoa(port), true
	}
	return "", false
}

// serveUDP answers UDP commands on conn until it is closed.
func (n *netexec) serveUDP(conn *net.UDPConn) {
	defer conn.Close()
	n.ready.Store(true)
	defer func() {
		log.Printf("UDP server exited")
		n.ready.Store(false)
	}()
	buf := make([]byte, 2048)
	for {
		count, client, err := conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			log.Fatalf("Error occurred: failed accepting UDP connections:%v", err)
		}
		reply, ok := n.command(string(buf[:count]), client.String(), n.udpPort)
		if !ok {
			if t := strings.TrimSpace(string(buf[:count])); t != "" {
				log.Printf("Unknown UDP command received from %s: %v\n", client, strings.ToLower(t))
			}
			continue
		}
		log.Printf("Sending UDP reply to %s", client)
		if _, err := conn.WriteToUDP([]byte(reply), client); err != nil {
			log.Printf("Error occurred: failed to write to UDP client %s:%v", client, err)
		}
	}
}

// serveSCTP answers one SCTP command per association on ln until it is closed.
func (n *netexec) serveSCTP(ln net.Listener) {
	defer ln.Close()
	n.ready.Store(true)
	defer func() {
		log.Printf("SCTP server exited")
		n.ready.Store(false)
	}()
	buf := make([]byte, 1024)
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			log.Fatalf("Error occurred: failed accepting SCTP connections:%v", err)
		}
		client := conn.RemoteAddr().String()
		count, err := conn.Read(buf)
		if err != nil {
			log.Printf("Error occurred: failed to read from SCTP client %s:%v", client, err)
			conn.Close()
			continue
		}
		if reply, ok := n.command(string(buf[:count]), client, n.sctpPort); ok {
			log.Printf("Sending SCTP reply to %s", client)
			if _, err := conn.Write([]byte(reply)); err != nil {
				log.Printf("Error occurred: failed to write to SCTP client %s:%v", client, err)
			}
		} else if t := strings.TrimSpace(string(buf[:count])); t != "" {
			log.Printf("Unknown SCTP command received from %s: %v\n", client, strings.ToLower(t))
		}
		conn.Close()
	}
}

// parseAddresses splits --udp-listen-addresses; none means every address.
func parseAddresses(addresses string) ([]string, error) {
	if addresses == "" {
		return []string{""}, nil
	}
	set := map[string]bool{}
	for _, a := range strings.Split(addresses, ",") {
		if net.ParseIP(a) == nil {
			return nil, fmt.Errorf("parseAddress: invalid address %s", a)
		}
		set[a] = true
	}
	res := make([]string, 0, len(set))
	for a := range set {
		res = append(res, a)
	}
	sort.Strings(res)
	return res, nil
}
