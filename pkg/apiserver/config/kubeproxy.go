package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// kube-proxy modes, as AKS's kubeProxyConfig names them.
const (
	ProxyModeIPTables = "IPTABLES"
	ProxyModeIPVS     = "IPVS"
	ProxyModeNFTables = "NFTABLES"
)

// KubeProxy is AKS's networkProfile.kubeProxyConfig, the JSON that `az aks create
// --kube-proxy-config FILE` takes: {"enabled": true, "mode": "IPVS", "ipvsConfig": {...}}.
type KubeProxy struct {
	Enabled    *bool       `json:"enabled,omitempty"`
	Mode       string      `json:"mode,omitempty"`
	IPVSConfig *IPVSConfig `json:"ipvsConfig,omitempty"`
}

// IPVSConfig is kubeProxyConfig.ipvsConfig.
type IPVSConfig struct {
	Scheduler            string `json:"scheduler,omitempty"`
	TCPTimeoutSeconds    *int32 `json:"tcpTimeoutSeconds,omitempty"`
	TCPFinTimeoutSeconds *int32 `json:"tcpFinTimeoutSeconds,omitempty"`
	UDPTimeoutSeconds    *int32 `json:"udpTimeoutSeconds,omitempty"`
}

// IsEnabled reports whether kube-proxy runs on the nodes (the default).
func (k KubeProxy) IsEnabled() bool { return k.Enabled == nil || *k.Enabled }

// ParseKubeProxy reads a kubeProxyConfig from a JSON file path or, when the value starts with
// '{', from the value itself. Unknown fields are refused.
func ParseKubeProxy(value string) (KubeProxy, error) {
	data := []byte(value)
	if !strings.HasPrefix(strings.TrimSpace(value), "{") {
		b, err := os.ReadFile(value)
		if err != nil {
			return KubeProxy{}, err
		}
		data = b
	}
	var k KubeProxy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		return KubeProxy{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return KubeProxy{}, fmt.Errorf("invalid JSON: more than one object")
	}
	return k, nil
}

// complete checks the configuration with AKS's rules and fills in the default mode.
func (k *KubeProxy) complete() []string {
	var errs []string
	switch strings.ToUpper(k.Mode) {
	case "":
		k.Mode = ProxyModeIPTables
	case ProxyModeIPTables, ProxyModeIPVS, ProxyModeNFTables:
		k.Mode = strings.ToUpper(k.Mode)
	default:
		errs = append(errs, fmt.Sprintf("mode %q is not one of IPTABLES, IPVS, NFTABLES", k.Mode))
	}
	if c := k.IPVSConfig; c != nil {
		if k.Mode != ProxyModeIPVS {
			errs = append(errs, fmt.Sprintf("ipvsConfig is only allowed with mode IPVS, not %s", k.Mode))
		}
		switch c.Scheduler {
		case "", "RoundRobin", "LeastConnection":
		default:
			errs = append(errs, fmt.Sprintf("ipvsConfig.scheduler %q is not one of RoundRobin, LeastConnection", c.Scheduler))
		}
		for _, t := range []struct {
			name string
			v    *int32
		}{
			{"tcpTimeoutSeconds", c.TCPTimeoutSeconds},
			{"tcpFinTimeoutSeconds", c.TCPFinTimeoutSeconds},
			{"udpTimeoutSeconds", c.UDPTimeoutSeconds},
		} {
			if t.v != nil && *t.v <= 0 {
				errs = append(errs, fmt.Sprintf("ipvsConfig.%s must be a positive number of seconds, not %d", t.name, *t.v))
			}
		}
	}
	return errs
}
