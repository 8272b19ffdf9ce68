package tools

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minaks/minaks/images"
)

func init() { images.RegisterTool("curl", curlMain) }

// curl's exit codes.
const (
	curlOK            = 0
	curlUsage         = 2
	curlBadURL        = 3
	curlResolve       = 6
	curlConnect       = 7
	curlHTTPError     = 22
	curlInterface     = 45
	curlWrite         = 23
	curlTimeout       = 28
	curlRecv          = 56
	curlSSLCert       = 58
	curlPeerCert      = 60
	curlCACert        = 77
	curlUnsupportedOp = 1

	// curlRetryStatus is a transient HTTP status (408, 429, 5xx) that --retry tries again.
	curlRetryStatus = -1
)

// curlData is the value of a data option: @file is the file's content (stdin for
// @-), and --data-urlencode encodes its value (name=value keeps the name).
func curlData(option, v string) (string, error) {
	if option == "--data-raw" {
		return v, nil
	}
	if option == "--data-urlencode" {
		if name, value, ok := strings.Cut(v, "="); ok {
			return name + "=" + url.QueryEscape(value), nil
		}
		return url.QueryEscape(v), nil
	}
	if !strings.HasPrefix(v, "@") {
		return v, nil
	}
	var b []byte
	var err error
	if v == "@-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(v[1:])
	}
	if err != nil {
		return "", fmt.Errorf("option %s: %v", option, err)
	}
	if option == "-d" || option == "--data" {
		b = []byte(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
	}
	return string(b), nil
}

// curlOptions are the options curl was given.
type curlOptions struct {
	url                   string
	method, data, output  string
	writeOut, user, agent string
	headers               []string
	resolve               []string
	silent, showError     bool
	head, include, fail   bool
	location, insecure    bool
	verbose, get          bool
	remoteName            bool
	caCert, cert, key     string
	retries               int
	retryDelay            time.Duration
	connectTimeout, maxT  time.Duration
	family                string // "tcp4", "tcp6" or "tcp"
	// iface is --interface: a local address to send from, or a network interface to bind to.
	iface string
	// status and remote are the last attempt's response code (0 without a response) and the
	// address it connected to, for --write-out.
	status int
	remote string
}

func curlMain(args []string) int {
	o, err := parseCurl(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "curl: %v\ncurl: try 'curl --help' for more information\n", err)
		return curlUsage
	}
	delay := o.retryDelay
	if delay == 0 {
		delay = time.Second
	}
	code, err := o.run(o.retries == 0)
	for try := 1; try <= o.retries && (code == curlConnect || code == curlTimeout || code == curlRetryStatus); try++ {
		if !o.silent {
			fmt.Fprintf(os.Stderr, "Warning: Problem: %v. Will retry in %v. %d retries left.\n", err, delay, o.retries-try+1)
		}
		time.Sleep(delay)
		if o.retryDelay == 0 {
			delay *= 2
		}
		code, err = o.run(try == o.retries)
	}
	if o.writeOut != "" {
		// After the last attempt, whatever its outcome: "000" when there was no response.
		host, port, _ := net.SplitHostPort(o.remote)
		w := strings.NewReplacer(
			"%{http_code}", fmt.Sprintf("%03d", o.status), "%{response_code}", fmt.Sprintf("%03d", o.status),
			"%{remote_ip}", host, "%{remote_port}", port, `\n`, "\n",
		).Replace(o.writeOut)
		fmt.Fprint(os.Stdout, w)
	}
	if err != nil && (!o.silent || o.showError) {
		fmt.Fprintf(os.Stderr, "curl: (%d) %v\n", code, err)
	}
	return code
}

// bindInterface makes d send from --interface, as curl does: "if!NAME" is an interface, "host!ADDR"
// an address; otherwise an address when it parses as one, else an interface name.
func (o *curlOptions) bindInterface(d *net.Dialer) error {
	if o.iface == "" {
		return nil
	}
	name, addr := o.iface, o.iface
	if n, ok := strings.CutPrefix(o.iface, "if!"); ok {
		name, addr = n, ""
	} else if a, ok := strings.CutPrefix(o.iface, "host!"); ok {
		name, addr = "", a
	}
	if ip := net.ParseIP(addr); ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
		return nil
	}
	if name == "" {
		return fmt.Errorf("Couldn't bind to '%s'", o.iface)
	}
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("Couldn't bind to interface '%s'", name)
	}
	d.Control = func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = syscall.BindToDevice(int(fd), name) }); err != nil {
			return err
		}
		return serr
	}
	return nil
}

