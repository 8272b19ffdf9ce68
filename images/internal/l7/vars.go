package l7

import (
	"net/http"
	"net/netip"
	"strings"
)

// varExpr is a compiled text with nginx variables ("$request_uri", "${host}",
// "$http_x_user", "$cookie_id", "$arg_page" …), as upstream-hash-by and mirror-target use.
type varExpr struct {
	parts []varPart
	// literal is the whole text when it has no variables.
	literal string
}

type varKind int

const (
	varLiteral varKind = iota
	varRemoteAddr
	varBinaryRemoteAddr
	varRequestURI
	varURI
	varArgs
	varHost
	varHTTPHost
	varScheme
	varMethod
	varServerPort
	varRequestID
	varHeader
	varCookie
	varArg
	varUnknown
)

type varPart struct {
	kind varKind
	// text is the literal text, or the header/cookie/argument name.
	text string
}

// compileVars parses s once, when a configuration is loaded.
func compileVars(s string) varExpr {
	if !strings.Contains(s, "$") {
		return varExpr{literal: s}
	}
	var parts []varPart
	lit := strings.Builder{}
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, varPart{kind: varLiteral, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] != '$' {
			lit.WriteByte(s[i])
			i++
			continue
		}
		var name string
		j := i + 1
		if j < len(s) && s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				lit.WriteString(s[i:])
				break
			}
			name = s[j+1 : j+end]
			j += end + 1
		} else {
			k := j
			for k < len(s) && isVarChar(s[k]) {
				k++
			}
			name = s[j:k]
			j = k
		}
		if name == "" {
			lit.WriteByte('$')
			i++
			continue
		}
		flush()
		parts = append(parts, parseVar(name))
		i = j
	}
	flush()
	return varExpr{parts: parts}
}

func isVarChar(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func parseVar(name string) varPart {
	switch name {
	case "remote_addr":
		return varPart{kind: varRemoteAddr}
	case "binary_remote_addr":
		return varPart{kind: varBinaryRemoteAddr}
	case "request_uri":
		return varPart{kind: varRequestURI}
	case "uri", "document_uri":
		return varPart{kind: varURI}
	case "args", "query_string":
		return varPart{kind: varArgs}
	case "host":
		return varPart{kind: varHost}
	case "http_host", "best_http_host":
		return varPart{kind: varHTTPHost}
	case "scheme":
		return varPart{kind: varScheme}
	case "request_method":
		return varPart{kind: varMethod}
	case "server_port":
		return varPart{kind: varServerPort}
	case "request_id", "req_id":
		return varPart{kind: varRequestID}
	}
	switch {
	case strings.HasPrefix(name, "http_"):
		// $http_x_user is the header X-User.
		return varPart{kind: varHeader, text: http.CanonicalHeaderKey(strings.ReplaceAll(name[5:], "_", "-"))}
	case strings.HasPrefix(name, "cookie_"):
		return varPart{kind: varCookie, text: name[7:]}
	case strings.HasPrefix(name, "arg_"):
		return varPart{kind: varArg, text: name[4:]}
	}
	return varPart{kind: varUnknown, text: name}
}

// varSource is what variables are read from.
type varSource struct {
	r          *http.Request
	remoteAddr netip.Addr
	host       string // $host
	uri        string // $uri, the normalized path
	scheme     string
	serverPort string
	requestID  string
}

// isZero reports whether e is an empty text.
func (e *varExpr) isZero() bool { return e.parts == nil && e.literal == "" }

// expand evaluates e for a request.
func (e *varExpr) expand(src *varSource) string {
	if e.parts == nil {
		return e.literal
	}
	if len(e.parts) == 1 {
		return e.parts[0].value(src)
	}
	var b strings.Builder
	for i := range e.parts {
		b.WriteString(e.parts[i].value(src))
	}
	return b.String()
}

func (p *varPart) value(src *varSource) string {
	r := src.r
	switch p.kind {
	case varLiteral:
		return p.text
	case varRemoteAddr:
		return src.remoteAddr.String()
	case varBinaryRemoteAddr:
		b := src.remoteAddr.AsSlice()
		return string(b)
	case varRequestURI:
		return r.RequestURI
	case varURI:
		return src.uri
	case varArgs:
		return r.URL.RawQuery
	case varHost:
		return src.host
	case varHTTPHost:
		return r.Host
	case varScheme:
		return src.scheme
	case varMethod:
		return r.Method
	case varServerPort:
		return src.serverPort
	case varRequestID:
		return src.requestID
	case varHeader:
		return r.Header.Get(p.text)
	case varCookie:
		if c, err := r.Cookie(p.text); err == nil {
			return c.Value
		}
	case varArg:
		v, _ := queryValue(r.URL.RawQuery, p.text)
		return v
	}
	return ""
}
