package l7

import "strconv"

// nginxPageTitles are the titles of the pages nginx sends for the responses it makes itself,
// from ngx_http_special_response.c. Codes 494 to 497 are nginx's own names for kinds of
// "400 Bad Request"; they have a second line under the heading.
var nginxPageTitles = map[int]string{
	301: "301 Moved Permanently",
	302: "302 Found",
	303: "303 See Other",
	307: "307 Temporary Redirect",
	308: "308 Permanent Redirect",
	400: "400 Bad Request",
	401: "401 Authorization Required",
	402: "402 Payment Required",
	403: "403 Forbidden",
	404: "404 Not Found",
	405: "405 Not Allowed",
	406: "406 Not Acceptable",
	408: "408 Request Time-out",
	409: "409 Conflict",
	410: "410 Gone",
	411: "411 Length Required",
	412: "412 Precondition Failed",
	413: "413 Request Entity Too Large",
	414: "414 Request-URI Too Large",
	415: "415 Unsupported Media Type",
	416: "416 Requested Range Not Satisfiable",
	421: "421 Misdirected Request",
	429: "429 Too Many Requests",
	494: "400 Request Header Or Cookie Too Large",
	495: "400 The SSL certificate error",
	496: "400 No required SSL certificate was sent",
	497: "400 The plain HTTP request was sent to HTTPS port",
	500: "500 Internal Server Error",
	501: "501 Not Implemented",
	502: "502 Bad Gateway",
	503: "503 Service Temporarily Unavailable",
	504: "504 Gateway Time-out",
	505: "505 HTTP Version Not Supported",
	507: "507 Insufficient Storage",
}

// nginxPageTail ends every page; it is the one nginx sends with "server_tokens off", as
// ingress-nginx configures it.
const nginxPageTail = "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

// nginxPages holds the rendered pages, built once.
var nginxPages = func() map[int][]byte {
	pages := make(map[int][]byte, len(nginxPageTitles)+1)
	for code, title := range nginxPageTitles {
		heading := title
		extra := ""
		if code >= 494 && code <= 497 {
			heading = "400 Bad Request"
			extra = "<center>" + title[len("400 "):] + "</center>\r\n"
		}
		pages[code] = []byte("<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n" +
			"<center><h1>" + heading + "</h1></center>\r\n" + extra + nginxPageTail)
	}
	// nginx answers its internal 498 ("canceled") with the 404 page.
	pages[498] = pages[404]
	return pages
}()

// NginxErrorPage returns the page nginx itself sends with a response of this status, byte for
// byte ("<html>\r\n<head><title>404 Not Found</title></head>…"), and its content type; codes
// for which nginx sends no page (1xx, 2xx, 304, 499 …) return "" and nil. It fits
// Config.ErrorPage. The returned slice must not be modified.
func NginxErrorPage(code int) (contentType string, body []byte) {
	page, ok := nginxPages[code]
	if !ok {
		return "", nil
	}
	return "text/html", page
}

// statusLine renders a status for logs ("502"), without allocating for common codes.
func statusLine(code int) string {
	switch code {
	case 200:
		return "200"
	case 404:
		return "404"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return strconv.Itoa(code)
}
