package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/netstack"
)

type recorder struct{ lines []string }

func (r *recorder) Start(s string) { r.lines = append(r.lines, "start "+s) }
func (r *recorder) End(err error) {
	if err != nil {
		r.lines = append(r.lines, "fail "+err.Error())
		return
	}
	r.lines = append(r.lines, "ok")
}

func TestProgressOverPipe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		daemon  func(p *pipeProgress)
		want    []string
		wantErr string
	}{
		{"ready", func(p *pipeProgress) {
			p.Start("a")
			p.End(nil)
			p.Start("b")
			p.End(nil)
			p.Ready()
		}, []string{"start a", "ok", "start b", "ok"}, ""},
		{"failed step", func(p *pipeProgress) {
			p.Start("a")
			p.End(errors.New("boom"))
			p.w.Close()
		}, []string{"start a", "fail boom"}, "boom"},
		{"daemon died", func(p *pipeProgress) {
			p.Start("a")
			p.w.Close()
		}, []string{"start a"}, errDaemonExited.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := io.Pipe()
			go tc.daemon(newPipeProgress(w))
			rec := &recorder{}
			err := relay(r, rec)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("relay() = %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(rec.lines, tc.want) {
				t.Errorf("steps %v, want %v", rec.lines, tc.want)
			}
		})
	}
}

func TestFindDaemons(t *testing.T) {
	procRoot = t.TempDir()
	t.Cleanup(func() { procRoot = "/proc" })
	write := func(pid int, args ...string) {
		dir := filepath.Join(procRoot, fmt.Sprint(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.Join(args, "\x00")+"\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(100, append([]string{"/usr/local/bin/minaks"}, daemonArgs("a", "/var/lib/minaks", 0)...)...)
	write(101, append([]string{"/work/bin/minaks"}, daemonArgs("b", "/tmp/state", 2)...)...)
	write(102, "/usr/local/bin/minaks", "up", "--name=a")                        // not a daemon
	write(103, "/usr/bin/python3", "daemon", "--name=a", "--state-dir=/x")       // not minaks
	write(104, "/usr/local/bin/minaks", "daemon", "--state-dir=/var/lib/minaks") // no name
	if err := os.MkdirAll(filepath.Join(procRoot, "self"), 0o755); err != nil {
		t.Fatal(err)
	}

	all, err := FindDaemons("")
	if err != nil {
		t.Fatal(err)
	}
	want := []Daemon{{PID: 100, Name: "a", StateDir: "/var/lib/minaks"}, {PID: 101, Name: "b", StateDir: "/tmp/state"}}
	if !slices.Equal(all, want) {
		t.Errorf("FindDaemons(\"\") = %+v, want %+v", all, want)
	}
	if b, _ := FindDaemons("b"); !slices.Equal(b, want[1:]) {
		t.Errorf("FindDaemons(b) = %+v", b)
	}
}

func TestDefinitionDiff(t *testing.T) {
	complete := func(set func(*config.Options)) *config.Cluster {
		o := config.NewOptions()
		set(o)
		c, err := o.Complete()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	saved := complete(func(o *config.Options) { o.NetworkPlugin = "kubenet"; o.APIPort = 6443 })
	if d := definitionDiff(saved, complete(func(*config.Options) {}), nil); d != "" {
		t.Errorf("no flags given: diff %q, want none", d)
	}
	if d := definitionDiff(saved, complete(func(o *config.Options) { o.NetworkPlugin = "kubenet"; o.APIPort = 7000; o.ImageSource = "pull" }), []string{"network-plugin", "api-port", "image-source"}); d != "" {
		t.Errorf("same definition, other port: diff %q, want none", d)
	}
	d := definitionDiff(saved, complete(func(o *config.Options) { o.NodeCount = 5 }), []string{"node-count"})
	for _, w := range []string{"nodeCount: 5 now, 3 before", `network.networkPlugin: "azure" now, "kubenet" before`} {
		if !strings.Contains(d, w) {
			t.Errorf("diff %q lacks %q", d, w)
		}
	}
}

func TestLogErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "minaks.log")
	log := `I1125 20:16:56.099276   20218 daemon.go:86] "Starting minaks daemon"
W1125 20:16:56.355191   20218 genericapiserver.go:798] Skipping API
E1125 20:16:57.245989   20218 controller.go:208] "Failed to ensure lease exists"
{"level":"warn","msg":"slow"}
{"level":"error","msg":"failed to update storage version"}
Error: kube-apiserver: listen tcp 127.0.0.1:6443: bind: address already in use
panic: boom
`
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(logErrors(path, 3), "\n")
	want := []string{`{"level":"error","msg":"failed to update storage version"}`, "Error: kube-apiserver: listen tcp 127.0.0.1:6443: bind: address already in use", "panic: boom"}
	if !slices.Equal(got, want) {
		t.Errorf("logErrors = %q, want %q", got, want)
	}
}

func TestCheckKernelIPVS(t *testing.T) {
	defer func(orig func() bool) { kernelHasIPVS = orig }(kernelHasIPVS)
	for _, tc := range []struct {
		name   string
		config string
		ipvs   bool
		err    string
	}{
		{"IPVS without the kernel's", `{"mode":"IPVS"}`, false, "--kube-proxy-config: mode IPVS needs the kernel's IPVS"},
		{"IPVS with the kernel's", `{"mode":"IPVS"}`, true, ""},
		{"IPTABLES never needs it", `{"mode":"IPTABLES"}`, false, ""},
		{"kube-proxy disabled", `{"enabled":false,"mode":"IPVS"}`, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kernelHasIPVS = func() bool { return tc.ipvs }
			o := config.NewOptions()
			o.KubeProxyConfig = tc.config
			c, err := o.Complete()
			if err != nil {
				t.Fatal(err)
			}
			err = checkKernel(c)
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("checkKernel: %v, want %q", err, tc.err)
			}
		})
	}
}

