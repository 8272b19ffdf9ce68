// Package toolroot makes the root filesystem of minaks's built-in images: what a container of
// agnhost, busybox, alpine, curl or nginx finds at /, the same on every host. It holds BusyBox
// (the host's static busybox, which `make host-deps` installs from the busybox-static package)
// with a link for each of its applets — nslookup, ip, ping, … — at its own path and in
// /bin, the host's static bash as sh and bash (BusyBox's own sh runs its applets ahead of PATH,
// and drops the environment variables whose names are not a shell's), minaks's curl, dig, getent,
// nc and wget (package images/tools, in the static binary containers run), a minimal /etc (passwd,
// group, nsswitch.conf, services, protocols, the host's CA bundle) and the usual empty
// directories. It is made once per content, in the image store's directory, and mounted
// read-only under each container's writable layer as an image layer is.
package toolroot
