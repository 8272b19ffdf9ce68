package ingressnginx

import (
	"strconv"
	"strings"
	"time"

	"github.com/minaks/minaks/images/internal/l7"
)

// accessLog is the access log's settings from the controller's ConfigMap: log-format-upstream
// (nginx variables, ingress-nginx's "upstreaminfo" format by default), log-format-escape-json /
// log-format-escape-none, disable-access-log and skip-access-log-urls.
type accessLog struct {
	// format renders an entry's line; nil when the access log is off.
	format func(*l7.Entry) string
	skip   map[string]bool
}

// accessLogFrom reads the access log's settings from the ConfigMap's data.
func accessLogFrom(data map[string]string) *accessLog {
	a := &accessLog{format: (*l7.Entry).UpstreamInfo}
	if data["disable-access-log"] == "true" {
		a.format = nil
		return a
	}
	for _, u := range strings.Split(data["skip-access-log-urls"], ",") {
		if u = strings.TrimSpace(u); u != "" {
			if a.skip == nil {
				a.skip = map[string]bool{}
			}
			a.skip[u] = true
		}
	}
	if f := data["log-format-upstream"]; f != "" {
		escape := escapeDefault
		switch {
		case data["log-format-escape-json"] == "true":
			escape = escapeJSON
		case data["log-format-escape-none"] == "true":
			escape = escapeNone
		}
		a.format = compileLogFormat(f, escape)
	}
	return a
}

// line is the log line of e, or "" when it is not logged.
func (a *accessLog) line(e *l7.Entry) string {
	if a.format == nil || a.skip[uriPath(e.URI)] {
		return ""
	}
	return a.format(e)
}

func uriPath(uri string) string {
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		return uri[:i]
	}
	return uri
}

// How variable values are escaped in the line, as nginx's log_format escape= parameter.
const (
	escapeDefault = iota // ", \ and bytes outside 32–126 as \xXX
	escapeJSON           // JSON string escapes
	escapeNone
)

// compileLogFormat turns an nginx log_format string into a function of an entry: literal text
// and the variables ingress-nginx's formats use ($remote_addr, $time_local, $request, $status,
// $upstream_addr, $req_id, $namespace, $ingress_name, …); a variable the proxy does not know
// renders as "-".
func compileLogFormat(format string, escape int) func(*l7.Entry) string {
	type part struct {
		text string
		v    func(*l7.Entry) string
	}
	var parts []part
	for format != "" {
		i := strings.IndexByte(format, '$')
		if i < 0 {
			parts = append(parts, part{text: format})
			break
		}
		if i > 0 {
			parts = append(parts, part{text: format[:i]})
		}
		format = format[i+1:]
		braced := strings.HasPrefix(format, "{")
		if braced {
			format = format[1:]
		}
		n := 0
		for n < len(format) && (format[n] == '_' || format[n] >= 'a' && format[n] <= 'z' || format[n] >= 'A' && format[n] <= 'Z' || format[n] >= '0' && format[n] <= '9') {
			n++
		}
		name := format[:n]
		format = format[n:]
		if braced && strings.HasPrefix(format, "}") {
			format = format[1:]
		}
		if name == "" {
			parts = append(parts, part{text: "$"})
			continue
		}
		parts = append(parts, part{v: logVariable(name)})
	}
	return func(e *l7.Entry) string {
		var b strings.Builder
		b.Grow(256)
		for _, p := range parts {
			if p.v == nil {
				b.WriteString(p.text)
				continue
			}
			writeEscaped(&b, p.v(e), escape)
		}
		return b.String()
	}
}

// logVariable is the value of the nginx variable name for an entry.
func logVariable(name string) func(*l7.Entry) string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	switch name {
	case "remote_addr", "realip_remote_addr", "proxy_add_x_forwarded_for":
		return func(e *l7.Entry) string { return dash(e.RemoteAddr) }
	case "remote_user":
		return func(e *l7.Entry) string { return dash(e.RemoteUser) }
	case "time_local":
		return func(e *l7.Entry) string { return e.Time.Format("02/Jan/2006:15:04:05 -0700") }
	case "time_iso8601":
		return func(e *l7.Entry) string { return e.Time.Format("2006-01-02T15:04:05-07:00") }
	case "msec":
		return func(e *l7.Entry) string { return strconv.FormatFloat(float64(e.Time.UnixMilli())/1000, 'f', 3, 64) }
	case "request":
		return func(e *l7.Entry) string { return e.Method + " " + e.URI + " " + e.Proto }
	case "request_method":
		return func(e *l7.Entry) string { return e.Method }
	case "request_uri":
		return func(e *l7.Entry) string { return e.URI }
	case "uri":
		return func(e *l7.Entry) string { return uriPath(e.URI) }
	case "server_protocol":
		return func(e *l7.Entry) string { return e.Proto }
	case "status":
		return func(e *l7.Entry) string { return strconv.Itoa(e.Status) }
	case "body_bytes_sent", "bytes_sent":
		return func(e *l7.Entry) string { return strconv.FormatInt(e.BodyBytesSent, 10) }
	case "request_length":
		return func(e *l7.Entry) string { return strconv.FormatInt(e.RequestLength, 10) }
	case "request_time":
		return func(e *l7.Entry) string { return secs(e.RequestTime) }
	case "http_referer":
		return func(e *l7.Entry) string { return dash(e.Referer) }
	case "http_user_agent":
		return func(e *l7.Entry) string { return dash(e.UserAgent) }
	case "host", "server_name":
		return func(e *l7.Entry) string { return dash(e.Host) }
	case "scheme":
		return func(e *l7.Entry) string { return e.Scheme }
	case "proxy_upstream_name":
		return func(e *l7.Entry) string { return e.UpstreamName }
	case "proxy_alternative_upstream_name":
		return func(e *l7.Entry) string { return e.AlternativeUpstreamName }
	case "upstream_addr":
		return (*l7.Entry).UpstreamAddr
	case "upstream_status":
		return (*l7.Entry).UpstreamStatus
	case "upstream_response_length":
		return (*l7.Entry).UpstreamResponseLength
	case "upstream_response_time":
		return (*l7.Entry).UpstreamResponseTime
	case "req_id", "request_id":
		return func(e *l7.Entry) string { return dash(e.RequestID) }
	case "namespace":
		return func(e *l7.Entry) string { return e.Route.Namespace }
	case "ingress_name":
		return func(e *l7.Entry) string { return e.Route.Name }
	case "service_name":
		return func(e *l7.Entry) string { return e.Route.Service }
	case "service_port":
		return func(e *l7.Entry) string { return e.Route.ServicePort }
	}
	return func(*l7.Entry) string { return "-" }
}

func writeEscaped(b *strings.Builder, s string, escape int) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch escape {
		case escapeNone:
			b.WriteByte(c)
		case escapeJSON:
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
		default:
			if c == '"' || c == '\\' || c < 32 || c > 126 {
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
}
