// Package imagestore is the host's store of OCI images, shared by every node of every cluster:
// images pulled from registries (go-containerregistry, with the kubelet's credential keyring
// and platform resolution) or loaded from docker-archive and OCI-layout tarballs, each layer
// downloaded once and unpacked once into a directory that containers mount as an overlayfs
// lower layer (whiteouts and opaque directories as overlayfs reads them).
package imagestore
