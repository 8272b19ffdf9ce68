package translate

import (
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/minaks/minaks/images/internal/l7"
)

// snippet is what minaks makes of a configuration-snippet or server-snippet: the header
// directives people put there, as header changes; the other directives are reported.
type snippet struct {
	request, response l7.HeaderModifier
	// unsupported are the directives that are not emulated.
	unsupported []string
}

// snippetCache keeps parsed snippets by text; parsing is pure, the cache only saves time.
var snippetCache sync.Map

// parseSnippet reads nginx directives: more_set_headers, more_clear_headers,
// more_set_input_headers, more_clear_input_headers, add_header, proxy_set_header and
// proxy_hide_header with literal values. A value with an nginx variable, a status or type
// filter, a header wildcard or any other directive is reported as not emulated.
func parseSnippet(text string) *snippet {
	if v, ok := snippetCache.Load(text); ok {
		return v.(*snippet)
	}
	s := &snippet{}
	for _, d := range splitDirectives(text) {
		if len(d) == 0 {
			continue
		}
		if !s.apply(d) {
			s.unsupported = append(s.unsupported, strings.Join(d, " "))
		}
	}
	snippetCache.Store(text, s)
	return s
}

// apply applies one directive; false means it is not emulated.
func (s *snippet) apply(d []string) bool {
	name, args := d[0], d[1:]
	for _, a := range args {
		if strings.Contains(a, "$") || strings.HasPrefix(a, "-") {
			return false
		}
	}
	switch name {
	case "more_set_headers", "more_set_input_headers":
		m := &s.response
		if name == "more_set_input_headers" {
			m = &s.request
		}
		if len(args) == 0 {
			return false
		}
		for _, a := range args {
			k, v, ok := strings.Cut(a, ":")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if k == "" || strings.Contains(k, "*") {
				return false
			}
			if !ok || v == "" {
				m.Remove = append(m.Remove, k)
				continue
			}
			setHeader(&m.Set, k, v)
		}
	case "more_clear_headers", "more_clear_input_headers", "proxy_hide_header":
		m := &s.response
		if name == "more_clear_input_headers" {
			m = &s.request
		}
		if len(args) == 0 || (name == "proxy_hide_header" && len(args) != 1) {
			return false
		}
		for _, a := range args {
			if strings.Contains(a, "*") {
				return false
			}
			m.Remove = append(m.Remove, a)
		}
	case "add_header":
		if len(args) < 2 || len(args) > 3 || (len(args) == 3 && args[2] != "always") {
			return false
		}
		setHeader(&s.response.Add, args[0], args[1])
	case "proxy_set_header":
		if len(args) != 2 {
			return false
		}
		if args[1] == "" {
			s.request.Remove = append(s.request.Remove, args[0])
		} else {
			setHeader(&s.request.Set, args[0], args[1])
		}
	default:
		return false
	}
	return true
}

func setHeader(m *map[string]string, k, v string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
}

// splitDirectives splits nginx configuration text into directives and their arguments:
// ";" ends a directive, quotes group, a backslash escapes, "#" starts a comment. A block
// ("{") is one unsupported directive up to its closing brace.
func splitDirectives(text string) [][]string {
	var out [][]string
	var cur []string
	var tok strings.Builder
	inTok, quote, depth := false, rune(0), 0
	flushTok := func() {
		if inTok {
			cur = append(cur, tok.String())
			tok.Reset()
			inTok = false
		}
	}
	flushDir := func() {
		flushTok()
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	runes := []rune(text)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote != 0:
			if r == '\\' && i+1 < len(runes) {
				i++
				tok.WriteRune(runes[i])
			} else if r == quote {
				quote = 0
			} else {
				tok.WriteRune(r)
			}
		case depth > 0:
			tok.WriteRune(r)
			if r == '{' {
				depth++
			} else if r == '}' {
				depth--
				if depth == 0 {
					inTok = true
					flushDir()
				}
			}
		case r == '#':
			for i < len(runes) && runes[i] != '\n' {
				i++
			}
			flushTok()
		case r == '"' || r == '\'':
			quote, inTok = r, true
		case r == ';':
			flushDir()
		case r == '{':
			flushTok()
			tok.WriteRune(r)
			inTok, depth = true, 1
		case unicode.IsSpace(r):
			flushTok()
		default:
			tok.WriteRune(r)
			inTok = true
		}
	}
	flushDir()
	return out
}

// mergeHeaders applies over on top of base: over's entries win.
func mergeHeaders(base, over l7.HeaderModifier) l7.HeaderModifier {
	out := l7.HeaderModifier{Remove: append(append([]string(nil), base.Remove...), over.Remove...)}
	for _, src := range []map[string]string{base.Set, over.Set} {
		for k, v := range src {
			setHeader(&out.Set, k, v)
		}
	}
	for _, src := range []map[string]string{base.Add, over.Add} {
		for k, v := range src {
			setHeader(&out.Add, k, v)
		}
	}
	return out
}

// snippetWarning describes the directives of a snippet annotation that are not emulated.
func snippetWarning(annotation string, s *snippet) string {
	return fmt.Sprintf("annotation %s: directives %q are not emulated by minaks (only literal header directives are)", annotation, s.unsupported)
}
