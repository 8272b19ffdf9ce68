package translate

// EnvoyErrorPage is the body of a response the proxy makes itself, as Envoy's local replies
// in an Istio gateway: "no healthy upstream" for a backend without endpoints, Envoy's texts
// for a connection failure and a timeout, and an empty body otherwise (404 for no route,
// 500 for an invalid backend, redirects).
func EnvoyErrorPage(code int) (contentType string, body []byte) {
	var text string
	switch code {
	case 502:
		text = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	case 503:
		text = "no healthy upstream"
	case 504:
		text = "upstream request timeout"
	default:
		return "", nil
	}
	return "text/plain", []byte(text)
}
