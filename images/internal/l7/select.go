package l7

import (
	"net/http"
	"net/url"
	"strings"
)

// Select is the routing decision for a request arriving on l: the server whose hostname
// matches the request's host (see Listener.Servers), the first of its routes whose Match
// matches (else the server's NotFound), and the submatches of the route's path regex, if it
// has one (element 0 is the whole match). The server is nil when none matches and l has no
// Default; the route is nil when the request has an invalid path (nginx's 400) or nothing
// serves it (404).
//
// Select reads nothing but l and r; the proxy makes the same decision with indexes built
// when the configuration is loaded.
func Select(l *Listener, r *http.Request) (*Server, *Route, []string) {
	srv := selectServer(l, canonicalHost(r.Host))
	if srv == nil {
		return nil, nil, nil
	}
	path, ok := normalizePath(requestPath(r))
	if !ok {
		return srv, nil, nil
	}
	for _, rt := range srv.Routes {
		if ok, sub := matchRoute(rt, r, path); ok {
			var groups []string
			if sub != nil {
				groups = make([]string, len(sub)/2)
				for i := range groups {
					if sub[2*i] >= 0 {
						groups[i] = path[sub[2*i]:sub[2*i+1]]
					}
				}
			}
			return srv, rt, groups
		}
	}
	return srv, srv.NotFound, nil
}

// selectServer finds the server for host by scanning l's servers: exact name, then the
// longest matching wildcard, then the default.
func selectServer(l *Listener, host string) *Server {
	var best *Server
	bestLen := -1
	for _, s := range l.Servers {
		for _, h := range s.Hostnames {
			name := canonicalName(h)
			if name == host {
				return s
			}
			if suffix, ok := wildcardSuffix(name); ok && len(suffix) > bestLen && wildcardMatches(suffix, host, l.SingleLabelWildcards) {
				best, bestLen = s, len(suffix)
			}
		}
	}
	if best != nil {
		return best
	}
	return l.Default
}

// wildcardSuffix returns ".example.com" for "*.example.com".
func wildcardSuffix(name string) (string, bool) {
	if strings.HasPrefix(name, "*.") {
		return name[1:], true
	}
	return "", false
}

// wildcardMatches reports whether host is one label (singleLabel) or one or more labels
// followed by suffix (".example.com").
func wildcardMatches(suffix, host string, singleLabel bool) bool {
	if len(host) <= len(suffix) || !strings.HasSuffix(host, suffix) {
		return false
	}
	if singleLabel {
		return !strings.Contains(host[:len(host)-len(suffix)], ".")
	}
	return true
}

// canonicalHost turns a Host header or SNI into the name servers are matched against:
// without port, without a trailing dot, lowercase.
func canonicalHost(host string) string {
	if host == "" {
		return ""
	}
	if host[0] == '[' {
		// An IPv6 literal, with or without port.
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[:i+1]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		host = host[:i]
	}
	return canonicalName(host)
}

// canonicalName lowercases a hostname and removes a trailing dot, allocating only when it
// changes.
func canonicalName(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}

// requestPath is the path part of the request target as the client sent it.
func requestPath(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" || uri == "*" {
		if uri == "*" {
			return "*"
		}
		return r.URL.EscapedPath()
	}
	if uri[0] != '/' {
		// Absolute form: "http://host/path?query".
		if i := strings.Index(uri, "://"); i >= 0 {
			rest := uri[i+3:]
			if j := strings.IndexAny(rest, "/?"); j >= 0 {
				uri = rest[j:]
			} else {
				uri = "/"
			}
		}
		if uri == "" || uri[0] != '/' {
			uri = "/" + uri
		}
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

// normalizePath is the path as nginx compares it with locations ($uri): percent-escapes
// decoded, runs of slashes merged, "." and ".." segments resolved. It reports false for a path
// nginx answers 400 (a bad escape, an encoded NUL, ".." above the root).
func normalizePath(raw string) (string, bool) {
	if raw == "*" {
		return raw, true
	}
	if !needsNormalizing(raw) {
		return raw, true
	}
	// Decode first: nginx feeds decoded bytes back into its parser, so "%2F" separates
	// segments and "%2E%2E" is "..".
	dec := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return "", false
			}
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			if c == 0 {
				return "", false
			}
			i += 2
		}
		dec = append(dec, c)
	}
	out := make([]byte, 0, len(dec)+1)
	out = append(out, '/')
	// Walk the segments; out always ends with "/" between segments.
	i := 0
	for i < len(dec) {
		for i < len(dec) && dec[i] == '/' {
			i++
		}
		j := i
		for j < len(dec) && dec[j] != '/' {
			j++
		}
		seg := dec[i:j]
		last := j >= len(dec)
		switch string(seg) {
		case "":
		case ".":
		case "..":
			if len(out) <= 1 {
				return "", false
			}
			// Drop the previous segment, keeping its leading slash.
			k := len(out) - 2
			for k >= 0 && out[k] != '/' {
				k--
			}
			out = out[:k+1]
		default:
			out = append(out, seg...)
			if !last {
				out = append(out, '/')
			}
		}
		i = j
	}
	return string(out), true
}