func parseCurl(args []string) (*curlOptions, error) {
	o := &curlOptions{family: "tcp"}
	value := func(i *int, name string) (string, error) {
		if *i+1 >= len(args) {
			return "", fmt.Errorf("option %s: requires parameter", name)
		}
		*i++
		return args[*i], nil
	}
	seconds := func(v string) (time.Duration, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("expected a proper numerical parameter, not %q", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			o.url = a
			continue
		}
		// Short flags may be bundled: -sS, -sSL, -fsSL.
		if !strings.HasPrefix(a, "--") && len(a) > 2 && !strings.ContainsAny(a[1:], "oXHdwmuAEx") {
			for _, c := range a[1:] {
				args = append(args[:i+1], append([]string{"-" + string(c)}, args[i+1:]...)...)
			}
			continue
		}
		var err error
		switch a {
		case "--cacert":
			o.caCert, err = value(&i, a)
		case "-E", "--cert":
			o.cert, err = value(&i, a)
		case "--key":
			o.key, err = value(&i, a)
		case "-O", "--remote-name":
			o.remoteName = true
		case "-G", "--get":
			o.get = true
		case "--retry":
			var v string
			if v, err = value(&i, a); err == nil {
				if o.retries, err = strconv.Atoi(v); err != nil || o.retries < 0 {
					err = fmt.Errorf("option --retry: expected a proper numerical parameter, not %q", v)
				}
			}
		case "--retry-delay":
			var v string
			if v, err = value(&i, a); err == nil {
				o.retryDelay, err = seconds(v)
			}
		case "--json":
			var v string
			v, err = value(&i, a)
			o.data += v
			o.headers = append(o.headers, "Content-Type: application/json", "Accept: application/json")
		case "-s", "--silent":
			o.silent = true
		case "-S", "--show-error":
			o.showError = true
		case "-q", "-g", "--globoff", "--disable", "--http1.1", "--no-keepalive", "--compressed", "--retry-connrefused":
		case "-k", "--insecure":
			o.insecure = true
		case "-I", "--head":
			o.head = true
		case "-i", "--include":
			o.include = true
		case "-f", "--fail":
			o.fail = true
		case "-L", "--location":
			o.location = true
		case "-v", "--verbose":
			o.verbose = true
		case "-4", "--ipv4":
			o.family = "tcp4"
		case "-6", "--ipv6":
			o.family = "tcp6"
		case "-o", "--output":
			o.output, err = value(&i, a)
		case "-X", "--request":
			o.method, err = value(&i, a)
		case "-H", "--header":
			var h string
			h, err = value(&i, a)
			o.headers = append(o.headers, h)
		case "-d", "--data", "--data-raw", "--data-binary", "--data-urlencode":
			var v string
			if v, err = value(&i, a); err == nil {
				v, err = curlData(a, v)
			}
			if o.data != "" {
				o.data += "&"
			}
			o.data += v
		case "-w", "--write-out":
			o.writeOut, err = value(&i, a)
		case "-u", "--user":
			o.user, err = value(&i, a)
		case "-A", "--user-agent":
			o.agent, err = value(&i, a)
		case "--resolve":
			var r string
			r, err = value(&i, a)
			o.resolve = append(o.resolve, r)
		case "--interface":
			o.iface, err = value(&i, a)
		case "--connect-timeout":
			var v string
			if v, err = value(&i, a); err == nil {
				o.connectTimeout, err = seconds(v)
			}
		case "-m", "--max-time":
			var v string
			if v, err = value(&i, a); err == nil {
				o.maxT, err = seconds(v)
			}
		default:
			return nil, fmt.Errorf("option %s: is unknown (minaks's curl takes -sSkIifLvOG46 -o -X -H -d -w -u -A -E --cacert --key --json --resolve --interface --retry --retry-delay --connect-timeout -m)", a)
		}
		if err != nil {
			return nil, err
		}
	}
	if o.url == "" {
		return nil, errors.New("no URL specified")
	}
	return o, nil
}

