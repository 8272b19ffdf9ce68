package translate

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/images/internal/l7"
)

// outcome says in a few words what the proxy does with a request served by route r.
func outcome(r *l7.Route, https bool) string {
	switch {
	case r == nil:
		return "no route"
	case r.Respond != nil:
		return fmt.Sprintf("respond %d", r.Respond.Code)
	case r.Redirect != nil:
		return "redirect " + redirectString(r.Redirect)
	case r.HTTPSRedirect != nil && !https:
		return fmt.Sprintf("redirect %d to https", r.HTTPSRedirect.Code)
	}
	var bs []string
	for _, b := range r.Backends {
		if len(r.Backends) == 1 {
			bs = append(bs, b.Upstream)
		} else {
			bs = append(bs, fmt.Sprintf("%s*%d", b.Upstream, b.Weight))
		}
	}
	return strings.Join(bs, " ")
}

type expect struct {
	rq   request
	want string
}

// TestTranslateGolden checks the routing tables and Events of the behaviours of ingress-nginx
// named by each case (a page of its documentation or one of its e2e tests), and how requests
// are routed by them.
func TestTranslateGolden(t *testing.T) {
	never := ptr.To("other-class")
	cases := []struct {
		name     string
		opts     func(*Options)
		state    *State
		requests []expect
	}{
		{
			name: "docs/user-guide/basic-usage: two hosts to two services",
			state: base().with(
				ingress("foo", rule("foo.bar.com", path("/", "Prefix", "web", 80))),
				ingress("bar", rule("bar.baz.com", path("/", "Prefix", "api", 80))),
			),
			requests: []expect{
				{request{host: "foo.bar.com", path: "/anything"}, "default-web-80"},
				{request{host: "BAR.baz.com", path: "/"}, "default-api-80"},
				{request{host: "other.com", path: "/"}, "respond 404"},
				{request{host: "other.com", path: "/healthz"}, "respond 200"},
			},
		},
		{
			name: "docs/user-guide/ingress-path-matching: Prefix /foo matches /foo and /foo/bar, not /foobar",
			state: base().with(
				ingress("p", rule("a.example.com", path("/foo", "Prefix", "web", 80), path("/", "Prefix", "api", 80))),
			),
			requests: []expect{
				{request{host: "a.example.com", path: "/foo"}, "default-web-80"},
				{request{host: "a.example.com", path: "/foo/bar"}, "default-web-80"},
				{request{host: "a.example.com", path: "/foobar"}, "default-api-80"},
			},
		},
		{
			name: "test/e2e/ingress/pathtype_prefix.go: Prefix /foo/ with a trailing slash does not match /foo",
			state: base().with(
				ingress("p", rule("a.example.com", path("/foo/", "Prefix", "web", 80))),
			),
			requests: []expect{
				{request{host: "a.example.com", path: "/foo/"}, "default-web-80"},
				{request{host: "a.example.com", path: "/foo"}, "respond 404"},
			},
		},
		{
			name: "test/e2e/ingress/pathtype_exact.go: Exact wins over Prefix of the same path",
			state: base().with(
				ingress("exact", rule("a.example.com", path("/foo", "Exact", "api", 80))),
				ingress("prefix", created(1), rule("a.example.com", path("/foo", "Prefix", "web", 80))),
			),
			requests: []expect{
				{request{host: "a.example.com", path: "/foo"}, "default-api-80"},
				{request{host: "a.example.com", path: "/foo/x"}, "default-web-80"},
				{request{host: "a.example.com", path: "/foox"}, "respond 404"},
			},
		},
		{
			name: "test/e2e/ingress/pathtype_mixed.go: ImplementationSpecific is treated as Prefix",
			state: base().with(
				ingress("impl", rule("a.example.com", path("/foo", "ImplementationSpecific", "web", 80), path("/bar", "", "api", 80))),
			),
			requests: []expect{
				{request{host: "a.example.com", path: "/foo/x"}, "default-web-80"},
				{request{host: "a.example.com", path: "/foobar"}, "respond 404"},
				{request{host: "a.example.com", path: "/bar"}, "default-api-80"},
			},
		},
		{
			name: "docs/user-guide/ingress-path-matching: use-regex makes every path of the host a case-insensitive regex, longest first",
			state: base().with(
				ingress("regex", ann("use-regex", "true"), rule("test.com", path("/foo/bar/bar", "Prefix", "api", 80), path("/foo/bar/[A-Z0-9]{3}", "ImplementationSpecific", "web", 80))),
				ingress("plain", created(1), rule("test.com", path("/foo/bar", "Exact", "canary", 80))),
			),
			requests: []expect{
				{request{host: "test.com", path: "/foo/bar/ABC"}, "default-web-80"},
				// The pitfall the page warns about: the longer regex comes first and, being
				// case-insensitive, takes /foo/bar/bar too.
				{request{host: "test.com", path: "/foo/bar/bar"}, "default-web-80"},
				// The Exact path of the Ingress without use-regex became "^/foo/bar".
				{request{host: "test.com", path: "/foo/barbaz"}, "default-canary-80"},
			},
		},
		{
			name: "docs/examples/rewrite: rewrite-target /$2 with capture groups",
			state: base().with(
				ingress("rewrite", ann("rewrite-target", "/$2"), rule("rewrite.bar.com", path("/something(/|$)(.*)", "ImplementationSpecific", "web", 80))),
			),
			requests: []expect{
				{request{host: "rewrite.bar.com", path: "/something/new"}, "default-web-80"},
				{request{host: "rewrite.bar.com", path: "/SomeThing"}, "default-web-80"},
				{request{host: "rewrite.bar.com", path: "/other"}, "respond 404"},
			},
		},
		{
			name: "test/e2e/annotations/rewrite.go: rewrite-target on one Ingress turns an Exact path of another Ingress of the host into a regex prefix",
			state: base().with(
				ingress("rw", ann("rewrite-target", "/"), rule("rw.com", path("/app", "Prefix", "web", 80))),
				ingress("exact", created(1), rule("rw.com", path("/exact", "Exact", "api", 80))),
			),
			requests: []expect{
				{request{host: "rw.com", path: "/exactly"}, "default-api-80"},
				{request{host: "rw.com", path: "/APPLE"}, "default-web-80"},
			},
		},
		{
			name: "test/e2e/annotations/rewrite.go: an RE2-invalid path is not served and the host keeps working",
			state: base().with(
				ingress("good", rule("rx.com", path("/ok", "Prefix", "web", 80))),
				ingress("bad", created(1), ann("use-regex", "true"), rule("rx.com", path("/(?!admin).*", "ImplementationSpecific", "api", 80))),
			),
			requests: []expect{
				{request{host: "rx.com", path: "/ok"}, "default-web-80"},
				{request{host: "rx.com", path: "/okay"}, "respond 404"},
			},
		},
		{
			name: "test/e2e/ingress/multiple_rules.go: the oldest Ingress serves a duplicate host and path",
			state: base().with(
				ingress("young", created(5), rule("dup.com", path("/", "Prefix", "api", 80))),
				ingress("old", created(1), rule("dup.com", path("/", "Prefix", "web", 80))),
			),
			requests: []expect{
				{request{host: "dup.com", path: "/"}, "default-web-80"},
			},
		},
		{
			name: "test/e2e/defaultbackend/default_backend.go: no rule matches gives the 404 page, the default server answers /healthz",
			state: base().with(
				ingress("regex-catch-all", ann("use-regex", "true"), rule("", path("/api/.*", "ImplementationSpecific", "api", 80))),
			),
			requests: []expect{
				{request{host: "1.2.3.4", path: "/api/x"}, "default-api-80"},
				// With regexes on the default server, "^/" wins over the /healthz prefix.
				{request{host: "1.2.3.4", path: "/healthz"}, "respond 404"},
			},
		},
		{
			name: "test/e2e/settings/default_backend.go: --default-backend-service serves what no rule matches",
			opts: func(o *Options) { o.DefaultBackendService = "default/canary" },
			state: base().with(
				ingress("web", rule("a.com", path("/web", "Prefix", "web", 80))),
			),
			requests: []expect{
				{request{host: "nowhere", path: "/"}, "upstream-default-backend"},
				{request{host: "a.com", path: "/other"}, "upstream-default-backend"},
			},
		},
		{
			name: "test/e2e/ingress/default_backend.go: an Ingress with only spec.defaultBackend is the catch-all",
			state: base().with(
				ingress("catch-all", defaultBackend("api", 80)),
				ingress("web", created(1), defaultBackend("canary", 80), rule("a.com", path("/web", "Prefix", "web", 80))),
			),
			requests: []expect{
				{request{host: "nowhere", path: "/x"}, "default-api-80"},
				{request{host: "a.com", path: "/x"}, "default-canary-80"},
			},
		},
		{
			name: "docs/user-guide/tls: TLS secret with SNI, ssl-redirect 308 and HSTS",
			state: base().with(
				ingress("tls", tlsFor("a-tls", "a.example.com"), rule("a.example.com", path("/", "Prefix", "web", 80)), rule("b.example.com", path("/", "Prefix", "api", 80))),
				tlsSecret("a-tls", "a.example.com"),
				ingress("plain", created(1), rule("c.example.com", path("/", "Prefix", "canary", 80))),
				ingress("acme", created(2), rule("a.example.com", path("/.well-known/acme-challenge/token", "Exact", "api", 80))),
			),
			requests: []expect{
				{request{host: "a.example.com", path: "/x?y=1"}, "redirect 308 to https"},
				{request{https: true, host: "a.example.com", path: "/x"}, "default-web-80"},
				// A rule host of an Ingress with a TLS section gets the default certificate,
				// and so the redirect, even if no TLS entry names it.
				{request{host: "b.example.com", path: "/"}, "redirect 308 to https"},
				{request{host: "c.example.com", path: "/"}, "default-canary-80"},
				{request{host: "a.example.com", path: "/.well-known/acme-challenge/token"}, "default-api-80"},
			},
		},
		{
			name: "test/e2e/settings/tls.go: a missing or mismatched secret gives the default certificate",
			state: base().with(
				ingress("missing", tlsFor("nope", "a.example.com"), rule("a.example.com", path("/", "Prefix", "web", 80))),
				ingress("mismatch", tlsFor("other-tls", "b.example.com"), rule("b.example.com", path("/", "Prefix", "web", 80))),
				tlsSecret("other-tls", "other.example.com"),
				ingress("wild", tlsFor("wild-tls", "*.w.example.com"), rule("*.w.example.com", path("/", "Prefix", "api", 80))),
				tlsSecret("wild-tls", "*.w.example.com"),
			),
			requests: []expect{
				{request{host: "a.example.com", path: "/"}, "redirect 308 to https"},
				{request{https: true, host: "x.w.example.com", path: "/"}, "default-api-80"},
				// ingress-nginx's wildcard server names match one label.
				{request{https: true, host: "x.y.w.example.com", path: "/"}, "respond 404"},
			},
		},
		{
			name: "test/e2e/annotations/forcesslredirect.go: force-ssl-redirect without TLS, ssl-redirect false with TLS",
			state: base().with(
				ingress("force", ann("force-ssl-redirect", "true"), ann("preserve-trailing-slash", "true"), rule("force.com", path("/", "Prefix", "web", 80))),
				ingress("off", ann("ssl-redirect", "false"), tlsFor("off-tls", "off.com"), rule("off.com", path("/", "Prefix", "web", 80))),
				tlsSecret("off-tls", "off.com"),
			),
			requests: []expect{
				{request{host: "force.com", path: "/"}, "redirect 308 to https"},
				{request{host: "off.com", path: "/"}, "default-web-80"},
			},
		},
		{
			name: "test/e2e/annotations/canary.go: canary-by-header always and never, cookie, then weight",
			state: base().with(
				ingress("main", rule("c.com", path("/", "Prefix", "web", 80))),
				ingress("canary", created(1), ann("canary", "true"), ann("canary-by-header", "X-Canary"), ann("canary-by-cookie", "canary"), ann("canary-weight", "20"),
					rule("c.com", path("/", "Prefix", "canary", 80))),
			),
			requests: []expect{
				{request{host: "c.com", path: "/", headers: map[string]string{"x-canary": "always"}}, "default-canary-80"},
				{request{host: "c.com", path: "/", headers: map[string]string{"X-Canary": "never"}, cookies: map[string]string{"canary": "always"}}, "default-web-80"},
				{request{host: "c.com", path: "/", headers: map[string]string{"X-Canary": "other"}, cookies: map[string]string{"canary": "always"}}, "default-canary-80"},
				{request{host: "c.com", path: "/", cookies: map[string]string{"canary": "never"}}, "default-web-80"},
				{request{host: "c.com", path: "/"}, "default-web-80*80 default-canary-80*20"},
			},
		},
		{
			name: "test/e2e/annotations/canary.go: canary-by-header-value and pattern fall through to the weight",
			state: func() *State {
				st := base()
				st.addBackend("canary2", 80, 8080, "10.244.2.31")
				return st
			}().with(
				ingress("main", rule("c.com", path("/a", "Prefix", "web", 80)), rule("d.com", path("/", "Prefix", "api", 80))),
				ingress("canary-a", created(1), ann("canary", "true"), ann("canary-by-header", "X-Canary"), ann("canary-by-header-value", "blue"), ann("canary-weight", "150"), ann("canary-weight-total", "300"),
					rule("c.com", path("/a", "Prefix", "canary", 80))),
				ingress("canary-d", created(2), ann("canary", "true"), ann("canary-by-header", "X-Canary"), ann("canary-by-header-pattern", "^(blue|green)$"),
					rule("d.com", path("/", "Prefix", "canary2", 80))),
			),
			requests: []expect{
				{request{host: "c.com", path: "/a", headers: map[string]string{"X-Canary": "blue"}}, "default-canary-80"},
				{request{host: "c.com", path: "/a", headers: map[string]string{"X-Canary": "never"}}, "default-web-80*150 default-canary-80*150"},
				{request{host: "d.com", path: "/", headers: map[string]string{"X-Canary": "green"}}, "default-canary2-80"},
				{request{host: "d.com", path: "/", headers: map[string]string{"X-Canary": "greenish"}}, "default-api-80"},
			},
		},
		{
			name: "test/e2e/annotations/canary.go: a canary without a main Ingress is ignored",
			state: base().with(
				ingress("lonely", ann("canary", "true"), ann("canary-weight", "100"), rule("lonely.com", path("/", "Prefix", "canary", 80))),
				ingress("main", created(1), rule("other.com", path("/", "Prefix", "web", 80))),
			),
			requests: []expect{
				{request{host: "lonely.com", path: "/"}, "respond 404"},
			},
		},
		{
			name: "docs/examples/affinity/cookie: sticky sessions by cookie",
			state: base().with(
				ingress("sticky", ann("affinity", "cookie"), ann("session-cookie-name", "route"), ann("session-cookie-max-age", "172800"),
					ann("affinity-mode", "persistent"), ann("session-cookie-samesite", "Strict"), rule("s.com", path("/app", "Prefix", "web", 80))),
			),
		},
		{
			name: "test/e2e/annotations/cors.go: enable-cors with origins, methods and credentials",
			state: base().with(
				ingress("cors", ann("enable-cors", "true"), ann("cors-allow-origin", "https://origin.com, https://*.origin.com, bad origin"),
					ann("cors-allow-methods", "GET, POST"), ann("cors-allow-credentials", "false"), ann("cors-max-age", "60"),
					rule("cors.com", path("/", "Prefix", "web", 80))),
				ingress("cors-default", ann("enable-cors", "true"), rule("cors2.com", path("/", "Prefix", "web", 80))),
			),
		},
		{
			name: "test/e2e/annotations/ipallowlist.go: allowlist-source-range, the whitelist alias and denylist",
			state: base().with(
				ingress("allow", ann("allowlist-source-range", "10.0.0.0/8, 192.168.1.1"), rule("allow.com", path("/", "Prefix", "web", 80))),
				ingress("alias", ann("whitelist-source-range", "172.16.0.0/12"), rule("alias.com", path("/", "Prefix", "web", 80))),
				ingress("deny", ann("denylist-source-range", "1.2.3.4/32"), rule("deny.com", path("/", "Prefix", "web", 80))),
			),
		},
		{
			name: "test/e2e/annotations/ipallowlist.go: an invalid range fails validation and the Ingress is not served",
			state: base().with(
				ingress("bad", ann("allowlist-source-range", "10.0.0.0/8,not-a-cidr"), rule("bad.com", path("/", "Prefix", "web", 80))),
				ingress("good", rule("good.com", path("/", "Prefix", "api", 80))),
			),
			requests: []expect{
				{request{host: "bad.com", path: "/"}, "respond 503"},
				{request{host: "good.com", path: "/"}, "default-api-80"},
			},
		},
		{
			name: "test/e2e/annotations/ipallowlist.go: without validation an invalid range denies the location",
			opts: func(o *Options) { o.EnableAnnotationValidation = false },
			state: base().with(
				ingress("bad", ann("allowlist-source-range", "10.0.0.0/8,not-a-cidr"), rule("bad.com", path("/", "Prefix", "web", 80))),
			),
			requests: []expect{
				{request{host: "bad.com", path: "/"}, "respond 503"},
			},
		},
		{
			name: "test/e2e/annotations/limit_rps.go: limit-rps, limit-connections and the allowlist",
			state: base().with(
				ingress("rl", ann("limit-rps", "5"), ann("limit-connections", "2"), ann("limit-burst-multiplier", "3"), ann("limit-whitelist", "10.0.0.0/8"),
					rule("rl.com", path("/", "Prefix", "web", 80))),
			),
		},
		{
			name: "test/e2e/annotations/approot.go: app-root redirects / with 302",
			state: base().with(
				ingress("approot", ann("app-root", "/foo"), rule("approot.bar.com", path("/foo", "Prefix", "web", 80))),
			),
			requests: []expect{
				// The redirect is at the server level: it does not matter that no path of the
				// Ingress matches "/".
				{request{host: "approot.bar.com", path: "/"}, "redirect 302 path=/foo drop-query"},
				{request{host: "approot.bar.com", path: "/foo"}, "default-web-80"},
			},
		},
		{
			name: "test/e2e/annotations/permanentredirect.go and temporalredirect.go",
			state: base().with(
				ingress("perm", ann("permanent-redirect", "https://www.example.com/new"), ann("permanent-redirect-code", "308"), ann("allowlist-source-range", "10.0.0.0/8"),
					rule("perm.com", path("/", "Prefix", "web", 80))),
				ingress("temp", ann("temporal-redirect", "https://www.example.com"), rule("temp.com", path("/", "Prefix", "web", 80))),
				ingress("badcode", ann("permanent-redirect", "https://www.example.com"), ann("permanent-redirect-code", "999"), rule("badcode.com", path("/", "Prefix", "web", 80))),
			),
			requests: []expect{
				{request{host: "perm.com", path: "/x"}, "redirect 308 https://www.example.com/new"},
				{request{host: "temp.com", path: "/x"}, "redirect 302 https://www.example.com"},
				{request{host: "badcode.com", path: "/x"}, "redirect 301 https://www.example.com"},
			},
		},
		{
			name: "test/e2e/annotations/proxy.go: body size, timeouts, next upstream and buffering",
			state: base().with(
				ingress("proxy", ann("proxy-body-size", "8m"), ann("proxy-connect-timeout", "10"), ann("proxy-read-timeout", "120"), ann("proxy-send-timeout", "abc"),
					ann("proxy-next-upstream", "error timeout http_502"), ann("proxy-next-upstream-tries", "5"), ann("proxy-next-upstream-timeout", "10"),
					ann("proxy-buffering", "on"), ann("proxy-request-buffering", "off"), rule("proxy.com", path("/", "Prefix", "web", 80))),
			),
		},
		{
			name: "test/e2e/annotations/backendprotocol.go: GRPC, HTTPS and an unsupported protocol",
			state: base().with(
				ingress("grpc", ann("backend-protocol", "GRPC"), rule("grpc.com", path("/", "Prefix", "web", 80))),
				ingress("https", ann("backend-protocol", "https"), rule("https.com", path("/", "Prefix", "api", 80))),
				ingress("fcgi", ann("backend-protocol", "FCGI"), rule("fcgi.com", path("/", "Prefix", "canary", 80))),
			),
		},
		{
			name: "test/e2e/annotations/serviceupstream.go: service-upstream sends to the ClusterIP",
			state: base().with(
				ingress("svc", ann("service-upstream", "true"), rule("svc.com", path("/", "Prefix", "web", 80))),
			),
		},
		{
			name: "test/e2e/annotations/default_backend.go and customhttperrors.go: default-backend serves when the Service has no endpoint and gets custom errors",
			state: func() *State {
				st := base()
				st.addBackend("empty", 80, 8080)
				st.addBackend("errors", 80, 8080, "10.244.3.40")
				return st.with(
					ingress("db", ann("default-backend", "errors"), rule("db.com", path("/", "Prefix", "empty", 80))),
					ingress("ce", ann("default-backend", "errors"), ann("custom-http-errors", "404,503"), rule("ce.com", path("/", "Prefix", "web", 80))),
					ingress("missing", ann("default-backend", "nope"), rule("missing.com", path("/", "Prefix", "nope", 80))),
				)
			}(),
			requests: []expect{
				{request{host: "db.com", path: "/"}, "custom-default-backend-default-errors"},
				{request{host: "ce.com", path: "/"}, "default-web-80"},
			},
		},
		{
			name: "test/e2e/annotations/upstreamvhost.go and xforwardedprefix.go",
			state: base().with(
				ingress("vhost", ann("upstream-vhost", "internal.svc"), ann("x-forwarded-prefix", "/ignored"), rule("vhost.com", path("/", "Prefix", "web", 80))),
				ingress("prefix", ann("rewrite-target", "/$1"), ann("x-forwarded-prefix", "/app"), rule("prefix.com", path("/app/(.*)", "ImplementationSpecific", "web", 80))),
			),
		},
		{
			name: "test/e2e/annotations/snippet.go: configuration-snippet and server-snippet header directives",
			state: base().with(
				ingress("snip", ann("configuration-snippet", "more_set_headers \"Request-Id: 1\";\nadd_header X-Frame-Options DENY always;\nproxy_set_header X-Tenant acme;\nmore_clear_headers Server;\nexpires 1h;"),
					ann("server-snippet", "more_set_headers \"X-Server: yes\";\ngzip on;"),
					rule("snip.com", path("/", "Prefix", "web", 80))),
			),
		},
		{
			name: "aks app routing: annotation-value-word-blocklist rejects a snippet with a blocked word",
			state: base().with(
				ingress("blocked", ann("configuration-snippet", "more_set_headers \"X-Root: /root\";"), rule("b.com", path("/", "Prefix", "web", 80))),
				ingress("ok", rule("ok.com", path("/", "Prefix", "api", 80))),
			),
			requests: []expect{
				{request{host: "b.com", path: "/"}, "respond 404"},
			},
		},
		{
			name: "docs/user-guide/nginx-configuration/configmap: annotations-risk-level High refuses snippets",
			state: func() *State {
				st := base()
				st.ConfigMap = map[string]string{"allow-snippet-annotations": "true"}
				return st.with(ingress("risky", ann("configuration-snippet", "more_set_headers \"A: b\";"), rule("r.com", path("/", "Prefix", "web", 80))))
			}(),
		},
		{
			name: "docs/user-guide/nginx-configuration/configmap: allow-snippet-annotations false drops snippets",
			state: func() *State {
				st := base()
				st.ConfigMap = map[string]string{"annotations-risk-level": "Critical"}
				return st.with(ingress("drop", ann("configuration-snippet", "more_set_headers \"A: b\";"), rule("d.com", path("/", "Prefix", "web", 80))))
			}(),
		},
		{
			name: "test/e2e/settings/ssl_passthrough.go: ssl-passthrough with --enable-ssl-passthrough",
			opts: func(o *Options) { o.EnableSSLPassthrough = true },
			state: base().with(
				ingress("pt", ann("ssl-passthrough", "true"), rule("pt.com", path("/", "Prefix", "web", 80))),
			),
		},
		{
			name: "test/e2e/annotations/mirror.go: mirror-target",
			state: base().with(
				ingress("mirror", ann("mirror-target", "https://test.env.com/$request_uri"), ann("mirror-request-body", "off"), rule("m.com", path("/", "Prefix", "web", 80))),
			),
		},
		{
			name: "test/e2e/loadbalance: load-balance ewma and upstream-hash-by",
			state: base().with(
				ingress("ewma", ann("load-balance", "ewma"), rule("ewma.com", path("/", "Prefix", "web", 80))),
				ingress("hash", ann("upstream-hash-by", "$request_uri"), rule("hash.com", path("/", "Prefix", "api", 80))),
			),
		},
		{
			name: "aks app routing: Key Vault certificates, annotations not emulated and unknown annotations are reported",
			state: base().with(
				ingress("kv", ann("kubernetes.azure.com/tls-cert-keyvault-uri", "https://vault.vault.azure.net/certificates/cert"), ann("auth-url", "http://auth.svc/check"),
					ann("enable-access-log", "false"), ann("client-body-buffer-size", "1m"), ann("secure-backends", "true"),
					tlsFor("keyvault-kv", "kv.com"), rule("kv.com", path("/", "Prefix", "web", 80))),
			),
		},
		{
			name: "test/e2e/servicebackend/service_externalname.go: ExternalName Services",
			state: func() *State {
				st := base()
				st.Services = append(st.Services, externalName("ext-ip", "20.1.2.3"), externalName("ext-dns", "httpbin.org"))
				return st.with(ingress("ext", rule("ip.com", path("/", "Prefix", "ext-ip", 80)), rule("dns.com", path("/", "Prefix", "ext-dns", 80))))
			}(),
		},
		{
			name: "test/e2e/annotations: invalid values replaced by their defaults as ingress-nginx does",
			state: base().with(
				ingress("defaults", ann("ssl-redirect", "maybe"), ann("canary-weight", "10"), ann("rewrite-target", "/a b"), ann("enable-cors", "yes"),
					ann("proxy-body-size", "1 TB"), ann("affinity", "cookie"), ann("session-cookie-max-age", "soon"),
					tlsFor("", "d.com"), rule("d.com", path("/", "Prefix", "web", 80))),
				ingress("rejected", ann("custom-http-errors", "abc"), rule("r.com", path("/", "Prefix", "web", 80))),
				ingress("missing-svc", rule("m.com", path("/", "Prefix", "nope", 80))),
			),
			requests: []expect{
				{request{host: "m.com", path: "/"}, "default-nope-80"},
			},
		},
		{
			name: "docs/user-guide/nginx-configuration/configmap: forwarded headers, HSTS, redirect code, server tokens, TLS versions and source ranges",
			state: func() *State {
				st := base()
				st.ConfigMap = map[string]string{
					"use-forwarded-headers": "true", "compute-full-forwarded-for": "true", "proxy-real-ip-cidr": "10.0.0.0/8",
					"hsts-max-age": "600", "hsts-include-subdomains": "false", "hsts-preload": "true", "http-redirect-code": "301",
					"server-tokens": "true", "ssl-protocols": "TLSv1.3", "block-cidrs": "6.6.6.6", "whitelist-source-range": "10.0.0.0/8",
					"proxy-body-size": "0", "use-gzip": "true", "load-balance": "ewma", "generate-request-id": "false", "unknown-key": "x",
				}
				return st.with(
					ingress("cm", tlsFor("cm-tls", "cm.com"), rule("cm.com", path("/", "Prefix", "web", 80))), tlsSecret("cm-tls", "cm.com"),
					ingress("own", ann("denylist-source-range", "7.7.7.7"), rule("own.com", path("/", "Prefix", "api", 80))),
				)
			}(),
		},
		{
			name: "docs/user-guide/multiple-ingress: Ingresses of other classes are not served",
			state: base().with(
				ingress("other", className(never), rule("o.com", path("/", "Prefix", "web", 80))),
				ingress("mine", rule("m.com", path("/", "Prefix", "web", 80))),
			),
			requests: []expect{
				{request{host: "o.com", path: "/"}, "respond 404"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			res := Translate(opts, tc.state)
			golden(t, tc.name, render(res))
			for _, e := range tc.requests {
				got := outcome(selectRoute(t, res.Config, e.rq), e.rq.https)
				if got != e.want {
					t.Errorf("%s %s%s (headers %v, cookies %v): got %q, want %q", map[bool]string{false: "http", true: "https"}[e.rq.https], e.rq.host, e.rq.path, e.rq.headers, e.rq.cookies, got, e.want)
				}
			}
			// The same input gives the same output.
			if again := render(Translate(opts, tc.state)); again != render(res) {
				t.Errorf("a second translation differs")
			}
		})
	}
}