func TestCheckKernelPolicy(t *testing.T) {
	defer func(orig func([]netstack.PolicyFeature) []string) { missingPolicyFeatures = orig }(missingPolicyFeatures)
	for _, tc := range []struct {
		policy, plugin string
		missing        []string
		err            string
	}{
		{"azure", "azure", []string{"xt_set (iptables -m set): no such match"}, "--network-policy=azure: the policy engine needs kernel features this host does not have:\n  xt_set (iptables -m set): no such match"},
		{"calico", "kubenet", []string{"br_netfilter (net.bridge.bridge-nf-call-iptables): exit status 1"}, "br_netfilter"},
		{"calico", "azure", nil, ""},
		{"cilium", "azure", []string{"nf_tables (nft …): Error: Could not process rule"}, "--network-policy=cilium: the policy engine needs kernel features this host does not have:\n  nf_tables"},
		{"none", "azure", []string{"never asked"}, ""},
	} {
		t.Run(tc.policy+" "+tc.plugin, func(t *testing.T) {
			var asked []string
			missingPolicyFeatures = func(fs []netstack.PolicyFeature) []string {
				for _, f := range fs {
					asked = append(asked, f.Name)
				}
				return tc.missing
			}
			o := config.NewOptions()
			o.NetworkPolicy, o.NetworkPlugin = tc.policy, tc.plugin
			if tc.policy == "cilium" {
				o.NetworkDataplane = "cilium"
			}
			c, err := o.Complete()
			if err != nil {
				t.Fatal(err)
			}
			err = checkKernel(c)
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("checkKernel: %v, want %q", err, tc.err)
			}
			if bridge := slices.ContainsFunc(asked, func(n string) bool { return strings.HasPrefix(n, "br_netfilter") }); bridge != (tc.plugin == "kubenet") {
				t.Errorf("asked for %q", asked)
			}
			if nft := slices.ContainsFunc(asked, func(n string) bool { return strings.HasPrefix(n, "nf_tables") }); nft != (tc.policy == "cilium") {
				t.Errorf("asked for %q", asked)
			}
		})
	}
}
