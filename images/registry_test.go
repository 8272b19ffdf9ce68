package images_test

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minaks/minaks/images"
	_ "github.com/minaks/minaks/images/all"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		ref, want string
	}{
		{"nginx", "nginx"},
		{"nginx:1.27", "nginx"},
		{"nginx:latest", "nginx"},
		{"library/nginx", "nginx"},
		{"docker.io/nginx", "nginx"},
		{"docker.io/library/nginx:1.25-alpine", "nginx"},
		{"index.docker.io/library/nginx", "nginx"},
		{"registry-1.docker.io/library/nginx", "nginx"},
		{"nginx@" + digest, "nginx"},
		{"nginx:1.25@" + digest, "nginx"},
		{"mcr.microsoft.com/oss/nginx/nginx:1.21.6", "nginx"},
		{"mcr.microsoft.com/mirror/docker/library/nginx:1.25", "nginx"},
		{"mirror.gcr.io/library/nginx", "nginx"},
		{"registry.k8s.io/e2e-test-images/nginx:1.14-4", "nginx"},
		{"nginxinc/nginx-unprivileged:stable-alpine", "nginx-unprivileged"},
		{"docker.io/bitnami/nginx:1.27", "bitnami-nginx"},
		{"registry.k8s.io/e2e-test-images/agnhost:2.53", "agnhost"},
		{"k8s.gcr.io/e2e-test-images/agnhost:2.39", "agnhost"},
		{"gcr.io/kubernetes-e2e-test-images/agnhost:2.8", "agnhost"},
		{"registry.k8s.io/pause:3.10", "pause"},
		{"k8s.gcr.io/pause", "pause"},
		{"mcr.microsoft.com/oss/kubernetes/pause:3.6", "pause"},
		{"mcr.microsoft.com/oss/v2/kubernetes/pause:3.10", "pause"},
		{"busybox", "busybox"},
		{"busybox:1.36", "busybox"},
		{"registry.k8s.io/e2e-test-images/busybox:1.36.1-1", "busybox"},
		{"mcr.microsoft.com/cbl-mariner/busybox:2.0", "busybox"},
		{"mcr.microsoft.com/azurelinux/busybox:1.36", "busybox"},
		{"alpine:3.20", "alpine"},
		{"ubuntu:24.04", "ubuntu"},
		{"debian:bookworm-slim", "debian"},
		{"curlimages/curl:8.10.1", "curl"},
		{"nicolaka/netshoot", "netshoot"},
		{"hashicorp/http-echo", "http-echo"},
		{"docker.io/hashicorp/http-echo:1.0", "http-echo"},
		{"traefik/whoami:v1.10", "whoami"},
		{"containous/whoami", "whoami"},
		{"mcr.microsoft.com/azuredocs/aks-helloworld:v1", "aks-helloworld"},
	} {
		img, err := images.Lookup(tc.ref)
		if err != nil {
			t.Errorf("Lookup(%q): %v", tc.ref, err)
			continue
		}
		if img.Name != tc.want {
			t.Errorf("Lookup(%q) = %s, want %s", tc.ref, img.Name, tc.want)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want []string
	}{
		{"myregistry.azurecr.io/app:v1", []string{`"myregistry.azurecr.io/app:v1"`, "not a built-in image", "agnhost", "nginx", "pause", "explicit command"}},
		{"localhost:5000/nginx", []string{"localhost:5000/nginx", "not a built-in image"}},
		{"nginxdemos/hello", []string{"docker.io/nginxdemos/hello", "not a built-in image"}},
		{"redis", []string{"docker.io/library/redis", "not a built-in image"}},
		{"", []string{"empty image reference"}},
		{"Nginx", []string{"must be lowercase"}},
		{"nginx@sha256:abc", []string{"invalid digest"}},
		{"nginx:bad:tag", []string{"invalid"}},
		{"nginx latest", []string{"white space"}},
	} {
		_, err := images.Lookup(tc.ref)
		if err == nil {
			t.Errorf("Lookup(%q) succeeded, want an error", tc.ref)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Lookup(%q) error %q does not contain %q", tc.ref, err, w)
			}
		}
	}
}

