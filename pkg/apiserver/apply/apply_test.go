package apply

import (
	"context"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestObjects(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	cm := &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"}, Data: map[string]string{"config.conf": "a"}}
	if err := Objects(ctx, client, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["config.conf"] = "b"
	if err := Objects(ctx, client, cm); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["config.conf"] != "b" {
		t.Errorf("second apply not taken: %v", got.Data)
	}
	if cm.Kind != "" {
		t.Error("Objects changed its argument")
	}
	if err := Objects(ctx, client, &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}); err == nil {
		t.Error("a Pod was applied")
	}
}
