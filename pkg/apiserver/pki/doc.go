// Package pki creates and keeps the certificates of a minaks cluster, laid out as kubeadm lays
// out /etc/kubernetes/pki: the cluster CA, the front-proxy CA, the API server's serving and
// client certificates, client certificates for the admin, the controller-manager and the
// scheduler, and the service-account signing key.
//
// Ensure creates what is missing on first start and reuses what is there afterwards. A
// certificate is issued again only when it is missing, unreadable, not signed by the current CA,
// close to expiry, or (for the serving certificate) lacks a name clients now use. Keys are ECDSA
// P-256: as strong as RSA-3072 and generated in well under a millisecond.
package pki
