package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"k8s.io/client-go/util/keyutil"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore is how close to expiry a certificate is issued again at start.
	renewBefore = 30 * 24 * time.Hour
)

// Names of the files in the PKI directory (without .crt/.key).
const (
	CA                     = "ca"
	FrontProxyCA           = "front-proxy-ca"
	APIServer              = "apiserver"
	APIServerKubeletClient = "apiserver-kubelet-client"
	FrontProxyClient       = "front-proxy-client"
	Admin                  = "admin"
	ControllerManager      = "controller-manager"
	Scheduler              = "scheduler"
	ServiceAccount         = "sa" // sa.key and sa.pub
)

// Leaf describes a certificate signed by one of the CAs.
type Leaf struct {
	Name         string
	CA           string
	CommonName   string
	Organization []string
	Server       bool
	DNSNames     []string
	IPs          []net.IP
}

// ServingNames are the names and addresses the API server's certificate must carry.
type ServingNames struct {
	DNSNames []string
	IPs      []net.IP
}

// Leaves returns the certificates of a cluster whose API server answers to names.
func Leaves(names ServingNames) []Leaf {
	return []Leaf{
		{Name: APIServer, CA: CA, CommonName: "kube-apiserver", Server: true, DNSNames: names.DNSNames, IPs: names.IPs},
		{Name: APIServerKubeletClient, CA: CA, CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		{Name: FrontProxyClient, CA: FrontProxyCA, CommonName: "front-proxy-client"},
		{Name: Admin, CA: CA, CommonName: "kubernetes-admin", Organization: []string{"system:masters"}},
		{Name: ControllerManager, CA: CA, CommonName: "system:kube-controller-manager"},
		{Name: Scheduler, CA: CA, CommonName: "system:kube-scheduler"},
	}
}

// Dir is a PKI directory.
type Dir string

// CertPath and KeyPath name the files of a certificate.
func (d Dir) CertPath(name string) string { return filepath.Join(string(d), name+".crt") }
func (d Dir) KeyPath(name string) string  { return filepath.Join(string(d), name+".key") }

// SAPublicKeyPath is the service-account verification key.
func (d Dir) SAPublicKeyPath() string { return filepath.Join(string(d), ServiceAccount+".pub") }

// Ensure creates the CAs, the service-account key and the leaves that are missing or need to be
// issued again, and leaves every valid file as it is. It reports which files it (re)wrote.
func (d Dir) Ensure(leaves []Leaf, now time.Time) (written []string, err error) {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(string(d), 0o700); err != nil {
		return nil, err
	}
	cas := map[string]*keyPair{}
	for _, name := range []string{CA, FrontProxyCA} {
		kp, err := d.load(name)
		if err != nil || !kp.cert.IsCA || kp.cert.NotAfter.Before(now.Add(renewBefore)) {
			if kp, err = newCA(name, now); err != nil {
				return nil, err
			}
			if err := d.write(name, kp); err != nil {
				return nil, err
			}
			written = append(written, name)
		}
		cas[name] = kp
	}
	if _, err := os.Stat(d.KeyPath(ServiceAccount)); err != nil {
		if err := d.writeSAKey(); err != nil {
			return nil, err
		}
		written = append(written, ServiceAccount)
	}
	for _, l := range leaves {
		ca := cas[l.CA]
		if kp, err := d.load(l.Name); err == nil && l.valid(kp.cert, ca.cert, now) {
			continue
		}
		kp, err := newLeaf(l, ca, now)
		if err != nil {
			return nil, fmt.Errorf("issue %s certificate: %w", l.Name, err)
		}
		if err := d.write(l.Name, kp); err != nil {
			return nil, err
		}
		written = append(written, l.Name)
	}
	return written, nil
}

type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (l Leaf) valid(cert, ca *x509.Certificate, now time.Time) bool {
	if cert.CheckSignatureFrom(ca) != nil || cert.NotAfter.Before(now.Add(renewBefore)) ||
		cert.Subject.CommonName != l.CommonName || !slices.Equal(cert.Subject.Organization, l.Organization) {
		return false
	}
	for _, n := range l.DNSNames {
		if !slices.Contains(cert.DNSNames, n) {
			return false
		}
	}
	for _, ip := range l.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newCA(name string, now time.Time) (*keyPair, error) {
	cn := "kubernetes"
	if name == FrontProxyCA {
		cn = "front-proxy-ca"
	}
	return issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"minaks"}},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(caValidity).UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil)
}

