package pki

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

func testLeaves(ips ...net.IP) []Leaf {
	return Leaves(ServingNames{DNSNames: []string{"localhost", "kubernetes.default.svc"}, IPs: ips})
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnsureCreatesEverything(t *testing.T) {
	d := Dir(t.TempDir() + "/pki")
	now := time.Now()
	written, err := d.Ensure(testLeaves(net.IPv4(127, 0, 0, 1)), now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{CA, FrontProxyCA, ServiceAccount, APIServer, APIServerKubeletClient, FrontProxyClient, Admin, ControllerManager, Scheduler}
	if !slices.Equal(written, want) {
		t.Errorf("written = %v, want %v", written, want)
	}
	st, _ := os.Stat(string(d))
	if st.Mode().Perm() != 0o700 {
		t.Errorf("pki dir mode %v, want 0700", st.Mode().Perm())
	}
	for _, name := range append(want[:2], want[3:]...) {
		if st, err := os.Stat(d.KeyPath(name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s key: %v mode %v, want 0600", name, err, st.Mode().Perm())
		}
	}
	ca := readCert(t, d.CertPath(CA))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	api := readCert(t, d.CertPath(APIServer))
	if _, err := api.Verify(x509.VerifyOptions{Roots: pool, DNSName: "kubernetes.default.svc"}); err != nil {
		t.Errorf("apiserver cert does not verify for kubernetes.default.svc: %v", err)
	}
	if !slices.ContainsFunc(api.IPAddresses, net.IPv4(127, 0, 0, 1).Equal) {
		t.Errorf("apiserver cert IPs %v lack 127.0.0.1", api.IPAddresses)
	}
	admin := readCert(t, d.CertPath(Admin))
	if _, err := admin.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin cert is not a client cert of the CA: %v", err)
	}
	if !slices.Equal(admin.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("admin groups %v", admin.Subject.Organization)
	}
	fp := readCert(t, d.CertPath(FrontProxyClient))
	if fp.CheckSignatureFrom(ca) == nil {
		t.Error("front-proxy-client is signed by the cluster CA, want the front-proxy CA")
	}
}

func TestEnsureReuses(t *testing.T) {
	d := Dir(t.TempDir())
	now := time.Now()
	if _, err := d.Ensure(testLeaves(net.IPv4(127, 0, 0, 1)), now); err != nil {
		t.Fatal(err)
	}
	before := readCert(t, d.CertPath(APIServer)).SerialNumber
	written, err := d.Ensure(testLeaves(net.IPv4(127, 0, 0, 1)), now)
	if err != nil || len(written) != 0 {
		t.Fatalf("second Ensure wrote %v (err %v), want nothing", written, err)
	}

	// A new address on the serving certificate reissues that certificate only.
	written, err = d.Ensure(testLeaves(net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)), now)
	if err != nil || !slices.Equal(written, []string{APIServer}) {
		t.Fatalf("Ensure with a new SAN wrote %v (err %v), want [apiserver]", written, err)
	}
	if readCert(t, d.CertPath(APIServer)).SerialNumber.Cmp(before) == 0 {
		t.Error("apiserver certificate was not reissued")
	}

	// Close to expiry, leaves are reissued but the CAs (valid 10 years) are kept.
	written, err = d.Ensure(testLeaves(net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)), now.Add(340*24*time.Hour))
	if err != nil || slices.Contains(written, CA) || !slices.Contains(written, Admin) {
		t.Fatalf("Ensure near expiry wrote %v (err %v), want the leaves and not the CA", written, err)
	}

	// A lost CA key means a new CA, and every leaf is issued again under it.
	if err := os.Remove(d.KeyPath(CA)); err != nil {
		t.Fatal(err)
	}
	written, err = d.Ensure(testLeaves(net.IPv4(127, 0, 0, 1)), now)
	if err != nil || !slices.Contains(written, CA) || !slices.Contains(written, Scheduler) || slices.Contains(written, FrontProxyClient) {
		t.Fatalf("Ensure after CA loss wrote %v (err %v), want CA and its leaves, not the front-proxy ones", written, err)
	}
}

func TestEnsureReplacesCorruptFiles(t *testing.T) {
	d := Dir(t.TempDir())
	if _, err := d.Ensure(testLeaves(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.KeyPath(Admin), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	written, err := d.Ensure(testLeaves(), time.Now())
	if err != nil || !slices.Equal(written, []string{Admin}) {
		t.Fatalf("wrote %v (err %v), want [admin]", written, err)
	}
}

func TestIssuerClient(t *testing.T) {
	d := Dir(t.TempDir())
	if _, err := d.Ensure(testLeaves(), time.Now()); err != nil {
		t.Fatal(err)
	}
	issuer, err := d.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := issuer.Client("system:node:n1", []string{"system:nodes"}, time.Now())
	if err != nil || len(keyPEM) == 0 {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, d.CertPath(CA)))
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("node certificate does not verify: %v", err)
	}
	if cert.Subject.CommonName != "system:node:n1" || !slices.Equal(cert.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("subject %v", cert.Subject)
	}
}
