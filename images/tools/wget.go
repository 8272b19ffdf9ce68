package tools

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/minaks/minaks/images"
)

// Debian's static BusyBox wget crashes whenever -T is given (upstream's Services tests run
// `wget -q -O - -T 1 URL`): the tools root has this one, with BusyBox wget's options.
func init() { images.RegisterTool("wget", wgetMain) }

// wgetUsage is BusyBox wget's usage line.
const wgetUsage = "usage: wget [-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR] [--post-data STR | --post-file FILE] " +
	"[-Y on/off] [--no-check-certificate] [-P DIR] [-U AGENT] [-T SEC] URL..."

// wgetOptions are the options wget was given.
type wgetOptions struct {
	quiet, showResponse, spider, resume, insecure, noProxy bool
	output, logFile, dir, userAgent, postData              string
	post                                                   bool
	timeout                                                time.Duration
	headers                                                []string
	urls                                                   []string
	log                                                    io.Writer
}

func wgetMain(args []string) int {
	o, err := parseWget(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wget: %v\n%s\n", err, wgetUsage)
		return 1
	}
	o.log = os.Stderr
	if o.logFile != "" {
		f, err := os.Create(o.logFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "wget: can't open '%s': %v\n", o.logFile, err)
			return 1
		}
		defer f.Close()
		o.log = f
	}
	for _, u := range o.urls {
		if err := o.get(u); err != nil {
			fmt.Fprintf(o.log, "wget: %v\n", err)
			return 1
		}
	}
	return 0
}

// parseWget reads BusyBox wget's options: short ones bundled or not, long ones with "=" or
// the next word, GNU wget's spellings of the same options, and those it takes and ignores.
func parseWget(args []string) (*wgetOptions, error) {
	o := &wgetOptions{}
	withValue := map[string]*string{
		"O": &o.output, "output-document": &o.output,
		"o": &o.logFile, "output-file": &o.logFile,
		"P": &o.dir, "directory-prefix": &o.dir,
		"U": &o.userAgent, "user-agent": &o.userAgent,
		"post-data": &o.postData,
	}
	var timeout, proxy, postFile, header, ignored string
	for _, n := range []string{"T", "timeout"} {
		withValue[n] = &timeout
	}
	for _, n := range []string{"Y", "proxy"} {
		withValue[n] = &proxy
	}
	for _, n := range []string{"t", "tries", "e", "wait", "waitretry"} {
		withValue[n] = &ignored
	}
	withValue["post-file"], withValue["header"] = &postFile, &header
	flags := map[string]*bool{
		"q": &o.quiet, "quiet": &o.quiet, "S": &o.showResponse, "server-response": &o.showResponse,
		"spider": &o.spider, "s": &o.spider, "c": &o.resume, "continue": &o.resume,
		"no-check-certificate": &o.insecure, "no-proxy": &o.noProxy,
	}
	var ignoredFlag bool
	for _, n := range []string{"nv", "no-verbose", "no-cache", "passive-ftp", "v", "verbose"} {
		flags[n] = &ignoredFlag
	}
	set := func(name, value string) error {
		switch name {
		case "T", "timeout":
			var secs float64
			if _, err := fmt.Sscan(value, &secs); err != nil || secs < 0 {
				return fmt.Errorf("invalid number '%s'", value)
			}
			o.timeout = time.Duration(secs * float64(time.Second))
		case "Y", "proxy":
			if value != "on" && value != "off" {
				return fmt.Errorf("-Y takes on or off, not '%s'", value)
			}
			o.noProxy = value == "off"
		case "post-file":
			b, err := os.ReadFile(value)
			if err != nil {
				return fmt.Errorf("can't open '%s': %v", value, err)
			}
			o.postData, o.post = string(b), true
		case "post-data":
			o.post = true
		case "header":
			o.headers = append(o.headers, value)
		}
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.urls = append(o.urls, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			if f, ok := flags[name]; ok && !hasValue {
				*f = true
				continue
			}
			v, ok := withValue[name]
			if !ok {
				return nil, fmt.Errorf("unrecognized option '%s'", a)
			}
			if !hasValue {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("option '%s' requires an argument", a)
				}
				i++
				value = args[i]
			}
			*v = value
			if err := set(name, value); err != nil {
				return nil, err
			}
		case strings.HasPrefix(a, "-") && a != "-":
			if f, ok := flags[a[1:]]; ok && len(a) == 3 { // -nv
				*f = true
				continue
			}
			for j := 1; j < len(a); j++ {
				name := a[j : j+1]
				if f, ok := flags[name]; ok {
					*f = true
					continue
				}
				v, ok := withValue[name]
				if !ok {
					return nil, fmt.Errorf("invalid option -- '%s'", name)
				}
				value := a[j+1:]
				if value == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option requires an argument -- '%s'", name)
					}
					i++
					value = args[i]
				}
				*v = value
				if err := set(name, value); err != nil {
					return nil, err
				}
				break
			}
		default:
			o.urls = append(o.urls, a)
		}
	}
	if len(o.urls) == 0 {
		return nil, errors.New("missing URL")
	}
	return o, nil
}

