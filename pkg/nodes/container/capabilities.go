package container

import (
	"fmt"
	"slices"
	"strings"
)

// capabilityNames are Linux's capabilities by number (capabilities(7); CAP_CHECKPOINT_RESTORE,
// 40, is the last Linux 6.x has).
var capabilityNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// DefaultCapabilities are the capabilities containerd gives a container that is not privileged,
// before its securityContext adds or drops any.
var DefaultCapabilities = []string{
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
	"SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
}

// Capabilities is the set a container's securityContext gives it, as containerd computes it:
// the defaults, all of them dropped first when drop has ALL, then add (ALL adds every one),
// then the rest of drop. Names are taken with or without "CAP_", in any case; an unknown name
// is an error naming it.
func Capabilities(add, drop []string) ([]string, error) {
	norm := func(names []string) ([]string, error) {
		out := make([]string, 0, len(names))
		for _, n := range names {
			n = strings.TrimPrefix(strings.ToUpper(n), "CAP_")
			if n != "ALL" && !slices.Contains(capabilityNames, n) {
				return nil, fmt.Errorf("unknown capability %q", n)
			}
			out = append(out, n)
		}
		return out, nil
	}
	add, err := norm(add)
	if err != nil {
		return nil, err
	}
	if drop, err = norm(drop); err != nil {
		return nil, err
	}
	caps := slices.Clone(DefaultCapabilities)
	if slices.Contains(drop, "ALL") {
		caps = nil
	}
	if slices.Contains(add, "ALL") {
		caps = slices.Clone(capabilityNames)
	}
	for _, c := range add {
		if c != "ALL" && !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	caps = slices.DeleteFunc(caps, func(c string) bool { return slices.Contains(drop, c) })
	if caps == nil {
		caps = []string{}
	}
	return caps, nil
}
