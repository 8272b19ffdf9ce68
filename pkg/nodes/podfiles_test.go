package nodes

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/azlb"
)

// kubeletHostsHeader is what the kubelet's managedHostsFileContent starts every pod's
// /etc/hosts with.
const kubeletHostsHeader = "# Kubernetes-managed hosts file.\n" +
	"127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

func podFilesTestPod(set func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "web-0"}}
	if set != nil {
		set(p)
	}
	return p
}

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b-c" // truncated to 63 ends with "-"
	for _, tc := range []struct {
		name       string
		set        func(*v1.Pod)
		host, fqdn string
	}{
		{"pod name", nil, "web-0", ""},
		{"hostname field", func(p *v1.Pod) { p.Spec.Hostname = "db" }, "db", ""},
		{"subdomain", func(p *v1.Pod) { p.Spec.Subdomain = "svc1" }, "web-0", "web-0.svc1.ns1.svc.cluster.local"},
		{"hostname and subdomain", func(p *v1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db", "svc1" },
			"db", "db.svc1.ns1.svc.cluster.local"},
		{"long name truncated to 63, no trailing dash", func(p *v1.Pod) { p.Name = long }, strings.Repeat("a", 62), ""},
		{"setHostnameAsFQDN", func(p *v1.Pod) { p.Spec.Subdomain, p.Spec.SetHostnameAsFQDN = "svc1", ptr.To(true) },
			"web-0.svc1.ns1.svc.cluster.local", "web-0.svc1.ns1.svc.cluster.local"},
		{"setHostnameAsFQDN without subdomain", func(p *v1.Pod) { p.Spec.SetHostnameAsFQDN = ptr.To(true) }, "web-0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, fqdn := podHostname(podFilesTestPod(tc.set))
			if host != tc.host || fqdn != tc.fqdn {
				t.Errorf("podHostname = %q, %q, want %q, %q", host, fqdn, tc.host, tc.fqdn)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	ips := []netip.Addr{netip.MustParseAddr("10.244.0.7"), netip.MustParseAddr("fd00:244::7")}
	aliases := []v1.HostAlias{
		{IP: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}},
		{IP: "10.1.2.3", Hostnames: []string{"foo.remote"}},
	}
	for _, tc := range []struct {
		name string
		set  func(*v1.Pod)
		want string
	}{
		{"plain", nil, kubeletHostsHeader + "10.244.0.7\tweb-0\nfd00:244::7\tweb-0\n"},
		{"subdomain", func(p *v1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db", "svc1" },
			kubeletHostsHeader + "10.244.0.7\tdb.svc1.ns1.svc.cluster.local\tdb\nfd00:244::7\tdb.svc1.ns1.svc.cluster.local\tdb\n"},
		// The kubelet writes /etc/hosts from the short hostname and the domain whatever
		// setHostnameAsFQDN says: that only changes the container's hostname.
		{"setHostnameAsFQDN", func(p *v1.Pod) { p.Spec.Subdomain, p.Spec.SetHostnameAsFQDN = "svc1", ptr.To(true) },
			kubeletHostsHeader + "10.244.0.7\tweb-0.svc1.ns1.svc.cluster.local\tweb-0\nfd00:244::7\tweb-0.svc1.ns1.svc.cluster.local\tweb-0\n"},
		{"hostAliases", func(p *v1.Pod) { p.Spec.HostAliases = aliases },
			kubeletHostsHeader + "10.244.0.7\tweb-0\nfd00:244::7\tweb-0\n" +
				"\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hostsFile(podFilesTestPod(tc.set), ips)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("/etc/hosts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolvConf(t *testing.T) {
	id := identity(t, func(o *config.Options) { o.StateDir = t.TempDir() }, 0)
	if err := writeResolvConf(id); err != nil {
		t.Fatal(err)
	}
	a := &Agent{ID: id}
	dnsc := a.newDNSConfigurer(record.NewFakeRecorder(100))
	nodeSearch := azlb.PoolID(id.Cluster) + "." + id.Cluster.Location + ".internal.cloudapp.net"
	nodeFile := "search " + nodeSearch + "\nnameserver 168.63.129.16\n"
	clusterFirst := "search ns1.svc.cluster.local svc.cluster.local cluster.local " + nodeSearch + "\n" +
		"nameserver 10.0.0.10\noptions ndots:5\n"
	for _, tc := range []struct {
		name string
		spec v1.PodSpec
		want string
	}{
		{"ClusterFirst", v1.PodSpec{DNSPolicy: v1.DNSClusterFirst}, clusterFirst},
		{"Default: the node's", v1.PodSpec{DNSPolicy: v1.DNSDefault}, nodeFile},
		{"ClusterFirst on the host network: the node's", v1.PodSpec{DNSPolicy: v1.DNSClusterFirst, HostNetwork: true}, nodeFile},
		{"ClusterFirstWithHostNet", v1.PodSpec{DNSPolicy: v1.DNSClusterFirstWithHostNet, HostNetwork: true}, clusterFirst},
		{"None with dnsConfig", v1.PodSpec{DNSPolicy: v1.DNSNone, DNSConfig: &v1.PodDNSConfig{
			Nameservers: []string{"1.1.1.1", "8.8.8.8"},
			Searches:    []string{"example.com"},
			Options:     []v1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}},
		}}, "search example.com\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions edns0 ndots:2\n"},
		{"ClusterFirst with dnsConfig merged", v1.PodSpec{DNSPolicy: v1.DNSClusterFirst, DNSConfig: &v1.PodDNSConfig{
			Nameservers: []string{"1.1.1.1"},
			Searches:    []string{"example.com"},
			Options:     []v1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}, {Name: "single-request"}},
		}}, "search ns1.svc.cluster.local svc.cluster.local cluster.local " + nodeSearch + " example.com\n" +
			"nameserver 10.0.0.10\nnameserver 1.1.1.1\noptions ndots:1 single-request\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p"}, Spec: tc.spec}
			got, err := resolvConf(context.Background(), dnsc, pod)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, sortedOptions(got)); diff != "" {
				t.Errorf("resolv.conf (-want +got):\n%s", diff)
			}
		})
	}
}

// sortedOptions sorts the options of a resolv.conf: the kubelet merges a pod's dnsConfig
// options through a map, in no particular order.
func sortedOptions(conf string) string {
	lines := strings.Split(conf, "\n")
	for i, l := range lines {
		if opts, ok := strings.CutPrefix(l, "options "); ok {
			fields := strings.Fields(opts)
			sort.Strings(fields)
			lines[i] = "options " + strings.Join(fields, " ")
		}
	}
	return strings.Join(lines, "\n")
}
