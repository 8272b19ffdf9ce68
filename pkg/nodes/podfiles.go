package nodes

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/kubernetes/pkg/kubelet/network/dns"
)

// ClusterDomain is the cluster's DNS domain, as on AKS.
const ClusterDomain = "cluster.local"

// podDir is where a pod's files live: its /etc files, volumes and containers' writable layers.
func (a *Agent) podDir(uid string) string { return a.ID.Cluster.Path("pods", uid) }

// podLogDir is a pod's log directory, laid out as the kubelet's /var/log/pods.
func (a *Agent) podLogDir(pod *v1.Pod) string {
	return a.ID.Cluster.Path("logs", "pods", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// newDNSConfigurer returns the kubelet's own DNS configurer for this node: cluster DNS at
// --dns-service-ip, the node's resolv.conf for dnsPolicy Default and the search path.
func (a *Agent) newDNSConfigurer(recorder record.EventRecorderLogger) *dns.Configurer {
	n := a.ID.Cluster.Network
	nodeIPs := []net.IP{a.ID.Instance.IP.AsSlice()}
	ref := &v1.ObjectReference{Kind: "Node", Name: a.ID.Instance.Name, UID: "", Namespace: ""}
	return dns.NewConfigurer(recorder, ref, nodeIPs, []net.IP{net.ParseIP(n.DNSServiceIP)}, ClusterDomain,
		ResolvConfPath(a.ID.Cluster, a.ID.Instance.Name))
}

// podHostname is a pod's hostname and, with a subdomain, its fully qualified name
// (<hostname>.<subdomain>.<namespace>.svc.cluster.local), as the kubelet computes them.
func podHostname(pod *v1.Pod) (hostname, fqdn string) {
	hostname = pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	hostname = strings.TrimRight(truncate(hostname, 63), "-.")
	if pod.Spec.Subdomain != "" {
		fqdn = fmt.Sprintf("%s.%s.%s.svc.%s", hostname, pod.Spec.Subdomain, pod.Namespace, ClusterDomain)
	}
	if pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN && fqdn != "" {
		hostname = fqdn
	}
	return hostname, fqdn
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// hostsFile is the pod's /etc/hosts, as the kubelet writes it: localhost entries, the pod's own
// addresses with its names, then hostAliases. hostNetwork pods get the host's file with the
// aliases appended.
func hostsFile(pod *v1.Pod, podIPs []netip.Addr) (string, error) {
	var b strings.Builder
	if pod.Spec.HostNetwork {
		host, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return "", err
		}
		b.Write(host)
	} else {
		b.WriteString("# Kubernetes-managed hosts file.\n" +
			"127.0.0.1\tlocalhost\n" +
			"::1\tlocalhost ip6-localhost ip6-loopback\n" +
			"fe00::0\tip6-localnet\n" +
			"fe00::0\tip6-mcastprefix\n" +
			"fe00::1\tip6-allnodes\n" +
			"fe00::2\tip6-allrouters\n")
		hostname, fqdn := podHostname(pod)
		if fqdn != "" {
			// setHostnameAsFQDN changes the container's hostname, not the hosts file.
			hostname = strings.SplitN(fqdn, ".", 2)[0]
		}
		for _, ip := range podIPs {
			if fqdn != "" && fqdn != hostname {
				fmt.Fprintf(&b, "%s\t%s\t%s\n", ip, fqdn, hostname)
			} else {
				fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
			}
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, ha := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", ha.IP, strings.Join(ha.Hostnames, "\t"))
		}
	}
	return b.String(), nil
}

// resolvConf renders the pod's /etc/resolv.conf from the kubelet's DNS configuration for it
// (dnsPolicy, dnsConfig).
func resolvConf(ctx context.Context, c *dns.Configurer, pod *v1.Pod) (string, error) {
	cfg, err := c.GetPodDNS(ctx, pod)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if len(cfg.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(cfg.Searches, " "))
	}
	for _, s := range cfg.Servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(cfg.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(cfg.Options, " "))
	}
	return b.String(), nil
}

// podFiles are the files every container of a pod gets, by their path in the container.
type podFiles map[string]string

// writePodFiles writes /etc/hosts, /etc/hostname and /etc/resolv.conf for a pod into its
// directory and returns where each one is.
func (a *Agent) writePodFiles(ctx context.Context, dnsc *dns.Configurer, pod *v1.Pod, podIPs []netip.Addr) (podFiles, error) {
	dir := filepath.Join(a.podDir(string(pod.UID)), "etc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	hosts, err := hostsFile(pod, podIPs)
	if err != nil {
		return nil, err
	}
	resolv, err := resolvConf(ctx, dnsc, pod)
	if err != nil {
		return nil, err
	}
	hostname, _ := podHostname(pod)
	if pod.Spec.HostNetwork {
		hostname = a.ID.Instance.Name
	}
	files := podFiles{}
	for target, content := range map[string]string{"/etc/hosts": hosts, "/etc/hostname": hostname + "\n", "/etc/resolv.conf": resolv} {
		path := filepath.Join(dir, filepath.Base(target))
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return nil, err
		}
		files[target] = path
	}
	return files, nil
}
