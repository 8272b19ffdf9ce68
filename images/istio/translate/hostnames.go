package translate

import "strings"

// Hostnames are compared lowercase without a final dot. "" stands for a listener (or route)
// without hostname, which matches every host; "*.example.com" matches every name ending in
// ".example.com" (one or more labels before it), never "example.com" itself.

// canonicalHostname lowercases a hostname and drops a final dot.
func canonicalHostname(h string) string {
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func isWildcard(h string) bool { return strings.HasPrefix(h, "*.") }

// covers reports whether every host that b matches is matched by a.
func covers(a, b string) bool {
	switch {
	case a == "":
		return true
	case b == "":
		return false
	case !isWildcard(a):
		return a == b
	case isWildcard(b):
		// "*.example.com" covers "*.example.com" and "*.foo.example.com".
		return strings.HasSuffix(b[1:], a[1:])
	default:
		return len(b) > len(a)-1 && strings.HasSuffix(b, a[1:])
	}
}

// intersect is the set of hosts both hostnames match, itself a hostname: the more specific of
// the two when one covers the other.
func intersect(a, b string) (string, bool) {
	switch {
	case covers(a, b):
		return b, true
	case covers(b, a):
		return a, true
	}
	return "", false
}

// hostnameMatch is a route's hostname as it applies on a listener: the intersection of the
// two (Effective, "" when neither has one), and the route's own hostname that gave it (Route,
// "" when the route has none), whose length decides precedence between routes.
type hostnameMatch struct {
	Effective string
	Route     string
}

// routeHostnames intersects a listener's hostname with a route's hostnames; no result means
// the route does not attach to the listener. A route without hostnames takes the listener's.
func routeHostnames(listener string, route []string) []hostnameMatch {
	if len(route) == 0 {
		return []hostnameMatch{{Effective: listener}}
	}
	var out []hostnameMatch
	for _, h := range route {
		if e, ok := intersect(listener, h); ok {
			out = append(out, hostnameMatch{Effective: e, Route: h})
		}
	}
	return out
}

// moreSpecific orders hostnames as a request's host selects among them: an exact name first,
// then wildcards by the length of their suffix, then "". It returns a negative number when a
// is more specific than b.
func moreSpecific(a, b string) int {
	rank := func(h string) (int, int) {
		switch {
		case h == "":
			return 0, 0
		case isWildcard(h):
			return 1, len(h)
		}
		return 2, len(h)
	}
	ka, la := rank(a)
	kb, lb := rank(b)
	if ka != kb {
		return kb - ka
	}
	if la != lb {
		return lb - la
	}
	return strings.Compare(a, b)
}
