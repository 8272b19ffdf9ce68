package l7

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// Observer receives one Entry per request the proxy served, when its response is complete:
// the access log and the metrics of the controller. Observe is called on the request's
// goroutine, so it must be quick; it must not keep e or anything in it after it returns
// (the proxy reuses entries), copy what it needs instead.
type Observer interface {
	Observe(e *Entry)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(e *Entry)

// Observe calls f(e).
func (f ObserverFunc) Observe(e *Entry) { f(e) }

// Entry is what the proxy knows about a request once it is answered: everything
// ingress-nginx's "upstreaminfo" log format and its Prometheus metrics use. String fields
// hold "" where nginx would log "-".
type Entry struct {
	// Time is when the response ended (nginx's $time_local); Start when the request began.
	Time, Start time.Time
	// RemoteAddr is the client's address as the proxy sees it ($remote_addr: the real IP
	// when forwarded headers are trusted); PeerAddr is the connection's peer, with its port
	// ($realip_remote_addr:$remote_port).
	RemoteAddr, PeerAddr string
	// RemoteUser is the user name of a Basic Authorization header ($remote_user).
	RemoteUser string
	// Method, URI and Proto make the request line ($request); URI is as the client sent it
	// ($request_uri).
	Method, URI, Proto string
	// Status is the status sent to the client; 499 when the client went away first.
	Status int
	// BodyBytesSent is the size of the response body sent ($body_bytes_sent).
	BodyBytesSent int64
	// RequestLength is the size of the request line, headers and body ($request_length);
	// BytesReceived the size of the request body read.
	RequestLength, BytesReceived int64
	Referer, UserAgent           string
	// RequestTime is the time from the first byte of the request to the last of the response.
	RequestTime time.Duration
	// UpstreamName is the upstream that served ($proxy_upstream_name), and
	// AlternativeUpstreamName the canary upstream chosen instead of it, if any
	// ($proxy_alternative_upstream_name).
	UpstreamName, AlternativeUpstreamName string
	// Upstreams are the attempts made, in order ($upstream_addr, $upstream_status, …).
	Upstreams []UpstreamAttempt
	// RequestID is the request's X-Request-ID ($req_id).
	RequestID string
	// Host is the request's host, lowercase and without port ($host); Scheme "http" or
	// "https".
	Host, Scheme string
	// Listener is the name of the listener the request came in on.
	Listener string
	// Route describes the route that served the request (zero when none matched).
	Route RouteMeta
	// Path is the route's path as configured (Match.Path), for metrics.
	Path string
}

// UpstreamAttempt is one attempt to get an answer from an upstream's endpoint.
type UpstreamAttempt struct {
	// Upstream names the upstream; Group numbers the upstream requests of the client's
	// request (0 the request itself, 1 the error page request after it), which nginx
	// separates with " : ".
	Upstream string
	Group    int
	// Addr is the endpoint ("10.0.0.1:8080").
	Addr string
	// Status is the endpoint's status, or what the proxy made of a failure (502 for a
	// connection error, 504 for a timeout).
	Status int
	// ResponseLength is the size of the response body read from the endpoint.
	ResponseLength int64
	// ResponseTime is the time from the start of the attempt to the end of its response.
	ResponseTime time.Duration
}

var entryPool = sync.Pool{New: func() any { return &Entry{Upstreams: make([]UpstreamAttempt, 0, 2)} }}

func getEntry() *Entry { return entryPool.Get().(*Entry) }

func putEntry(e *Entry) {
	ups := e.Upstreams[:0]
	*e = Entry{Upstreams: ups}
	entryPool.Put(e)
}

// UpstreamInfo renders the entry as ingress-nginx's default access log line ("upstreaminfo"):
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
//	"$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name]
//	[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length
//	$upstream_response_time $upstream_status $req_id
func (e *Entry) UpstreamInfo() string {
	var b strings.Builder
	b.Grow(256)
	b.WriteString(dash(e.RemoteAddr))
	b.WriteString(" - ")
	b.WriteString(dash(e.RemoteUser))
	b.WriteString(" [")
	b.WriteString(e.Time.Format("02/Jan/2006:15:04:05 -0700"))
	b.WriteString(`] "`)
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URI)
	b.WriteByte(' ')
	b.WriteString(e.Proto)
	b.WriteString(`" `)
	b.WriteString(strconv.Itoa(e.Status))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(e.BodyBytesSent, 10))
	b.WriteString(` "`)
	b.WriteString(dash(e.Referer))
	b.WriteString(`" "`)
	b.WriteString(dash(e.UserAgent))
	b.WriteString(`" `)
	b.WriteString(strconv.FormatInt(e.RequestLength, 10))
	b.WriteByte(' ')
	b.WriteString(seconds(e.RequestTime))
	b.WriteString(" [")
	// ingress-nginx sets $proxy_upstream_name to "-" in every server before a location sets it.
	b.WriteString(dash(e.UpstreamName))
	b.WriteString("] [")
	b.WriteString(e.AlternativeUpstreamName)
	b.WriteString("] ")
	b.WriteString(e.UpstreamAddr())
	b.WriteByte(' ')
	b.WriteString(e.UpstreamResponseLength())
	b.WriteByte(' ')
	b.WriteString(e.UpstreamResponseTime())
	b.WriteByte(' ')
	b.WriteString(e.UpstreamStatus())
	b.WriteByte(' ')
	b.WriteString(dash(e.RequestID))
	return b.String()
}

// UpstreamAddr is nginx's $upstream_addr: the attempts' endpoints, ", " between attempts and
// " : " between upstream requests; "-" when no upstream was asked.
func (e *Entry) UpstreamAddr() string {
	return e.joinAttempts(func(a *UpstreamAttempt) string { return a.Addr })
}

// UpstreamStatus is nginx's $upstream_status.
func (e *Entry) UpstreamStatus() string {
	return e.joinAttempts(func(a *UpstreamAttempt) string {
		if a.Status == 0 {
			return "-"
		}
		return statusLine(a.Status)
	})
}

// UpstreamResponseLength is nginx's $upstream_response_length.
func (e *Entry) UpstreamResponseLength() string {
	return e.joinAttempts(func(a *UpstreamAttempt) string { return strconv.FormatInt(a.ResponseLength, 10) })
}

// UpstreamResponseTime is nginx's $upstream_response_time (seconds, millisecond resolution).
func (e *Entry) UpstreamResponseTime() string {
	return e.joinAttempts(func(a *UpstreamAttempt) string { return seconds(a.ResponseTime) })
}

func (e *Entry) joinAttempts(f func(*UpstreamAttempt) string) string {
	switch len(e.Upstreams) {
	case 0:
		return "-"
	case 1:
		return f(&e.Upstreams[0])
	}
	var b strings.Builder
	for i := range e.Upstreams {
		a := &e.Upstreams[i]
		if i > 0 {
			if a.Group != e.Upstreams[i-1].Group {
				b.WriteString(" : ")
			} else {
				b.WriteString(", ")
			}
		}
		b.WriteString(f(a))
	}
	return b.String()
}

// seconds renders a duration as nginx renders times: seconds with three decimals.
func seconds(d time.Duration) string {
	ms := d.Milliseconds()
	if ms < 0 {
		ms = 0
	}
	var buf [24]byte
	b := strconv.AppendInt(buf[:0], ms/1000, 10)
	b = append(b, '.', byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
	return string(b)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
