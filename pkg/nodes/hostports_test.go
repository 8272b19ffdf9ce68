package nodes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestHostPortRules(t *testing.T) {
	pod := func(ns, name string, hostNetwork bool, ports ...v1.ContainerPort) *v1.Pod {
		return &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1.PodSpec{HostNetwork: hostNetwork, Containers: []v1.Container{
				{Name: "a", Ports: ports},
				{Name: "b"},
			}},
		}
	}
	ips := map[string]string{
		"web": "10.244.0.7", "dns": "10.244.0.8", "pinned": "10.244.0.9", "plain": "10.244.0.10", "host": "10.224.0.4",
	}
	podIP := func(p *v1.Pod) string { return ips[p.Name] }
	for _, tc := range []struct {
		name string
		pods []*v1.Pod
		want []string
	}{
		{name: "no pods"},
		{
			name: "tcp by default, udp, hostIP, sorted",
			pods: []*v1.Pod{
				pod("default", "web", false,
					v1.ContainerPort{ContainerPort: 8080, HostPort: 80},
					v1.ContainerPort{ContainerPort: 8443, HostPort: 443, Protocol: v1.ProtocolTCP, HostIP: "0.0.0.0"}),
				pod("kube-system", "dns", false,
					v1.ContainerPort{ContainerPort: 53, HostPort: 5353, Protocol: v1.ProtocolUDP},
					v1.ContainerPort{ContainerPort: 53, HostPort: 5353, Protocol: v1.ProtocolTCP}),
				pod("default", "pinned", false,
					v1.ContainerPort{ContainerPort: 9000, HostPort: 9000, HostIP: "10.224.0.4"}),
				pod("default", "plain", false, v1.ContainerPort{ContainerPort: 80}),
			},
			want: []string{
				`-d 10.224.0.4 -p tcp -m tcp --dport 9000 -m comment --comment "hostPort of default/pinned" -j DNAT --to-destination 10.244.0.9:9000`,
				`-p tcp -m tcp --dport 443 -m comment --comment "hostPort of default/web" -j DNAT --to-destination 10.244.0.7:8443`,
				`-p tcp -m tcp --dport 5353 -m comment --comment "hostPort of kube-system/dns" -j DNAT --to-destination 10.244.0.8:53`,
				`-p tcp -m tcp --dport 80 -m comment --comment "hostPort of default/web" -j DNAT --to-destination 10.244.0.7:8080`,
				`-p udp -m udp --dport 5353 -m comment --comment "hostPort of kube-system/dns" -j DNAT --to-destination 10.244.0.8:53`,
			},
		},
		{
			name: "pods without an address or on the host network are skipped",
			pods: []*v1.Pod{
				pod("default", "noip", false, v1.ContainerPort{ContainerPort: 80, HostPort: 8080}),
				pod("default", "host", true, v1.ContainerPort{ContainerPort: 80, HostPort: 80}),
				pod("default", "web", false, v1.ContainerPort{ContainerPort: 80, HostPort: 8081}),
			},
			want: []string{
				`-p tcp -m tcp --dport 8081 -m comment --comment "hostPort of default/web" -j DNAT --to-destination 10.244.0.7:80`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, hostPortRules(tc.pods, podIP)); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}
