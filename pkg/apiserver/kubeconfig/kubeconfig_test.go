package kubeconfig

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestMergeKeepsOtherEntriesAndRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	existing := New("kind-kind", "https://127.0.0.1:40000", []byte("ca"), []byte("cert"), []byte("key"))
	existing.Contexts["kind-kind"].Namespace = "dev"
	if err := Write(path, existing); err != nil {
		t.Fatal(err)
	}
	target := Target{Path: path}

	a := New("minaks-a", "https://127.0.0.1:6443", []byte("ca-a"), []byte("c"), []byte("k"))
	b := New("minaks-b", "https://127.0.0.1:6444", []byte("ca-b"), []byte("c"), []byte("k"))
	for _, cfg := range []*clientcmdapi.Config{a, b} {
		if err := Merge(target, cfg); err != nil {
			t.Fatal(err)
		}
	}
	got, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentContext != "minaks-b" {
		t.Errorf("current context %q, want minaks-b", got.CurrentContext)
	}
	for _, n := range []string{"kind-kind", "minaks-a", "minaks-b"} {
		if got.Contexts[n] == nil || got.Clusters[n] == nil || got.AuthInfos[n] == nil {
			t.Errorf("entry %s missing after merge", n)
		}
	}
	if got.Contexts["kind-kind"].Namespace != "dev" || got.Clusters["minaks-a"].Server != "https://127.0.0.1:6443" {
		t.Errorf("entries changed: %+v %+v", got.Contexts["kind-kind"], got.Clusters["minaks-a"])
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}

	if err := Remove(target, "minaks-b"); err != nil {
		t.Fatal(err)
	}
	got, _ = clientcmd.LoadFromFile(path)
	if got.Contexts["minaks-b"] != nil || got.Clusters["minaks-b"] != nil || got.AuthInfos["minaks-b"] != nil {
		t.Error("minaks-b still present after Remove")
	}
	if got.CurrentContext != "" || got.Contexts["minaks-a"] == nil || got.Contexts["kind-kind"] == nil {
		t.Errorf("after Remove: current %q, contexts %v", got.CurrentContext, got.Contexts)
	}
	if Has(target, "minaks-b") || !Has(target, "minaks-a") {
		t.Error("Has disagrees with the file")
	}
}

func TestMergeCreatesFileAndRemoveMissing(t *testing.T) {
	dir := t.TempDir()
	target := Target{Path: filepath.Join(dir, ".kube", "config")}
	if err := Remove(target, "minaks-x"); err != nil {
		t.Fatalf("Remove on a missing file: %v", err)
	}
	if err := Merge(target, New("minaks-x", "https://127.0.0.1:6443", nil, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(target.Path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("created file: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(target.Path)); len(entries) != 1 {
		t.Errorf("stray files next to the kubeconfig: %v", entries)
	}
}

func TestDefaultTarget(t *testing.T) {
	t.Setenv("SUDO_UID", "")
	t.Setenv("KUBECONFIG", "/a/config:/b/config")
	if got := DefaultTarget("").Path; got != "/a/config" {
		t.Errorf("with $KUBECONFIG: %s", got)
	}
	if got := DefaultTarget("/flag/config").Path; got != "/flag/config" {
		t.Errorf("with flag: %s", got)
	}
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", "/home/someone")
	if got := DefaultTarget("").Path; got != "/home/someone/.kube/config" {
		t.Errorf("default: %s", got)
	}
}
