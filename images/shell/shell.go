package shell

import "github.com/minaks/minaks/images"

// curlEntrypoint is curl image's /entrypoint.sh: arguments that start with "-" are curl's,
// anything else is a command.
var curlEntrypoint = []string{"sh", "-c", `if [ "${1#-}" != "$1" ]; then set -- curl "$@"; fi; exec "$@"`, "--"}

func init() {
	for _, img := range []*images.Image{
		{
			Name: "busybox",
			References: []string{
				"busybox",
				"registry.k8s.io/e2e-test-images/busybox",
				"gcr.io/google-containers/busybox",
				"k8s.gcr.io/busybox",
				"mcr.microsoft.com/cbl-mariner/busybox",
				"mcr.microsoft.com/azurelinux/busybox",
			},
			Cmd:         []string{"sh"},
			Description: "BusyBox: runs the pod's command with BusyBox's tools",
		},
		{
			Name:        "alpine",
			References:  []string{"alpine"},
			Cmd:         []string{"/bin/sh"},
			Description: "Alpine Linux: runs the pod's command with BusyBox's tools",
		},
		{
			Name:        "ubuntu",
			References:  []string{"ubuntu"},
			Cmd:         []string{"/bin/bash"},
			Description: "Ubuntu: runs the pod's command with BusyBox's tools",
		},
		{
			Name:        "debian",
			References:  []string{"debian"},
			Cmd:         []string{"bash"},
			Description: "Debian: runs the pod's command with BusyBox's tools",
		},
		{
			Name: "azurelinux",
			References: []string{
				"mcr.microsoft.com/azurelinux/base/core",
				"mcr.microsoft.com/cbl-mariner/base/core",
			},
			Cmd:         []string{"/bin/bash"},
			Description: "Azure Linux base: runs the pod's command with BusyBox's tools",
		},
		{
			Name:        "curl",
			References:  []string{"curlimages/curl", "quay.io/curl/curl"},
			Entrypoint:  curlEntrypoint,
			Cmd:         []string{"curl"},
			Description: "curl: runs curl (minaks's) or the pod's command",
		},
		{
			Name:       "netshoot",
			References: []string{"nicolaka/netshoot"},
			// The real image's CMD is zsh; the tools root has bash.
			Cmd:         []string{"bash"},
			Description: "netshoot: runs the pod's command with BusyBox's network tools, curl and dig",
		},
		{
			Name:       "distroless-iptables",
			References: []string{"registry.k8s.io/build-image/distroless-iptables"},
			// kube-proxy's base image: iptables, ipset and conntrack, which minaks's host has.
			HostRoot:    true,
			Cmd:         []string{"/bin/sh"},
			Description: "distroless-iptables: runs the pod's command on the host's root, with its iptables, ipset and conntrack",
		},
	} {
		img.Shell, img.General = true, true
		images.Register(img)
	}
}
