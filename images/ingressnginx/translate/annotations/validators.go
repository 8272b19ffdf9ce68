package annotations

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// validator checks an annotation's raw value, as ingress-nginx's AnnotationValidator does.
type validator func(string) error

// The character classes of ingress-nginx's parser/validators.go. They decide which values pass
// --enable-annotation-validation, so they are reproduced exactly.
var (
	alphaNumericChars = `\-\.\_\~a-zA-Z0-9\/:`
	regexEnabledChars = regexp.QuoteMeta(`^$[](){}*+?|&=\`)
	urlEnabledChars   = regexp.QuoteMeta(`:?&=`)

	// isValidRegex: characters of a path that may be a regex.
	isValidRegex = regexp.MustCompile("^[/" + alphaNumericChars + regexEnabledChars + "]*$")
	// sizeRegex: nginx sizes such as 1000, 100k, 1m.
	sizeRegex = regexp.MustCompile(`^(?i)\d+[bkmg]?$`)
	// urlIsValidRegex: a URL with a query string but no nginx variable.
	urlIsValidRegex = regexp.MustCompile("^[" + alphaNumericChars + urlEnabledChars + "]*$")
	// basicCharsRegex: host:port/path compositions and namespace/name references.
	basicCharsRegex = regexp.MustCompile("^[/" + alphaNumericChars + "]*$")
	// charsWithSpace: basic characters and spaces.
	charsWithSpace = regexp.MustCompile("^[/" + alphaNumericChars + " ]*$")
	// nginxVariable: a value made of nginx variables ("$request_uri", "${host}").
	nginxVariable = regexp.MustCompile(`^[A-Za-z0-9\-\_\$\{\}]*$`)
	// regexPathWithCapture: a path that may hold capture references ("/app/$2").
	regexPathWithCapture = regexp.MustCompile(`^/?[` + alphaNumericChars + `\/\$]*$`)
	// headersVariable: comma-separated header names.
	headersVariable = regexp.MustCompile(`^[A-Za-z0-9-_, ]*$`)
	// urlWithNginxVariable: a URL that may contain nginx variables.
	urlWithNginxVariable = regexp.MustCompile("^[" + alphaNumericChars + urlEnabledChars + "$]*$")

	// The CORS regexes of ingress-nginx's cors parser.
	corsOriginValidator = regexp.MustCompile(`^((((([a-z]+://)?(\*\.)?[A-Za-z0-9\-.]*(:\d+)?,?)|null)+)|\*)?$`)
	corsOrigin          = regexp.MustCompile(`^([a-z]+://(\*\.)?[A-Za-z0-9\-.]*(:\d+)?|\*|null)?$`)
	corsMethods         = regexp.MustCompile(`^([A-Za-z]+,?\s?)+$`)
	corsExposeHeaders   = regexp.MustCompile(`^(([A-Za-z0-9\-\_]+|\*),?\s?)+$`)

	// proxyNextUpstream: the conditions nginx's proxy_next_upstream accepts.
	proxyNextUpstream = regexp.MustCompile(`^((error|timeout|invalid_header|http_500|http_502|http_503|http_504|http_403|http_404|http_429|non_idempotent|off)\s?)+$`)
	// affinityCookieExpires: session-cookie-expires and -max-age (a number of seconds).
	affinityCookieExpires = regexp.MustCompile(`(^0|-?[1-9]\d*$)`)
	// httpCodes: custom-http-errors, a comma-separated list of status codes.
	httpCodes = regexp.MustCompile(`^(\d{3},?)+$`)
	// backendProtocols: the values of backend-protocol (case-insensitive).
	backendProtocols = regexp.MustCompile(`^(?i)(AUTO_HTTP|HTTP|HTTPS|GRPC|GRPCS|FCGI)$`)
	// sslCiphers: an OpenSSL cipher list.
	sslCiphers = regexp.MustCompile(`^[A-Za-z0-9\+:\_\-!]*$`)
)

// validateRegex checks the value against re, after removing its spaces if removeSpace.
func validateRegex(re *regexp.Regexp, removeSpace bool) validator {
	return func(s string) error {
		if removeSpace {
			s = strings.ReplaceAll(s, " ", "")
		}
		if !re.MatchString(s) {
			return fmt.Errorf("value %s is invalid", s)
		}
		return nil
	}
}

// validateOptions accepts one of options (lower-cased first unless caseSensitive).
func validateOptions(options []string, caseSensitive, trimSpace bool) validator {
	return func(s string) error {
		if trimSpace {
			s = strings.TrimSpace(s)
		}
		if !caseSensitive {
			s = strings.ToLower(s)
		}
		for _, o := range options {
			if s == o {
				return nil
			}
		}
		return fmt.Errorf("value does not match any valid option")
	}
}

func validateBool(s string) error {
	_, err := strconv.ParseBool(s)
	return err
}

func validateInt(s string) error {
	_, err := strconv.Atoi(s)
	return err
}

func validateCIDRs(s string) error {
	_, err := ParseCIDRs(s)
	return err
}

// validateNull accepts anything: ingress-nginx uses it for snippets, whose risk the
// administrator accepts with annotations-risk-level and the word blocklist.
func validateNull(string) error { return nil }

// validateServerNames checks a comma-separated list of nginx server names.
func validateServerNames(s string) error {
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !isValidRegex.MatchString(name) {
			return fmt.Errorf("value %s is invalid server name", name)
		}
	}
	return nil
}

// validateServiceName checks a Service name (a DNS-1035 label).
func validateServiceName(s string) error {
	if errs := validation.IsDNS1035Label(s); len(errs) != 0 {
		return fmt.Errorf("annotation does not contain a valid service name: %+v", errs)
	}
	return nil
}

// ParseCIDRs reads a comma-separated list of addresses and CIDRs as ingress-nginx's
// net.ParseCIDRs does: entries are trimmed, a bare address stands for itself, the first
// invalid entry (an empty one included) is an error, and the result is sorted and without
// duplicates. An empty string is an empty list.
func ParseCIDRs(s string) ([]string, error) {
	if s == "" {
		return []string{}, nil
	}
	set := map[string]bool{}
	for _, spec := range strings.Split(s, ",") {
		spec = strings.TrimSpace(spec)
		_, ipnet, err := net.ParseCIDR(spec)
		if err != nil {
			ip := net.ParseIP(spec)
			if ip == nil {
				return nil, err
			}
			set[ip.String()] = true
			continue
		}
		set[ipnet.String()] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// ParseSize reads an nginx size ("1m", "512k", "0", "1g") into bytes.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if !sizeRegex.MatchString(s) {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	case 'b', 'B':
	default:
		s += " "
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	return n * mult, nil
}
