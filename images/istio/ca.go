package istio

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The self-signed CA istiod keeps, as Istio's does, in the Secret istio-ca-secret of its
// namespace; every replica signs its own serving certificate with it, and its root is what
// gateway pods mount from the ConfigMap istio-ca-root-cert to trust istiod on port 15012.
const (
	caSecretName = "istio-ca-secret"
	caCertKey    = "ca-cert.pem"
	caKeyKey     = "ca-key.pem"
	rootCertKey  = "root-cert.pem"
	certChainKey = "cert-chain.pem"
)

type ca struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// loadOrCreateCA reads istio-ca-secret in ns, making it when it is missing; two replicas that
// race both read the one that was created first.
func loadOrCreateCA(ctx context.Context, client kubernetes.Interface, ns string) (*ca, error) {
	secrets := client.CoreV1().Secrets(ns)
	for try := 0; try < 3; try++ {
		s, err := secrets.Get(ctx, caSecretName, metav1.GetOptions{})
		if err == nil {
			return parseCA(s.Data[caCertKey], s.Data[caKeyKey])
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("read the CA secret %s/%s: %w", ns, caSecretName, err)
		}
		certPEM, keyPEM, err := newCA()
		if err != nil {
			return nil, err
		}
		_, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: caSecretName, Namespace: ns},
			Type:       "istio.io/ca-root",
			Data: map[string][]byte{caCertKey: certPEM, caKeyKey: keyPEM, rootCertKey: certPEM,
				certChainKey: {}},
		}, metav1.CreateOptions{})
		if err == nil {
			return parseCA(certPEM, keyPEM)
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create the CA secret %s/%s: %w", ns, caSecretName, err)
		}
	}
	return nil, errors.New("the CA secret keeps changing under us")
}

// newCA makes a self-signed CA certificate ("O=cluster.local", as Istio's) valid ten years.
func newCA() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{clusterDomain}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

func parseCA(certPEM, keyPEM []byte) (*ca, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("the CA secret has no PEM certificate or key")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the CA certificate: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the CA key: %w", err)
	}
	return &ca{cert: cert, key: key, certPEM: certPEM}, nil
}

// servingCertificate is a certificate for istiod's DNS names, signed by the CA.
func (c *ca) servingCertificate(dnsNames []string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		DNSNames:     dnsNames,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: key}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
