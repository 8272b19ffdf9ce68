package ingressnginx

import (
	"testing"
	"time"

	"github.com/minaks/minaks/images/internal/l7"
)

func TestAccessLog(t *testing.T) {
	e := &l7.Entry{
		Time: time.Date(2026, 12, 4, 15, 4, 5, 0, time.UTC), RemoteAddr: "10.224.0.9", Method: "GET", URI: "/a?b=1", Proto: "HTTP/1.1",
		Status: 200, BodyBytesSent: 12, UserAgent: `curl "quoted"`, RequestTime: 1500 * time.Millisecond,
		UpstreamName: "default-web-80", RequestID: "abc", Host: "web.example.test",
		Upstreams: []l7.UpstreamAttempt{{Addr: "10.244.0.5:80", Status: 502}, {Addr: "10.244.1.5:80", Status: 200}},
		Route:     l7.RouteMeta{Kind: "Ingress", Namespace: "default", Name: "web", Service: "web", ServicePort: "80"},
	}
	for _, tc := range []struct {
		name string
		data map[string]string
		want string
	}{
		{"default: upstreaminfo", nil, e.UpstreamInfo()},
		{"log-format-upstream with nginx's escaping", map[string]string{
			"log-format-upstream": `$remote_addr "$http_user_agent" $status ${request_time}s [$proxy_upstream_name] $upstream_addr $upstream_status $namespace/$ingress_name $unknown $$`},
			`10.224.0.9 "curl \x22quoted\x22" 200 1.500s [default-web-80] 10.244.0.5:80, 10.244.1.5:80 502, 200 default/web - $$`},
		{"log-format-escape-json", map[string]string{
			"log-format-upstream": `{"agent": "$http_user_agent", "uri": "$request_uri"}`, "log-format-escape-json": "true"},
			`{"agent": "curl \"quoted\"", "uri": "/a?b=1"}`},
		{"disable-access-log", map[string]string{"disable-access-log": "true"}, ""},
		{"skip-access-log-urls", map[string]string{"skip-access-log-urls": "/x, /a"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := accessLogFrom(tc.data).line(e); got != tc.want {
				t.Errorf("line:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
