package nodes

import (
	"maps"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/nodes/container"
)

// TestSysctls takes a pod's safe sysctls (either separator) and refuses an unsafe one by name.
func TestSysctls(t *testing.T) {
	pod := func(s ...v1.Sysctl) *v1.Pod {
		return &v1.Pod{Spec: v1.PodSpec{SecurityContext: &v1.PodSecurityContext{Sysctls: s}}}
	}
	got, err := sysctls(pod(v1.Sysctl{Name: "kernel.shm_rmid_forced", Value: "1"}, v1.Sysctl{Name: "net/ipv4/ip_local_port_range", Value: "1024 65000"}))
	want := map[string]string{"kernel.shm_rmid_forced": "1", "net.ipv4.ip_local_port_range": "1024 65000"}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("safe sysctls: %v, %v; want %v", got, err, want)
	}
	if got, err := sysctls(pod(v1.Sysctl{Name: "kernel.msgmax", Value: "10000"})); err == nil || !strings.Contains(err.Error(), `"kernel.msgmax" not allowlisted`) {
		t.Errorf("an unsafe sysctl: %v, %v; want it refused by name", got, err)
	}
	host := pod(v1.Sysctl{Name: "net.ipv4.tcp_syncookies", Value: "1"})
	host.Spec.HostNetwork = true
	if got, err := sysctls(host); err == nil || !strings.Contains(err.Error(), "not allowed with host net enabled") {
		t.Errorf("a net sysctl of a hostNetwork pod: %v, %v; want it refused", got, err)
	}
	if got, err := sysctls(&v1.Pod{}); got != nil || err != nil {
		t.Errorf("no sysctls: %v, %v", got, err)
	}
}

// TestPrivileges: a privileged container may have every capability; another the runtime's
// defaults, changed by its securityContext; allowPrivilegeEscalation: false sets no_new_privs.
func TestPrivileges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sc    *v1.SecurityContext
		caps  []string
		nnp   bool
		isErr bool
	}{
		{"none", nil, container.DefaultCapabilities, false, false},
		{"privileged", &v1.SecurityContext{Privileged: ptr.To(true)}, nil, false, false},
		{"unprivileged", &v1.SecurityContext{Privileged: ptr.To(false)}, container.DefaultCapabilities, false, false},
		{"coredns", &v1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
			Capabilities: &v1.Capabilities{Add: []v1.Capability{"NET_BIND_SERVICE"}, Drop: []v1.Capability{"all"}}}, []string{"NET_BIND_SERVICE"}, true, false},
		{"unknown", &v1.SecurityContext{Capabilities: &v1.Capabilities{Add: []v1.Capability{"NET_WIZARD"}}}, nil, false, true},
	} {
		caps, nnp, err := privileges(&v1.Container{SecurityContext: tc.sc})
		if tc.isErr {
			if err == nil || !strings.Contains(err.Error(), "securityContext.capabilities") {
				t.Errorf("%s: %v, %v, %v; want an error naming the field", tc.name, caps, nnp, err)
			}
			continue
		}
		if err != nil || nnp != tc.nnp || !slices.Equal(caps, tc.caps) || (caps == nil) != (tc.caps == nil) {
			t.Errorf("%s: %v, %v, %v; want %v, %v", tc.name, caps, nnp, err, tc.caps, tc.nnp)
		}
	}
}
