package proxy

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/kubernetes/pkg/apis/apps"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	appsvalidation "k8s.io/kubernetes/pkg/apis/apps/validation"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	"k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/capabilities"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
)

func TestApply(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	c := configtest.Cluster(t, func(o *config.Options) { o.APIPort = 6443 })
	for range 2 { // idempotent
		if err := Apply(ctx, client, c, "v1.37.2"); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := client.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := ds.Spec.Template.Spec
	if !pod.HostNetwork || pod.ServiceAccountName != "kube-proxy" || pod.Containers[0].Image != "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.37.2" {
		t.Errorf("pod spec: hostNetwork %v, SA %q, image %q", pod.HostNetwork, pod.ServiceAccountName, pod.Containers[0].Image)
	}
	if !strings.Contains(strings.Join(pod.Containers[0].Command, " "), "--hostname-override=$(NODE_NAME)") {
		t.Errorf("command %v", pod.Containers[0].Command)
	}
	// The DaemonSet as the API server would validate it.
	internal := &apps.DaemonSet{}
	legacyscheme.Scheme.Default(ds)
	if err := legacyscheme.Scheme.Convert(ds, internal, nil); err != nil {
		t.Fatal(err)
	}
	internal.ResourceVersion = "1"
	capabilities.Initialize(capabilities.Capabilities{AllowPrivileged: true}) // the API server's --allow-privileged
	if errs := appsvalidation.ValidateDaemonSet(internal, validation.PodValidationOptions{}); len(errs) > 0 {
		t.Errorf("DaemonSet invalid: %v", errs.ToAggregate())
	}

	cm, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Load([]byte(cm.Data["kubeconfig.conf"]))
	if err != nil {
		t.Fatal(err)
	}
	if s := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster].Server; s != "https://10.224.0.2:6443" {
		t.Errorf("kube-proxy's API server %q, want the in-VNet address", s)
	}
	if !strings.Contains(cm.Data["config.conf"], "mode: iptables") {
		t.Errorf("config.conf:\n%s", cm.Data["config.conf"])
	}
	crb, err := client.RbacV1().ClusterRoleBindings().Get(ctx, "system:kube-proxy", metav1.GetOptions{})
	if err != nil || crb.RoleRef.Name != "system:node-proxier" {
		t.Errorf("binding: %v %v", crb, err)
	}
}
