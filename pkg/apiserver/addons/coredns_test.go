package addons

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/coredns/caddy/caddyfile"
	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/minaks/minaks/images/coredns"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
)

// aksCorefile is `kubectl get cm -n kube-system coredns -o jsonpath='{.data.Corefile}'` on
// AKS since the v20241025 release (the templates answer NXDOMAIN for Azure's search-domain
// completions).
const aksCorefile = `.:53 {
    errors
    ready
    health {
      lameduck 5s
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
      ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
    import custom/*.override
    template ANY ANY internal.cloudapp.net {
      match "^(?:[^.]+\.){4,}internal\.cloudapp\.net\.$"
      rcode NXDOMAIN
      fallthrough
    }
    template ANY ANY reddog.microsoft.com {
      rcode NXDOMAIN
    }
}
import custom/*.server
`

func TestCorefile(t *testing.T) {
	if d := cmp.Diff(aksCorefile, Corefile(ClusterDomain)); d != "" {
		t.Errorf("Corefile (-AKS +got):\n%s", d)
	}
}

// TestCorefileParsesWithTheImagesPlugins parses the Corefile with CoreDNS's own parser,
// imports spliced in from a coredns-custom holding the examples of AKS's documentation, with
// only the directives the built-in image compiles in.
func TestCorefileParsesWithTheImagesPlugins(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Corefile")
	write(t, path, Corefile(ClusterDomain))
	write(t, filepath.Join(dir, "custom", "test.override"), `hosts {
    10.0.0.1 example1.org
    fallthrough
}
log
`)
	write(t, filepath.Join(dir, "custom", "test.server"), `puglife.local:53 {
    errors
    cache 30
    forward . 192.11.0.1
}
example.com:53 {
    log
    errors
    rewrite stop {
        name regex (.*)\.example\.com {1}.default.svc.cluster.local
        answer name (.*)\.default\.svc\.cluster\.local {1}.example.com
    }
    forward . /etc/resolv.conf
}
`)
	blocks, err := caddyfile.Parse(path, bytes.NewReader([]byte(Corefile(ClusterDomain))), coredns.Directives)
	if err != nil {
		t.Fatalf("CoreDNS's parser with the image's directives: %v", err)
	}
	var keys []string
	for _, b := range blocks {
		keys = append(keys, b.Keys...)
	}
	if want := []string{".:53", "puglife.local:53", "example.com:53"}; !slices.Equal(keys, want) {
		t.Errorf("server blocks %v, want %v", keys, want)
	}
	var dirs []string
	for d := range blocks[0].Tokens {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	want := []string{"cache", "errors", "forward", "health", "hosts", "kubernetes", "loadbalance", "log",
		"loop", "prometheus", "ready", "reload", "template"}
	if !slices.Equal(dirs, want) {
		t.Errorf("default block's directives %v, want %v", dirs, want)
	}

	// And without coredns-custom (the optional volume is an empty directory).
	os.RemoveAll(filepath.Join(dir, "custom"))
	if _, err := caddyfile.Parse(path, bytes.NewReader([]byte(Corefile(ClusterDomain))), coredns.Directives); err != nil {
		t.Errorf("without coredns-custom: %v", err)
	}
}

func TestDNSSettingsFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*config.Options)
		want []netip.Addr
	}{
		{"default", nil, []netip.Addr{netip.MustParseAddr("10.0.0.10")}},
		{"own range", func(o *config.Options) {
			o.ServiceCIDR = "172.16.0.0/16"
			o.DNSServiceIP = "172.16.0.53"
		}, []netip.Addr{netip.MustParseAddr("172.16.0.53")}},
		{"dual-stack", func(o *config.Options) {
			o.IPFamilies = []string{"ipv4", "ipv6"}
		}, []netip.Addr{netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("fd12:3456:789a:1::a")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DNSSettingsFor(configtest.Cluster(t, tc.set))
			if err != nil {
				t.Fatal(err)
			}
			if s.ClusterDomain != "cluster.local" || !slices.Equal(s.ServiceIPs, tc.want) {
				t.Errorf("settings %+v, want cluster.local at %v", s, tc.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	c := configtest.Cluster(t, nil)
	client := fake.NewClientset()
	if err := Apply(ctx, client, c); err != nil {
		t.Fatal(err)
	}
	first := snapshot(t, client)

	// ServiceAccount, RBAC.
	sa, err := client.CoreV1().ServiceAccounts("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.Labels["kubernetes.io/cluster-service"] != "true" {
		t.Errorf("ServiceAccount labels %v", sa.Labels)
	}
	role, err := client.RbacV1().ClusterRoles().Get(ctx, "system:coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantRules := map[string][]string{"": {"endpoints", "services", "pods", "namespaces"}, "discovery.k8s.io": {"endpointslices"}}
	for _, r := range role.Rules {
		if !slices.Equal(r.Resources, wantRules[r.APIGroups[0]]) || !slices.Equal(r.Verbs, []string{"list", "watch"}) {
			t.Errorf("ClusterRole rule %+v", r)
		}
		delete(wantRules, r.APIGroups[0])
	}
	if len(wantRules) > 0 {
		t.Errorf("ClusterRole lacks rules for %v", wantRules)
	}
	binding, err := client.RbacV1().ClusterRoleBindings().Get(ctx, "system:coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if binding.RoleRef.Name != "system:coredns" || len(binding.Subjects) != 1 ||
		binding.Subjects[0].Namespace != "kube-system" || binding.Subjects[0].Name != "coredns" {
		t.Errorf("ClusterRoleBinding %+v %+v", binding.RoleRef, binding.Subjects)
	}

	// ConfigMaps.
	cm, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["Corefile"] != aksCorefile || cm.Labels["addonmanager.kubernetes.io/mode"] != "Reconcile" {
		t.Errorf("ConfigMap coredns: labels %v, Corefile\n%s", cm.Labels, cm.Data["Corefile"])
	}
	custom, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "coredns-custom", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(custom.Data) != 0 || custom.Labels["addonmanager.kubernetes.io/mode"] != "EnsureExists" || custom.Labels["k8s-app"] != "kube-dns" {
		t.Errorf("ConfigMap coredns-custom: labels %v, data %v", custom.Labels, custom.Data)
	}

	// Deployment.
	d, err := client.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDeployment(t, d)

	// Service.
	svc, err := client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.0.0.10" || len(svc.Spec.IPFamilies) > 1 {
		t.Errorf("kube-dns cluster IP %s %v, want 10.0.0.10 single-stack", svc.Spec.ClusterIP, svc.Spec.IPFamilies)
	}
	if !cmp.Equal(svc.Spec.Selector, map[string]string{"k8s-app": "kube-dns"}) {
		t.Errorf("kube-dns selector %v", svc.Spec.Selector)
	}
	for k, v := range map[string]string{"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"} {
		if svc.Labels[k] != v {
			t.Errorf("kube-dns label %s = %q, want %q", k, svc.Labels[k], v)
		}
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, p.Name+" "+string(p.Protocol)+" "+p.TargetPort.String())
		if p.Port != p.TargetPort.IntVal {
			t.Errorf("kube-dns port %s: %d → %s", p.Name, p.Port, p.TargetPort.String())
		}
	}
	if want := []string{"dns UDP 53", "dns-tcp TCP 53", "metrics TCP 9153"}; !slices.Equal(ports, want) {
		t.Errorf("kube-dns ports %v, want %v", ports, want)
	}

	// Again, as at the next daemon start: nothing changes.
	if err := Apply(ctx, client, c); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(first, snapshot(t, client)); d != "" {
		t.Errorf("second Apply changed objects (-first +second):\n%s", d)
	}
}

// TestApplyKeepsCorednsCustom: a user's coredns-custom survives every Apply, while an edited
// Corefile and a scaled Deployment come back to AKS's, as AKS's add-on manager reconciles them.
func TestApplyKeepsCorednsCustom(t *testing.T) {
	ctx := context.Background()
	c := configtest.Cluster(t, nil)
	userData := map[string]string{"log.override": "log\n", "puglife.server": "puglife.local:53 {\n    forward . 192.11.0.1\n}\n"}
	client := fake.NewClientset(&v1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns-custom", Labels: map[string]string{"owner": "me"}},
		Data:       userData,
	})
	for i := range 2 {
		if err := Apply(ctx, client, c); err != nil {
			t.Fatal(err)
		}
		custom, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "coredns-custom", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(custom.Data, userData) || custom.Labels["owner"] != "me" {
			t.Errorf("Apply %d: coredns-custom is now %v %v", i+1, custom.Labels, custom.Data)
		}

		cm, _ := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		cm.Data["Corefile"] = ".:53 {\n    whoami\n}\n"
		if _, err := client.CoreV1().ConfigMaps("kube-system").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := Apply(ctx, client, c); err != nil {
		t.Fatal(err)
	}
	cm, _ := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if cm.Data["Corefile"] != aksCorefile {
		t.Errorf("an edited Corefile was not restored:\n%s", cm.Data["Corefile"])
	}
}

func TestApplyDualStack(t *testing.T) {
	ctx := context.Background()
	c := configtest.Cluster(t, func(o *config.Options) { o.IPFamilies = []string{"ipv4", "ipv6"} })
	client := fake.NewClientset()
	if err := Apply(ctx, client, c); err != nil {
		t.Fatal(err)
	}
	svc, err := client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.0.0.10" ||
		!slices.Equal(svc.Spec.ClusterIPs, []string{"10.0.0.10", "fd12:3456:789a:1::a"}) ||
		!slices.Equal(svc.Spec.IPFamilies, []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}) ||
		svc.Spec.IPFamilyPolicy == nil || *svc.Spec.IPFamilyPolicy != v1.IPFamilyPolicyRequireDualStack {
		t.Errorf("dual-stack kube-dns: clusterIP %s clusterIPs %v families %v policy %v",
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs, svc.Spec.IPFamilies, svc.Spec.IPFamilyPolicy)
	}
}

func TestKubeDNSServiceRejectsBadIPs(t *testing.T) {
	for _, ips := range [][]netip.Addr{
		nil,
		{netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("10.0.0.11")},
		{netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("fd00::a"), netip.MustParseAddr("10.0.0.11")},
	} {
		if _, err := CoreDNSObjects(DNSSettings{ClusterDomain: ClusterDomain, ServiceIPs: ips}); err == nil {
			t.Errorf("service IPs %v accepted", ips)
		}
	}
}

func checkDeployment(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	for k, v := range map[string]string{"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "version": "v20"} {
		if d.Labels[k] != v {
			t.Errorf("Deployment label %s = %q, want %q", k, d.Labels[k], v)
		}
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	pod := d.Spec.Template
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(pod.Labels)) || pod.Labels["k8s-app"] != "kube-dns" {
		t.Errorf("selector %v does not select pod labels %v", d.Spec.Selector, pod.Labels)
	}
	spec := pod.Spec
	if spec.PriorityClassName != "system-node-critical" || spec.DNSPolicy != v1.DNSDefault || spec.ServiceAccountName != "coredns" {
		t.Errorf("pod: priority %q, dnsPolicy %q, serviceAccount %q", spec.PriorityClassName, spec.DNSPolicy, spec.ServiceAccountName)
	}
	if len(spec.Tolerations) == 0 || spec.Tolerations[0].Key != "CriticalAddonsOnly" || spec.Tolerations[0].Operator != v1.TolerationOpExists {
		t.Errorf("tolerations %+v", spec.Tolerations)
	}
	anti := spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	if len(anti) != 1 || anti[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("pod anti-affinity %+v", anti)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	ctr := spec.Containers[0]
	if ctr.Image != "mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.13.1-20" || !slices.Equal(ctr.Args, []string{"-conf", "/etc/coredns/Corefile"}) {
		t.Errorf("container image %s args %v", ctr.Image, ctr.Args)
	}
	var ports []string
	for _, p := range ctr.Ports {
		ports = append(ports, p.Name+" "+string(p.Protocol))
	}
	if want := []string{"dns UDP", "dns-tcp TCP", "metrics TCP"}; !slices.Equal(ports, want) {
		t.Errorf("container ports %v, want %v", ports, want)
	}
	if p := ctr.ReadinessProbe.HTTPGet; p.Path != "/ready" || p.Port.IntVal != 8181 {
		t.Errorf("readiness probe %+v", p)
	}
	if p := ctr.LivenessProbe.HTTPGet; p.Path != "/health" || p.Port.IntVal != 8080 {
		t.Errorf("liveness probe %+v", p)
	}
	mounts := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	volumes := map[string]v1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	if v := volumes[mounts["/etc/coredns"]].ConfigMap; v == nil || v.Name != "coredns" {
		t.Errorf("/etc/coredns is not ConfigMap coredns: %+v", volumes[mounts["/etc/coredns"]])
	}
	if v := volumes[mounts["/etc/coredns/custom"]].ConfigMap; v == nil || v.Name != "coredns-custom" || v.Optional == nil || !*v.Optional {
		t.Errorf("/etc/coredns/custom is not the optional ConfigMap coredns-custom: %+v", volumes[mounts["/etc/coredns/custom"]])
	}
}

// snapshot is every object Apply makes, without the fields the API server keeps.
func snapshot(t *testing.T, client *fake.Clientset) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	clean := func(m *metav1.ObjectMeta) {
		m.ResourceVersion, m.ManagedFields, m.Generation = "", nil, 0
	}
	cms, _ := client.CoreV1().ConfigMaps("kube-system").List(ctx, metav1.ListOptions{})
	for _, o := range cms.Items {
		clean(&o.ObjectMeta)
		out["ConfigMap "+o.Name] = o
	}
	sas, _ := client.CoreV1().ServiceAccounts("kube-system").List(ctx, metav1.ListOptions{})
	for _, o := range sas.Items {
		clean(&o.ObjectMeta)
		out["ServiceAccount "+o.Name] = o
	}
	svcs, _ := client.CoreV1().Services("kube-system").List(ctx, metav1.ListOptions{})
	for _, o := range svcs.Items {
		clean(&o.ObjectMeta)
		out["Service "+o.Name] = o
	}
	ds, _ := client.AppsV1().Deployments("kube-system").List(ctx, metav1.ListOptions{})
	for _, o := range ds.Items {
		clean(&o.ObjectMeta)
		out["Deployment "+o.Name] = o
	}
	crs, _ := client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	for _, o := range crs.Items {
		clean(&o.ObjectMeta)
		out["ClusterRole "+o.Name] = o
	}
	crbs, _ := client.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	for _, o := range crbs.Items {
		clean(&o.ObjectMeta)
		out["ClusterRoleBinding "+o.Name] = o
	}
	rbs, _ := client.RbacV1().RoleBindings("kube-system").List(ctx, metav1.ListOptions{})
	for _, o := range rbs.Items {
		clean(&o.ObjectMeta)
		out["RoleBinding "+o.Name] = o
	}
	// CoreDNS's 7 and metrics-server's 8 (its APIService is applied apart).
	if len(out) != 15 {
		t.Errorf("%d objects, want 15: %v", len(out), keys(out))
	}
	return out
}

func keys(m map[string]any) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