func newLeaf(l Leaf, ca *keyPair, now time.Time) (*keyPair, error) {
	usage := x509.ExtKeyUsageClientAuth
	if l.Server {
		usage = x509.ExtKeyUsageServerAuth
	}
	return issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: l.CommonName, Organization: l.Organization},
		NotBefore:   now.Add(-time.Hour).UTC(),
		NotAfter:    now.Add(leafValidity).UTC(),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames:    l.DNSNames,
		IPAddresses: l.IPs,
	}, ca)
}

// issue makes a new key and a certificate for it from tmpl, signed by parent or, when parent is
// nil, by itself.
func issue(tmpl *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	parentCert, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		parentCert, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return &keyPair{cert: cert, key: key}, err
}

func (d Dir) load(name string) (*keyPair, error) {
	certPEM, err := os.ReadFile(d.CertPath(name))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no certificate", d.CertPath(name))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	k, err := keyutil.PrivateKeyFromFile(d.KeyPath(name))
	if err != nil {
		return nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", d.KeyPath(name))
	}
	pub, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return nil, err
	}
	if certPub, err := x509.MarshalPKIXPublicKey(cert.PublicKey); err != nil || !bytes.Equal(pub, certPub) {
		return nil, fmt.Errorf("%s: key does not match certificate", d.KeyPath(name))
	}
	return &keyPair{cert: cert, key: signer}, nil
}

// encode returns the certificate and key in PEM.
func (kp *keyPair) encode() (certPEM, keyPEM []byte, err error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(kp.key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func (d Dir) write(name string, kp *keyPair) error {
	certPEM, keyPEM, err := kp.encode()
	if err != nil {
		return err
	}
	if err := writeFile(d.KeyPath(name), keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(d.CertPath(name), certPEM, 0o644)
}

func (d Dir) writeSAKey() error {
	key, err := newKey()
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	return errors.Join(
		writeFile(d.KeyPath(ServiceAccount), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600),
		writeFile(d.SAPublicKeyPath(), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644),
	)
}

// writeFile replaces a file atomically with the given mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Issuer issues client certificates signed by the cluster CA without writing them anywhere:
// the node agents' identities (system:node:<name> in system:nodes), made anew at every start.
type Issuer struct{ ca *keyPair }

// Issuer loads the cluster CA once for issuing many client certificates.
func (d Dir) Issuer() (*Issuer, error) {
	ca, err := d.load(CA)
	if err != nil {
		return nil, err
	}
	return &Issuer{ca: ca}, nil
}

// Serving issues a serving certificate for commonName with the given names and addresses (a
// node's kubelet API), with the CA's certificate.
func (i *Issuer) Serving(commonName string, dnsNames []string, ips []net.IP, now time.Time) (certPEM, keyPEM, caPEM []byte, err error) {
	kp, err := newLeaf(Leaf{CommonName: commonName, DNSNames: dnsNames, IPs: ips, Server: true}, i.ca, now)
	if err != nil {
		return nil, nil, nil, err
	}
	if certPEM, keyPEM, err = kp.encode(); err != nil {
		return nil, nil, nil, err
	}
	caPEM, _, err = i.ca.encode()
	return certPEM, keyPEM, caPEM, err
}

// Client issues a client certificate for commonName in groups.
func (i *Issuer) Client(commonName string, groups []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	kp, err := newLeaf(Leaf{CommonName: commonName, Organization: groups}, i.ca, now)
	if err != nil {
		return nil, nil, err
	}
	return kp.encode()
}
