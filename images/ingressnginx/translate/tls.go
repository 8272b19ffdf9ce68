package translate

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// certCache keeps parsed key pairs by the hash of their PEM, so that re-translating does not
// parse every certificate again; it only speeds things up and never changes a result.
var certCache = struct {
	sync.Mutex
	m map[[32]byte]certEntry
}{m: map[[32]byte]certEntry{}}

type certEntry struct {
	cert *tls.Certificate
	err  error
}

// maxCachedCerts bounds the cache; it is emptied when full.
const maxCachedCerts = 4096

// parseKeyPair parses a PEM certificate and key, with the leaf.
func parseKeyPair(crt, key []byte) (*tls.Certificate, error) {
	h := sha256.New()
	h.Write(crt)
	h.Write([]byte{0})
	h.Write(key)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	certCache.Lock()
	defer certCache.Unlock()
	if e, ok := certCache.m[sum]; ok {
		return e.cert, e.err
	}
	pair, err := tls.X509KeyPair(crt, key)
	var cert *tls.Certificate
	if err == nil {
		if pair.Leaf == nil {
			pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0])
		}
		cert = &pair
	}
	if err != nil {
		cert, err = nil, fmt.Errorf("unexpected error creating SSL Cert: %w", err)
	}
	if len(certCache.m) >= maxCachedCerts {
		certCache.m = map[[32]byte]certEntry{}
	}
	certCache.m[sum] = certEntry{cert, err}
	return cert, err
}

// localCert is the certificate of a TLS Secret ("namespace/name"): tls.crt and tls.key, as
// ingress-nginx's store reads them whatever the Secret's type.
func (b *builder) localCert(key string) (*tls.Certificate, error) {
	s := b.secrets[key]
	if s == nil {
		return nil, fmt.Errorf("secret %s does not exist", key)
	}
	crt, ok := s.Data[corev1.TLSCertKey]
	if !ok {
		return nil, fmt.Errorf("secret %s has no '%s'", key, corev1.TLSCertKey)
	}
	k, ok := s.Data[corev1.TLSPrivateKeyKey]
	if !ok {
		return nil, fmt.Errorf("secret %s has no '%s'", key, corev1.TLSPrivateKeyKey)
	}
	return parseKeyPair(crt, k)
}

// defaultCertificate is --default-ssl-certificate when it can be loaded, else the fake one.
func (b *builder) defaultCertificate() (*tls.Certificate, string) {
	if key := b.opts.DefaultSSLCertificate; key != "" {
		cert, err := b.localCert(key)
		if err == nil {
			return cert, "default " + key
		}
		b.m.warnings = append(b.m.warnings, fmt.Sprintf("Error loading custom default certificate, falling back to generated default: %v", err))
	}
	return b.opts.FakeCertificate, "default fake"
}

// serverCertificate is the certificate an Ingress with a TLS section gives a host: the secret
// of the TLS entry listing the host, else of the first entry whose certificate is valid for
// it, else the default certificate (which still makes the host "have TLS" for ssl-redirect).
// A certificate that is not valid for the host is replaced by the default one.
func (b *builder) serverCertificate(info *ingressInfo, host string) (*tls.Certificate, string) {
	def, defName := b.defaultCertificate()
	name, listed := b.tlsSecretName(host, info)
	if name == "" {
		if listed {
			b.warn(info, ReasonTLS, fmt.Sprintf("Host %q is listed in the TLS section but secretName is empty. Using default certificate", host))
		}
		return def, defName
	}
	key := info.ing.Namespace + "/" + name
	cert, err := b.localCert(key)
	if err != nil {
		b.warn(info, ReasonTLS, fmt.Sprintf("Error getting SSL certificate %q: %v. Using default certificate", key, err))
		return def, defName
	}
	if err := verifyHostname(host, cert.Leaf); err != nil {
		b.warn(info, ReasonTLS, fmt.Sprintf("SSL certificate %q does not contain a Common Name or Subject Alternative Name for server %q: %v. Using default certificate", key, host, err))
		return def, defName
	}
	return cert, key
}

// tlsSecretName is ingress-nginx's extractTLSSecretName; listed tells whether a TLS entry
// names the host.
func (b *builder) tlsSecretName(host string, info *ingressInfo) (name string, listed bool) {
	lower := strings.ToLower(host)
	for _, t := range info.spec.TLS {
		for _, h := range t.Hosts {
			if strings.ToLower(h) == lower {
				return t.SecretName, true
			}
		}
	}
	for _, t := range info.spec.TLS {
		if t.SecretName == "" {
			continue
		}
		cert, err := b.localCert(info.ing.Namespace + "/" + t.SecretName)
		if err != nil || cert.Leaf == nil {
			continue
		}
		if cert.Leaf.VerifyHostname(host) == nil {
			return t.SecretName, false
		}
	}
	return "", false
}

// verifyHostname checks a certificate for a host as ingress-nginx does: Go's check, then the
// legacy one that also reads the Common Name and lets a wildcard label match any label (so
// "*.example.com" matches the host "*.example.com").
func verifyHostname(host string, leaf *x509.Certificate) error {
	if leaf == nil {
		return fmt.Errorf("no certificate")
	}
	if leaf.VerifyHostname(host) == nil {
		return nil
	}
	names := leaf.DNSNames
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = []string{leaf.Subject.CommonName}
	}
	for _, n := range names {
		if matchHostname(n, host) {
			return nil
		}
	}
	return fmt.Errorf("x509: certificate is valid for %s, not %s", strings.Join(names, ", "), host)
}

func matchHostname(pattern, host string) bool {
	pattern = strings.TrimSuffix(strings.ToLower(pattern), ".")
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	pp, hp := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pp) != len(hp) || pattern == "" {
		return false
	}
	for i := range pp {
		if i == 0 && pp[i] == "*" {
			continue
		}
		if pp[i] != hp[i] {
			return false
		}
	}
	return true
}
