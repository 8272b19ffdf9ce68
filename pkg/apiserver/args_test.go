package apiserver

import (
	"slices"
	"strings"
	"testing"

	apioptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	cmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedoptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
)

func TestArgsList(t *testing.T) {
	a := Args{"b": "2", "a": "1", "c": "x=y"}
	if got := a.List(); !slices.Equal(got, []string{"--a=1", "--b=2", "--c=x=y"}) {
		t.Errorf("List() = %v", got)
	}
}

// The arguments must be flags the upstream components know: parse them with the components' own
// flag sets, as the daemon does.
func TestArgsParseUpstream(t *testing.T) {
	c := configtest.Cluster(t, func(o *config.Options) { o.APIPort = 6443 })
	p := NewPaths(c)

	s := apioptions.NewServerRunOptions()
	if err := parseArgs("kube-apiserver", s.Flags(), APIServerArgs(c, p)); err != nil {
		t.Error(err)
	}
	if s.GenericServerRunOptions.AdvertiseAddress.String() != "10.224.0.2" || s.SecureServing.BindAddress.String() != "127.0.0.1" || s.SecureServing.BindPort != 6443 {
		t.Errorf("apiserver serving: bind %v:%d advertise %v", s.SecureServing.BindAddress, s.SecureServing.BindPort, s.GenericServerRunOptions.AdvertiseAddress)
	}
	if s.EndpointReconcilerType != "lease" {
		t.Errorf("endpoint reconciler %q", s.EndpointReconcilerType)
	}
	if s.Authentication.Anonymous.Allow {
		t.Error("anonymous auth is on")
	}
	if !slices.Equal(s.Authorization.Modes, []string{"Node", "RBAC"}) {
		t.Errorf("authorization modes %v", s.Authorization.Modes)
	}
	if !slices.Equal(s.Etcd.StorageConfig.Transport.ServerList, []string{"unix://" + c.Path("etcd.sock")}) {
		t.Errorf("etcd servers %v", s.Etcd.StorageConfig.Transport.ServerList)
	}

	cm, err := cmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		t.Fatal(err)
	}
	if err := parseArgs("kube-controller-manager", cm.Flags(cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases()), ControllerManagerArgs(c, p)); err != nil {
		t.Error(err)
	}
	if err := cm.Validate(cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases()); err != nil {
		t.Errorf("controller-manager options do not validate: %v", err)
	}
	if !cm.KubeCloudShared.AllocateNodeCIDRs || cm.KubeCloudShared.ClusterCIDR != "10.244.0.0/16" {
		t.Errorf("overlay: node IPAM off or wrong range: %v %q", cm.KubeCloudShared.AllocateNodeCIDRs, cm.KubeCloudShared.ClusterCIDR)
	}

	sched := schedoptions.NewOptions()
	if err := parseArgs("kube-scheduler", *sched.Flags, SchedulerArgs(p)); err != nil {
		t.Error(err)
	}
}

func TestControllerManagerNodeIPAMPerMode(t *testing.T) {
	for _, tc := range []struct {
		plugin string
		want   bool
	}{{"", true}, {"kubenet", true}, {"azure", false}, {"none", false}} {
		c := configtest.Cluster(t, func(o *config.Options) { o.NetworkPlugin = tc.plugin })
		a := ControllerManagerArgs(c, NewPaths(c))
		if got := a["allocate-node-cidrs"] == "true"; got != tc.want {
			t.Errorf("plugin %q: allocate-node-cidrs = %v, want %v", tc.plugin, got, tc.want)
		}
	}
	c := configtest.Cluster(t, func(o *config.Options) { o.IPFamilies = []string{"ipv4", "ipv6"} })
	a := ControllerManagerArgs(c, NewPaths(c))
	if a["cluster-cidr"] != "10.244.0.0/16,fd12:3456:789a::/64" || a["node-cidr-mask-size-ipv6"] != "80" {
		t.Errorf("dual-stack IPAM args: %v", a)
	}
	if got := APIServerArgs(c, NewPaths(c))["service-cluster-ip-range"]; got != "10.0.0.0/16,fd12:3456:789a:1::/108" {
		t.Errorf("dual-stack service range %q", got)
	}
}

func TestControllerManagerLeavesCloudControllersOff(t *testing.T) {
	c := configtest.Cluster(t, nil)
	ctrls := ControllerManagerArgs(c, NewPaths(c))["controllers"]
	for _, cloud := range []string{"service", "route", "cloud-node-lifecycle"} {
		if slices.Contains(strings.Split(ctrls, ","), cloud) {
			t.Errorf("controllers %q names cloud controller %s", ctrls, cloud)
		}
	}
}
