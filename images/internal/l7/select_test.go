package l7

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizePath(t *testing.T) {
	for _, tc := range []struct {
		name, raw, want string
		bad             bool
	}{
		{name: "plain", raw: "/a/b", want: "/a/b"},
		{name: "root", raw: "/", want: "/"},
		{name: "trailing slash kept", raw: "/a/b/", want: "/a/b/"},
		{name: "merged slashes", raw: "//a///b", want: "/a/b"},
		{name: "dot segments", raw: "/a/./b/../c", want: "/a/c"},
		{name: "final dot keeps the slash", raw: "/a/.", want: "/a/"},
		{name: "final dot-dot keeps the slash", raw: "/a/b/..", want: "/a/"},
		{name: "dots inside names are names", raw: "/a/.../b.c", want: "/a/.../b.c"},
		{name: "percent-decoded", raw: "/caf%C3%A9/%7Euser", want: "/café/~user"},
		{name: "encoded slash separates segments", raw: "/a%2Fb", want: "/a/b"},
		{name: "encoded dot-dot resolves", raw: "/a/%2E%2E/b", want: "/b"},
		{name: "encoded percent stays literal", raw: "/100%25", want: "/100%"},
		{name: "plus is not a space", raw: "/a+b", want: "/a+b"},
		{name: "above the root is a bad request", raw: "/../etc/passwd", bad: true},
		{name: "bad escape is a bad request", raw: "/a%zz", bad: true},
		{name: "truncated escape is a bad request", raw: "/a%2", bad: true},
		{name: "encoded NUL is a bad request", raw: "/a%00", bad: true},
		{name: "asterisk form", raw: "*", want: "*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := normalizePath(tc.raw)
			if ok == tc.bad {
				t.Fatalf("normalizePath(%q) ok = %v, want %v", tc.raw, ok, !tc.bad)
			}
			if !tc.bad && got != tc.want {
				t.Errorf("normalizePath(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

func TestCanonicalHost(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Example.COM", "example.com"},
		{"example.com:8080", "example.com"},
		{"example.com.", "example.com"},
		{"EXAMPLE.com.:443", "example.com"},
		{"[::1]:80", "[::1]"},
		{"[::1]", "[::1]"},
		{"10.0.0.1:80", "10.0.0.1"},
		{"", ""},
	} {
		if got := canonicalHost(tc.in); got != tc.want {
			t.Errorf("canonicalHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSelect is the routing table: which server and route serve a request. Case names give
// the behaviour and, where there is one, the ingress-nginx documentation or test it follows.
func TestSelect(t *testing.T) {
	exact := &Server{Hostnames: []string{"foo.example.com"}}
	wild := &Server{Hostnames: []string{"*.example.com"}}
	deeper := &Server{Hostnames: []string{"*.b.example.com"}}
	def := &Server{}
	l := &Listener{Servers: []*Server{wild, exact, deeper}, Default: def}
	single := &Listener{Servers: []*Server{wild}, Default: def, SingleLabelWildcards: true}

	route := func(pt PathMatchType, path string) *Route {
		return &Route{Meta: RouteMeta{Path: path}, Match: Match{PathType: pt, Path: path}}
	}
	re := &Route{Match: Match{PathType: PathRegex, Path: "/api(/|$)(.*)", Regex: regexp.MustCompile(`(?i)^/api(/|$)(.*)`)}}
	exactRoute := route(PathExact, "/foo")
	prefixFoo := route(PathPrefix, "/foo/")
	stringPrefix := route(PathStringPrefix, "/str")
	root := route(PathPrefix, "/")
	byHeader := &Route{Match: Match{PathType: PathPrefix, Path: "/canary", Headers: []ValueMatch{{Name: "x-canary", Value: "always"}}}}
	byHeaderRe := &Route{Match: Match{PathType: PathPrefix, Path: "/canary", Headers: []ValueMatch{{Name: "X-Canary", Regex: regexp.MustCompile(`^v[0-9]+$`)}}}}
	byCookie := &Route{Match: Match{PathType: PathPrefix, Path: "/canary", Cookies: []ValueMatch{{Name: "canary", Value: "always"}}}}
	byQuery := &Route{Match: Match{PathType: PathPrefix, Path: "/canary", Query: []ValueMatch{{Name: "v", Value: "2 beta"}}}}
	notNever := &Route{Match: Match{PathType: PathPrefix, Path: "/canary", Headers: []ValueMatch{{Name: "X-Canary", Value: "never", Absent: true}}}}
	post := &Route{Match: Match{PathType: PathPrefix, Path: "/canary", Method: http.MethodPost}}
	canaryDefault := route(PathPrefix, "/canary")
	notFound := &Route{Respond: &Respond{Code: 404}}
	paths := &Server{Hostnames: []string{"paths.example.com"}, NotFound: notFound,
		Routes: []*Route{exactRoute, prefixFoo, stringPrefix, re, byHeader, byHeaderRe, byCookie, byQuery, post, notNever, canaryDefault}}
	withRoot := &Server{Hostnames: []string{"root.example.com"}, Routes: []*Route{root}}
	lp := &Listener{Servers: []*Server{paths, withRoot}}

	for _, tc := range []struct {
		name    string
		l       *Listener
		method  string
		target  string
		host    string
		header  map[string]string
		srv     *Server
		route   *Route
		groups  []string
		noRoute bool
	}{
		{name: "exact host before wildcard", l: l, target: "/", host: "foo.example.com", srv: exact},
		{name: "host is case-insensitive", l: l, target: "/", host: "FOO.Example.Com", srv: exact},
		{name: "host port and trailing dot ignored", l: l, target: "/", host: "foo.example.com.:8080", srv: exact},
		{name: "wildcard matches one label", l: l, target: "/", host: "bar.example.com", srv: wild},
		{name: "longest wildcard wins", l: l, target: "/", host: "a.b.example.com", srv: deeper},
		{name: "wildcard matches several labels (Gateway API)", l: l, target: "/", host: "x.y.example.com", srv: wild},
		{name: "wildcard does not match its own suffix", l: l, target: "/", host: "example.com", srv: def},
		{name: "single-label wildcard: ingress-nginx server_name regex", l: single, target: "/", host: "x.y.example.com", srv: def},
		{name: "single-label wildcard matches one label", l: single, target: "/", host: "x.example.com", srv: wild},
		{name: "unknown host goes to the default server", l: l, target: "/", host: "other.test", srv: def},
		{name: "no default server", l: lp, target: "/", host: "other.test"},

		{name: "Exact matches only the path (pathType Exact)", l: lp, host: "paths.example.com", target: "/foo", srv: paths, route: exactRoute},
		{name: "Prefix matches by segment (Ingress API: /foo/ matches /foo/bar)", l: lp, host: "paths.example.com", target: "/foo/bar", srv: paths, route: prefixFoo},
		{name: "Prefix ignores the trailing slash (/foo/ matches /foo/)", l: lp, host: "paths.example.com", target: "/foo/", srv: paths, route: prefixFoo},
		{name: "Prefix does not match a longer segment (/foo/ does not match /foobar)", l: lp, host: "paths.example.com", target: "/foobar", srv: paths, route: notFound},
		{name: "ImplementationSpecific is a string prefix", l: lp, host: "paths.example.com", target: "/string", srv: paths, route: stringPrefix},
		{name: "regex with submatches (rewrite-target example)", l: lp, host: "paths.example.com", target: "/API/v1/users?x=1", srv: paths, route: re, groups: []string{"/API/v1/users", "/", "v1/users"}},
		{name: "regex matches the normalized path", l: lp, host: "paths.example.com", target: "/x/../api//v2", srv: paths, route: re, groups: []string{"/api/v2", "/", "v2"}},
		{name: "path compared after percent-decoding", l: lp, host: "paths.example.com", target: "/%66oo", srv: paths, route: exactRoute},
		{name: "merged slashes match a prefix", l: lp, host: "paths.example.com", target: "//foo//bar", srv: paths, route: prefixFoo},
		{name: "invalid path has no route", l: lp, host: "paths.example.com", target: "/../x", srv: paths, noRoute: true},
		{name: "header value (canary-by-header-value)", l: lp, host: "paths.example.com", target: "/canary", header: map[string]string{"X-Canary": "always"}, srv: paths, route: byHeader},
		{name: "header regex (canary-by-header-pattern)", l: lp, host: "paths.example.com", target: "/canary", header: map[string]string{"X-Canary": "v2"}, srv: paths, route: byHeaderRe},
		{name: "cookie (canary-by-cookie)", l: lp, host: "paths.example.com", target: "/canary", header: map[string]string{"Cookie": "a=b; canary=always"}, srv: paths, route: byCookie},
		{name: "query value decoded", l: lp, host: "paths.example.com", target: "/canary?x=1&v=2+beta", srv: paths, route: byQuery},
		{name: "method", l: lp, method: http.MethodPost, host: "paths.example.com", target: "/canary", srv: paths, route: post},
		{name: "absent header: never", l: lp, host: "paths.example.com", target: "/canary", header: map[string]string{"X-Canary": "never"}, srv: paths, route: canaryDefault},
		{name: "absent header: missing matches", l: lp, host: "paths.example.com", target: "/canary", srv: paths, route: notNever},
		{name: "root prefix matches everything", l: lp, host: "root.example.com", target: "/any/thing", srv: withRoot, route: root},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, tc.target, nil)
			r.RequestURI = tc.target
			r.Host = tc.host
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			srv, rt, groups := Select(tc.l, r)
			if srv != tc.srv {
				t.Fatalf("server = %+v, want %+v", srv, tc.srv)
			}
			if tc.noRoute {
				if rt != nil {
					t.Fatalf("route = %+v, want none", rt)
				}
				return
			}
			if rt != tc.route {
				t.Fatalf("route = %+v, want %+v", rt, tc.route)
			}
			if diff := cmp.Diff(tc.groups, groups); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplacePrefix(t *testing.T) {
	for _, tc := range []struct {
		name, match, path, repl, want string
	}{
		{name: "segment replaced", match: "/foo", path: "/foo/bar", repl: "/xyz", want: "/xyz/bar"},
		{name: "to root", match: "/foo", path: "/foo/bar", repl: "/", want: "/bar"},
		{name: "whole path", match: "/foo", path: "/foo", repl: "/xyz", want: "/xyz"},
		{name: "whole path to root", match: "/foo/", path: "/foo", repl: "/", want: "/"},
		{name: "trailing slash of prefix", match: "/foo/", path: "/foo/bar", repl: "/xyz/", want: "/xyz/bar"},
		{name: "empty replacement", match: "/foo", path: "/foo/bar", repl: "", want: "/bar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &Route{Match: Match{PathType: PathPrefix, Path: tc.match}}
			if got := replacePrefix(tc.path, rt, tc.repl); got != tc.want {
				t.Errorf("replacePrefix(%q, %q, %q) = %q, want %q", tc.path, tc.match, tc.repl, got, tc.want)
			}
		})
	}
}

func TestVarExpr(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/p/q?user=ann&x=1", nil)
	r.Host = "App.example.com:8080"
	r.Header.Set("X-User", "bob")
	r.Header.Set("Cookie", "sid=42")
	src := &varSource{r: r, host: "app.example.com", uri: "/p/q", scheme: "https", requestID: "rid"}
	for _, tc := range []struct{ expr, want string }{
		{"$request_uri", "/p/q?user=ann&x=1"},
		{"${host}$uri", "app.example.com/p/q"},
		{"$http_x_user-$cookie_sid-$arg_user", "bob-42-ann"},
		{"https://mirror.test$request_uri", "https://mirror.test/p/q?user=ann&x=1"},
		{"literal", "literal"},
		{"$scheme://$http_host", "https://App.example.com:8080"},
		{"cost: 5$", "cost: 5$"},
		{"$unknown_var.x", ".x"},
	} {
		e := compileVars(tc.expr)
		if got := e.expand(src); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}
