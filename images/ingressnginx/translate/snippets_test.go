package translate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/minaks/minaks/images/internal/l7"
)

// TestParseSnippet checks which snippet directives become header changes.
func TestParseSnippet(t *testing.T) {
	cases := []struct {
		name        string
		text        string
		request     l7.HeaderModifier
		response    l7.HeaderModifier
		unsupported []string
	}{
		{name: "more_set_headers with several headers", text: `more_set_headers "X-A: 1" 'X-B: two words';`,
			response: l7.HeaderModifier{Set: map[string]string{"X-A": "1", "X-B": "two words"}}},
		{name: "more_set_headers with an empty value clears", text: `more_set_headers "X-A:";`, response: l7.HeaderModifier{Remove: []string{"X-A"}}},
		{name: "add_header with always", text: "add_header Cache-Control no-store always;", response: l7.HeaderModifier{Add: map[string]string{"Cache-Control": "no-store"}}},
		{name: "proxy_set_header literal", text: "proxy_set_header X-Tenant acme;", request: l7.HeaderModifier{Set: map[string]string{"X-Tenant": "acme"}}},
		{name: "proxy_set_header with a variable is not emulated", text: "proxy_set_header X-Real $remote_addr;", unsupported: []string{"proxy_set_header X-Real $remote_addr"}},
		{name: "status filters are not emulated", text: `more_set_headers -s 404 "X-A: 1";`, unsupported: []string{"more_set_headers -s 404 X-A: 1"}},
		{name: "input headers", text: "more_set_input_headers 'X-In: 1';\nmore_clear_input_headers Cookie;",
			request: l7.HeaderModifier{Set: map[string]string{"X-In": "1"}, Remove: []string{"Cookie"}}},
		{name: "comments, blocks and other directives", text: "# a comment\nif ($x) { return 403; }\nmore_clear_headers Server; proxy_hide_header X-Powered-By;",
			response: l7.HeaderModifier{Remove: []string{"Server", "X-Powered-By"}}, unsupported: []string{"if ($x) { return 403; }"}},
		{name: "a quoted semicolon does not end a directive", text: `add_header Content-Security-Policy "default-src 'self'; img-src *";`,
			response: l7.HeaderModifier{Add: map[string]string{"Content-Security-Policy": "default-src 'self'; img-src *"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := parseSnippet(tc.text)
			opts := cmpopts.EquateEmpty()
			if diff := cmp.Diff(tc.request, s.request, opts); diff != "" {
				t.Errorf("request headers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.response, s.response, opts); diff != "" {
				t.Errorf("response headers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.unsupported, s.unsupported, opts); diff != "" {
				t.Errorf("unsupported (-want +got):\n%s", diff)
			}
		})
	}
}