func TestImageID(t *testing.T) {
	nginx, _ := images.Lookup("nginx")
	agnhost, _ := images.Lookup("registry.k8s.io/e2e-test-images/agnhost:2.53")
	re := regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	id := images.ImageID(nginx, "nginx:1.27")
	if !re.MatchString(id) {
		t.Errorf("ImageID = %q, want sha256:<64 hex>", id)
	}
	if again := images.ImageID(nginx, "docker.io/library/nginx"); again != id {
		t.Errorf("ImageID not stable across references: %q, %q", id, again)
	}
	if other := images.ImageID(agnhost, "registry.k8s.io/e2e-test-images/agnhost:2.53"); other == id {
		t.Errorf("nginx and agnhost have the same ImageID %q", id)
	}
	if got := images.ImageID(nginx, "nginx@"+digest); got != digest {
		t.Errorf("ImageID of a pinned reference = %q, want %q", got, digest)
	}
}

func TestAll(t *testing.T) {
	all := images.All()
	if !slices.IsSortedFunc(all, func(a, b *images.Image) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("All() is not sorted by name")
	}
	names := map[string]bool{}
	for _, img := range all {
		names[img.Name] = true
		if img.Description == "" {
			t.Errorf("%s has no description", img.Name)
		}
		if !img.Shell && (img.Main == nil || img.Program == "" || len(img.Paths) == 0) {
			t.Errorf("%s: a program image needs Main, Program and Paths", img.Name)
		}
		if img.Shell && len(img.Cmd) == 0 {
			t.Errorf("%s: a shell image needs the real image's Cmd", img.Name)
		}
	}
	for _, n := range []string{"agnhost", "pause", "nginx", "http-echo", "whoami", "aks-helloworld", "busybox"} {
		if !names[n] {
			t.Errorf("All() lacks %s", n)
		}
	}
}

var (
	dispatchOnce sync.Once
	got          []string
)

func TestMainDispatch(t *testing.T) {
	dispatchOnce.Do(func() {
		images.Register(&images.Image{
			Name:        "test-dispatch",
			References:  []string{"example.com/minaks/test-dispatch"},
			Program:     "test-dispatch",
			Aliases:     []string{"test-dispatch-2"},
			Paths:       []string{"/test-dispatch"},
			Main:        func(args []string) int { got = args; return 42 },
			Description: "test",
		})
	})
	for _, argv0 := range []string{"/test-dispatch", "test-dispatch", "./bin/test-dispatch-2"} {
		got = nil
		code, ok := images.Main(argv0, []string{"a", "b"})
		if !ok || code != 42 || !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("Main(%q) = %d, %v with args %q; want 42, true, [a b]", argv0, code, ok, got)
		}
	}
	for _, argv0 := range []string{"minaks", "/usr/local/bin/minaks", "", "sh"} {
		if code, ok := images.Main(argv0, nil); ok {
			t.Errorf("Main(%q) = %d, true; want not dispatched", argv0, code)
		}
	}
	// The registered programs dispatch too.
	if _, ok := images.Main("/agnhost", []string{"--version"}); !ok {
		t.Error("Main(/agnhost) not dispatched")
	}
	if _, ok := images.Main("/usr/sbin/nginx", []string{"-v"}); !ok {
		t.Error("Main(/usr/sbin/nginx) not dispatched")
	}
	// A set-user-ID copy runs only the programs of set-user-ID images.
	for argv0, want := range map[string]bool{"/usr/local/bin/nnp": true, "nnp": true, "/agnhost": false, "test-dispatch": false, "minaks-init": false, "sh": false} {
		if got := images.SetUIDProgram(argv0); got != want {
			t.Errorf("SetUIDProgram(%q) = %v, want %v", argv0, got, want)
		}
	}
}

func TestRegisterRejectsClash(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Register of a taken reference did not panic")
		}
	}()
	images.Register(&images.Image{
		Name: "clash", References: []string{"docker.io/library/nginx"}, Program: "clash",
		Paths: []string{"/clash"}, Main: func([]string) int { return 0 },
	})
}
