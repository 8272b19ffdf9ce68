package nodes

import (
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/minaks/minaks/pkg/netstack"
)

// hostPortChain is the node's chain of hostPort DNAT rules, as the CNI portmap plugin's
// CNI-HOSTPORT-DNAT: traffic to the node (from outside, and from the node itself) on a pod's
// hostPort goes to the pod's containerPort.
const hostPortChain = "MINAKS-HOSTPORTS"

// hostPortRules renders the DNAT rules of the given pods' hostPorts, sorted.
func hostPortRules(pods []*v1.Pod, podIP func(*v1.Pod) string) []string {
	var rules []string
	for _, p := range pods {
		ip := podIP(p)
		if ip == "" || p.Spec.HostNetwork {
			continue
		}
		for _, c := range p.Spec.Containers {
			for _, port := range c.Ports {
				if port.HostPort == 0 {
					continue
				}
				proto := strings.ToLower(string(port.Protocol))
				if proto == "" {
					proto = "tcp"
				}
				dst := ""
				if port.HostIP != "" && port.HostIP != "0.0.0.0" {
					dst = "-d " + port.HostIP + " "
				}
				rules = append(rules, fmt.Sprintf(`%s-p %s -m %s --dport %d -m comment --comment "hostPort of %s/%s" -j DNAT --to-destination %s:%d`,
					dst, proto, proto, port.HostPort, p.Namespace, p.Name, ip, port.ContainerPort))
			}
		}
	}
	sort.Strings(rules)
	return rules
}

// syncHostPorts rewrites the node's hostPort chain from the pods that have a sandbox.
func (s *Sandboxes) syncHostPorts() error {
	pods := s.Pods()
	rules := hostPortRules(pods, func(p *v1.Pod) string {
		s.mu.Lock()
		w := s.byName[p.Namespace+"/"+p.Name]
		s.mu.Unlock()
		if w == nil || w.uid != p.UID || len(w.podIPs) == 0 {
			return ""
		}
		return w.podIPs[0].String()
	})
	if len(rules) == 0 && !s.hostPorts {
		return nil
	}
	s.hostPorts = true
	jump := []string{"-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", "minaks: pods' hostPorts"}
	for _, from := range []string{"PREROUTING", "OUTPUT"} {
		c := netstack.NodeChain(netstack.Chain{Table: "nat", Name: hostPortChain, Rules: rules, From: from, Jump: jump})
		if err := c.Ensure(s.agent.NS()); err != nil {
			return err
		}
	}
	return nil
}