// run makes the request once; last says whether a transient failure is final.
func (o *curlOptions) run(last bool) (int, error) {
	raw := o.url
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return curlBadURL, fmt.Errorf("URL rejected: Malformed input to a URL function")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return curlUnsupportedOp, fmt.Errorf("Protocol %q not supported", u.Scheme)
	}
	if o.get && o.data != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += o.data
	}
	tlsConfig, err := o.tlsConfig()
	if ca := (*caError)(nil); errors.As(err, &ca) {
		return curlCACert, err
	} else if err != nil {
		return curlSSLCert, err
	}
	resolve := map[string]string{} // host:port → address
	for _, r := range o.resolve {
		parts := strings.SplitN(r, ":", 3)
		if len(parts) == 3 {
			resolve[net.JoinHostPort(parts[0], parts[1])] = strings.Trim(parts[2], "[]")
		}
	}
	dialer := &net.Dialer{Timeout: o.connectTimeout}
	if dialer.Timeout == 0 {
		dialer.Timeout = 300 * time.Second
	}
	if err := o.bindInterface(dialer); err != nil {
		return curlInterface, err
	}
	o.status, o.remote = 0, ""
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			if a, ok := resolve[addr]; ok {
				_, port, _ := net.SplitHostPort(addr)
				addr = net.JoinHostPort(a, port)
			}
			c, err := dialer.DialContext(ctx, o.family, addr)
			if err == nil {
				o.remote = c.RemoteAddr().String()
			}
			return c, err
		},
		TLSClientConfig:   tlsConfig,
		DisableKeepAlives: true,
		Proxy:             http.ProxyFromEnvironment,
	}
	client := &http.Client{Transport: transport, Timeout: o.maxT}
	if !o.location {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	method := o.method
	var body io.Reader
	switch {
	case method != "":
	case o.head:
		method = http.MethodHead
	case o.data != "" && !o.get:
		method = http.MethodPost
	default:
		method = http.MethodGet
	}
	if o.data != "" && !o.get {
		body = strings.NewReader(o.data)
	}
	req, err := http.NewRequest(method, u.String(), body)
	if err != nil {
		return curlBadURL, err
	}
	req.Header.Set("User-Agent", "curl/8.11.0")
	req.Header.Set("Accept", "*/*")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if o.agent != "" {
		req.Header.Set("User-Agent", o.agent)
	}
	if o.user != "" {
		user, pwd, _ := strings.Cut(o.user, ":")
		req.SetBasicAuth(user, pwd)
	}
	for _, h := range o.headers {
		k, v, _ := strings.Cut(h, ":")
		if strings.EqualFold(strings.TrimSpace(k), "Host") {
			req.Host = strings.TrimSpace(v)
			continue
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if o.verbose {
		fmt.Fprintf(os.Stderr, "> %s %s HTTP/1.1\n> Host: %s\n", method, req.URL.RequestURI(), req.Host)
	}
	resp, err := client.Do(req)
	if err != nil {
		return curlError(err, u)
	}
	defer resp.Body.Close()
	o.status = resp.StatusCode
	if o.verbose {
		fmt.Fprintf(os.Stderr, "< %s %s\n", resp.Proto, resp.Status)
	}
	if !last && (resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500) {
		return curlRetryStatus, fmt.Errorf("HTTP error %d", resp.StatusCode)
	}
	if o.fail && resp.StatusCode >= 400 {
		return curlHTTPError, fmt.Errorf("The requested URL returned error: %d", resp.StatusCode)
	}
	out := io.Writer(os.Stdout)
	output := o.output
	if o.remoteName && output == "" {
		if output = path.Base(u.Path); output == "/" || output == "." {
			return curlWrite, errors.New("Remote file name has no length")
		}
	}
	if output != "" && output != "-" {
		f, err := os.Create(output)
		if err != nil {
			return curlWrite, fmt.Errorf("Failed writing body: %v", err)
		}
		defer f.Close()
		out = f
	}
	if o.include || o.head {
		fmt.Fprintf(out, "%s %s\r\n", resp.Proto, resp.Status)
		resp.Header.Write(out)
		fmt.Fprint(out, "\r\n")
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return curlTimeout, fmt.Errorf("Operation timed out: %v", err)
		}
		return curlRecv, fmt.Errorf("Failure when receiving data from the peer: %v", err)
	}
	return curlOK, nil
}

// tlsConfig is the client's TLS: the CA bundle of --cacert (the system's
// otherwise), the client certificate of --cert and --key, no checks with -k.
func (o *curlOptions) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{InsecureSkipVerify: o.insecure}
	if o.caCert != "" {
		pem, err := os.ReadFile(o.caCert)
		if err != nil {
			return nil, &caError{fmt.Errorf("error setting certificate file: %v", err)}
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &caError{fmt.Errorf("error setting certificate file: %s holds no PEM certificate", o.caCert)}
		}
	}
	if o.cert != "" {
		key := o.key
		if key == "" {
			key = o.cert
		}
		pair, err := tls.LoadX509KeyPair(o.cert, key)
		if err != nil {
			return nil, fmt.Errorf("could not load client certificate: %v", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// caError is a CA bundle that cannot be read (curl's exit code 77).
type caError struct{ error }

// curlError is curl's exit code and message for a failed request.
func curlError(err error, u *url.URL) (int, error) {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &certErr):
		return curlPeerCert, fmt.Errorf("SSL certificate problem: %v", certErr.Err)
	case isTimeout(err):
		return curlTimeout, fmt.Errorf("Connection timed out after the time allowed: %v", err)
	case errors.As(err, &dnsErr):
		return curlResolve, fmt.Errorf("Could not resolve host: %s", u.Hostname())
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return curlInterface, fmt.Errorf("bind failed: %v", err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return curlConnect, fmt.Errorf("Failed to connect to %s port %s: %v", u.Hostname(), portOf(u), opErr.Err)
	}
	return curlRecv, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}