// needsNormalizing reports whether raw has anything normalizePath would change.
func needsNormalizing(raw string) bool {
	if raw == "" || raw[0] != '/' {
		return true
	}
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '%':
			return true
		case '/':
			if i+1 < len(raw) && raw[i+1] == '/' {
				return true
			}
			if i+1 < len(raw) && raw[i+1] == '.' {
				// "/." followed by the end, "/" or "." (a "." or ".." segment).
				if i+2 == len(raw) || raw[i+2] == '/' || raw[i+2] == '.' && (i+3 == len(raw) || raw[i+3] == '/') {
					return true
				}
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// matchRoute reports whether rt's Match matches the request with normalized path, and the
// submatch indexes of a regex path.
func matchRoute(rt *Route, r *http.Request, path string) (bool, []int) {
	m := &rt.Match
	var sub []int
	switch m.PathType {
	case PathExact:
		if path != m.Path {
			return false, nil
		}
	case PathPrefix:
		if !prefixMatches(m.Path, path) {
			return false, nil
		}
	case PathStringPrefix:
		if !strings.HasPrefix(path, m.Path) {
			return false, nil
		}
	case PathRegex:
		if m.Regex == nil {
			return false, nil
		}
		if sub = m.Regex.FindStringSubmatchIndex(path); sub == nil {
			return false, nil
		}
	default:
		// No path type: any path, or a string prefix when a path is given.
		if m.Path != "" && !strings.HasPrefix(path, m.Path) {
			return false, nil
		}
	}
	if m.Method != "" && r.Method != m.Method {
		return false, nil
	}
	for i := range m.Headers {
		v := &m.Headers[i]
		vals := r.Header.Values(v.Name)
		got, present := "", len(vals) > 0
		if present {
			got = vals[0]
		}
		if !v.matches(got, present) {
			return false, nil
		}
	}
	for i := range m.Query {
		v := &m.Query[i]
		got, present := queryValue(r.URL.RawQuery, v.Name)
		if !v.matches(got, present) {
			return false, nil
		}
	}
	for i := range m.Cookies {
		v := &m.Cookies[i]
		got, present := "", false
		if c, err := r.Cookie(v.Name); err == nil {
			got, present = c.Value, true
		}
		if !v.matches(got, present) {
			return false, nil
		}
	}
	return true, sub
}

// prefixMatches is the Ingress API's Prefix match: by path segment, a trailing "/" of the
// prefix ignored, "/" matching every path.
func prefixMatches(prefix, path string) bool {
	p := strings.TrimRight(prefix, "/")
	if p == "" {
		return true
	}
	if !strings.HasPrefix(path, p) {
		return false
	}
	return len(path) == len(p) || path[len(p)] == '/'
}

// matches applies a ValueMatch to the value found (present) for its name.
func (v *ValueMatch) matches(got string, present bool) bool {
	var ok bool
	switch {
	case v.Regex != nil:
		ok = present && v.Regex.MatchString(got)
	case v.Value != "":
		ok = present && got == v.Value
	default:
		ok = !present
	}
	if v.Absent {
		return !ok
	}
	return ok
}

// queryValue finds the first value of name in a raw query, decoding both, without building
// a map.
func queryValue(raw, name string) (string, bool) {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, val, _ := strings.Cut(kv, "=")
		if k != name {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if dk, err := url.QueryUnescape(k); err != nil || dk != name {
				continue
			}
		}
		if dv, err := url.QueryUnescape(val); err == nil {
			return dv, true
		}
		return val, true
	}
	return "", false
}