// get fetches one URL, following redirects, into the output file.
func (o *wgetOptions) get(raw string) error {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bad address '%s'", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("not an http or ftp url: %s", raw)
	}
	dialer := &net.Dialer{Timeout: o.timeout}
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if !o.quiet {
				fmt.Fprintf(o.log, "Connecting to %s (%s)\n", addr, c.RemoteAddr())
			}
			return &idleConn{Conn: c, timeout: o.timeout}, nil
		},
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: o.insecure},
		ResponseHeaderTimeout: o.timeout,
	}
	if o.noProxy {
		transport.Proxy = nil
	}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()

	method, body := http.MethodGet, io.Reader(nil)
	switch {
	case o.post:
		method, body = http.MethodPost, strings.NewReader(o.postData)
	case o.spider:
		method = http.MethodHead
	}
	req, err := http.NewRequest(method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "Wget")
	if o.userAgent != "" {
		req.Header.Set("User-Agent", o.userAgent)
	}
	if o.post {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range o.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return fmt.Errorf("bad header '%s'", h)
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		if strings.EqualFold(strings.TrimSpace(k), "Host") {
			req.Host = strings.TrimSpace(v)
		}
	}

	name := o.output
	if name == "" {
		name = path.Base(u.Path)
		if name == "/" || name == "." || name == "" {
			name = "index.html"
		}
		name = filepath.Join(o.dir, name)
	}
	var offset int64
	if o.resume && name != "-" {
		if st, err := os.Stat(name); err == nil && st.Size() > 0 {
			offset = st.Size()
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
	}

	resp, err := client.Do(req)
	if err != nil {
		return wgetError(err, u)
	}
	defer resp.Body.Close()
	if o.showResponse {
		fmt.Fprintf(o.log, "  %s %s\n", resp.Proto, resp.Status)
		_ = resp.Header.Write(indent{o.log})
	}
	if resp.StatusCode >= 300 { // redirects were followed
		return fmt.Errorf("server returned error: %s %s", resp.Proto, resp.Status)
	}
	if o.spider {
		if !o.quiet {
			fmt.Fprintln(o.log, "remote file exists")
		}
		return nil
	}

	var out io.Writer = os.Stdout
	if name != "-" {
		flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if offset > 0 && resp.StatusCode == http.StatusPartialContent {
			flags = os.O_WRONLY | os.O_APPEND
		}
		f, err := os.OpenFile(name, flags, 0o666)
		if err != nil {
			return fmt.Errorf("can't open '%s': %v", name, err)
		}
		defer f.Close()
		out = f
	}
	if !o.quiet {
		if name == "-" {
			fmt.Fprintln(o.log, "writing to stdout")
		} else {
			fmt.Fprintf(o.log, "saving to '%s'\n", name)
		}
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		if isTimeout(err) {
			return errors.New("download timed out")
		}
		return fmt.Errorf("error getting response: %v", err)
	}
	if !o.quiet {
		if name == "-" {
			fmt.Fprintln(o.log, "written to stdout")
		} else {
			fmt.Fprintf(o.log, "'%s' saved\n", name)
		}
	}
	return nil
}

// wgetError is BusyBox wget's message for a request that got no response.
func wgetError(err error, u *url.URL) error {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case isTimeout(err):
		return errors.New("download timed out")
	case errors.As(err, &dnsErr):
		return fmt.Errorf("bad address '%s'", u.Hostname())
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("can't connect to remote host (%s): %s", u.Hostname(), causeOf(err))
	}
	return fmt.Errorf("error getting response: %v", err)
}

// idleConn is a connection whose reads time out after timeout without data, as wget's -T is
// a read timeout, not one for the whole transfer; 0 never.
type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	if c.timeout > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	return c.Conn.Read(b)
}

// indent writes the response headers as -S shows them, each line indented by two spaces.
type indent struct{ w io.Writer }

func (i indent) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			fmt.Fprintf(i.w, "  %s\n", line)
		}
	}
	return len(b), nil
}
