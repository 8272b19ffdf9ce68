package images

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Image is a built-in image: what the real image's config says (entrypoint, command, working
// directory, environment, exposed ports) and the Go program that plays it.
type Image struct {
	// Name is the short name `minaks images` shows, e.g. "agnhost".
	Name string
	// References are the repositories the image answers to, any tag or digest, e.g.
	// "registry.k8s.io/e2e-test-images/agnhost" or "nginx" (read as docker.io/library/nginx).
	References []string
	// Program is the multi-call name the minaks binary runs the image as, e.g. "agnhost";
	// empty for shell images.
	Program string
	// Binary names the multi-call binary that holds Program: "" for minaks-run, the small
	// binary every container runs; KubeBinary for programs built on Kubernetes client
	// libraries (kube-proxy, CoreDNS), kept out of minaks-run so that an idle pod stays small.
	Binary string
	// Aliases are further names that run Program, e.g. "agnhost-2".
	Aliases []string
	// Entrypoint and Cmd are the image config's ENTRYPOINT and CMD.
	Entrypoint, Cmd []string
	// WorkingDir is the image config's WORKDIR; empty means "/".
	WorkingDir string
	// Env is the image config's environment ("KEY=value"); the pod's env entries override it.
	Env []string
	// Ports are the image's EXPOSE ports.
	Ports []int
	// Shell marks a shell-tool image: the pod's command runs with the tools root's tools.
	Shell bool
	// General marks a general-purpose image (nginx, busybox, alpine, curl, …) that minaks
	// stands in for rather than emulates: with `up --image-source auto` the real image is
	// pulled when its registry answers, and this one runs only when it does not.
	General bool
	// HostRoot marks an image whose program drives the host's tools as its real image carries
	// its own (iptables, ipset, nft: kube-proxy and the network policy agents): its root is the
	// host's. Every other built-in image's root is minaks's tools root (package toolroot):
	// BusyBox's applets and minaks's curl, dig, getent, nc and wget, whatever the host has.
	HostRoot bool
	// Paths are absolute paths at which Program must appear inside the container, e.g. "/agnhost".
	Paths []string
	// SetUID marks an image whose program is a set-user-ID and set-group-ID root file, as the
	// real image's is (nonewprivs): run by another user it runs as root, unless the container
	// may not gain privileges (allowPrivilegeEscalation: false). Its Binary must be minaks-run.
	SetUID bool
	// Carries are programs of other images the real image holds too, e.g. agnhost's /coredns.
	Carries []Carried
	// Main runs the program with the arguments after argv[0] and returns its exit code;
	// nil for shell images.
	Main func(args []string) int
	// Description is one line for `minaks images`.
	Description string
}

// Carried is a program an image holds besides its own: the binary holding it ("" or KubeBinary,
// as Image.Binary) appears at Path, whose base name names the program.
type Carried struct {
	Path, Binary string
}

// KubeBinary is the binary (cmd/minaks-kube) of the images whose programs use Kubernetes
// client libraries.
const KubeBinary = "minaks-kube"

var (
	mu       sync.RWMutex
	byRepo   = map[string]*Image{}
	byName   = map[string]*Image{}
	programs = map[string]func([]string) int{}
	setUID   = map[string]bool{} // the programs of SetUID images
	tools    []string
)

// Register adds img under each of its references. It panics on a malformed image or on a name,
// reference or program already taken by a different image: registration happens in init, and
// such a clash is a programming error. Images that share a program must share its Main.
func Register(img *Image) {
	mu.Lock()
	defer mu.Unlock()
	if img.Name == "" || len(img.References) == 0 {
		panic(fmt.Sprintf("images: image %q needs a name and at least one reference", img.Name))
	}
	if img.Shell != (img.Main == nil) || img.Shell != (img.Program == "") {
		panic(fmt.Sprintf("images: image %q: a shell image has no program and no Main, any other has both", img.Name))
	}
	if _, dup := byName[img.Name]; dup {
		panic(fmt.Sprintf("images: image name %q registered twice", img.Name))
	}
	repos := make([]string, 0, len(img.References))
	for _, ref := range img.References {
		r, err := parse(ref)
		if err != nil {
			panic(fmt.Sprintf("images: image %q: %v", img.Name, err))
		}
		if other, dup := byRepo[r.repo]; dup {
			panic(fmt.Sprintf("images: reference %s of %q already registered by %q", r.repo, img.Name, other.Name))
		}
		repos = append(repos, r.repo)
	}
	for _, p := range img.Paths {
		if !filepath.IsAbs(p) {
			panic(fmt.Sprintf("images: image %q: path %q is not absolute", img.Name, p))
		}
	}
	if img.SetUID && (img.Binary != "" || len(img.Paths) == 0) {
		panic(fmt.Sprintf("images: image %q: a set-user-ID program is minaks-run's, at a path", img.Name))
	}
	for _, c := range img.Carries {
		if !filepath.IsAbs(c.Path) {
			panic(fmt.Sprintf("images: image %q: path %q is not absolute", img.Name, c.Path))
		}
	}
	byName[img.Name] = img
	for _, r := range repos {
		byRepo[r] = img
	}
	if img.Main != nil {
		for _, p := range append([]string{img.Program}, img.Aliases...) {
			if _, taken := programs[p]; !taken {
				programs[p] = img.Main
			}
			setUID[p] = setUID[p] || img.SetUID
		}
	}
}

// RegisterTool adds a command of the tools root (curl, dig, getent, nc, wget): the multi-call binaries run main
// when called by name. It panics on a name already taken.
func RegisterTool(name string, main func(args []string) int) {
	mu.Lock()
	defer mu.Unlock()
	if _, taken := programs[name]; taken {
		panic(fmt.Sprintf("images: tool %q: the name is a program already", name))
	}
	programs[name] = main
	tools = append(tools, name)
}

// Tools are the names RegisterTool added, sorted.
func Tools() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(slices.Values(tools))
}

// Lookup returns the built-in image that ref names. ref is read as Docker reads it: no registry
// means docker.io, a single Docker Hub name means library/<name>, and any tag and digest are
// accepted (the built-in program stands for every version). Docker Hub mirrors on
// mcr.microsoft.com/mirror/docker/library and mirror.gcr.io count as Docker Hub.
func Lookup(ref string) (*Image, error) {
	r, err := parse(ref)
	if err != nil {
		return nil, err
	}
	mu.RLock()
	img, ok := byRepo[r.repo]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("image %q (%s) is not a built-in image (built-in images: %s): it is pulled "+
			"into the host's image store, or with --image-source builtin a container with an explicit command "+
			"runs that command with minaks's tools (BusyBox)", ref, r.repo, strings.Join(names(), ", "))
	}
	return img, nil
}

// ImageID returns the image ID that pod status reports for img pulled as ref: the digest in ref
// when ref pins one, else a stable digest of the image's name and program.
func ImageID(img *Image, ref string) string {
	if r, err := parse(ref); err == nil && r.digest != "" {
		return r.digest
	}
	sum := sha256.Sum256([]byte("minaks built-in image\x00" + img.Name + "\x00" + img.Program))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// HostToolsImageID is the image ID that pod status reports for ref when a container's command
// runs with minaks's tools in place of the image: a stable digest of ref.
func HostToolsImageID(ref string) string {
	sum := sha256.Sum256([]byte("host:" + ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// All returns the built-in images sorted by name.
func All() []*Image {
	mu.RLock()
	defer mu.RUnlock()
	all := make([]*Image, 0, len(byName))
	for _, img := range byName {
		all = append(all, img)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// Main runs the built-in program named by argv0's base name (a program or an alias) with args,
// the arguments after argv[0], and returns its exit code and true; for any other name it
// returns false and runs nothing. minaks calls it first thing, so that the binary re-executed
// as "/agnhost" or "nginx" becomes that program.
func Main(argv0 string, args []string) (code int, ok bool) {
	mu.RLock()
	run, ok := programs[filepath.Base(argv0)]
	mu.RUnlock()
	if !ok {
		return 0, false
	}
	return run(args), true
}

// SetUIDProgram reports whether argv0 names the program of a SetUID image: the only programs a
// set-user-ID copy of a multi-call binary runs.
func SetUIDProgram(argv0 string) bool {
	mu.RLock()
	defer mu.RUnlock()
	return setUID[filepath.Base(argv0)]
}

func names() []string {
	all := All()
	n := make([]string, len(all))
	for i, img := range all {
		n[i] = img.Name
	}
	return n
}

// ref is a parsed image reference.
type ref struct {
	repo   string // registry and path, e.g. docker.io/library/nginx
	tag    string
	digest string // algorithm:hex, empty when unpinned
}

var (
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE         = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE      = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`)
	sha256RE      = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// dockerHubMirrors are registry paths that serve Docker Hub's content under the same names.
var dockerHubMirrors = []string{
	"mcr.microsoft.com/mirror/docker/",
	"mirror.gcr.io/",
}

// parse splits an image reference into its normalized repository, tag and digest, with
// Docker's defaults (github.com/distribution/reference ParseNormalizedNamed).
func parse(s string) (ref, error) {
	var r ref
	orig := s
	if s == "" {
		return r, fmt.Errorf("empty image reference")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return r, fmt.Errorf("invalid image reference %q: contains white space", orig)
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		r.digest = s[i+1:]
		s = s[:i]
		if !digestRE.MatchString(r.digest) || (strings.HasPrefix(r.digest, "sha256:") && !sha256RE.MatchString(r.digest)) {
			return r, fmt.Errorf("invalid image reference %q: invalid digest %q", orig, r.digest)
		}
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i+1:], "/") {
		r.tag = s[i+1:]
		s = s[:i]
		if !tagRE.MatchString(r.tag) {
			return r, fmt.Errorf("invalid image reference %q: invalid tag %q", orig, r.tag)
		}
	}
	domain, path := "docker.io", s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		first := s[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
			domain, path = first, s[i+1:]
		}
	}
	switch domain {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		domain = "docker.io"
	}
	for _, m := range dockerHubMirrors {
		if full := domain + "/" + path; strings.HasPrefix(full, m) {
			domain, path = "docker.io", strings.TrimPrefix(full, m)
			break
		}
	}
	if domain == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if path == "" {
		return r, fmt.Errorf("invalid image reference %q: no repository name", orig)
	}
	for _, c := range strings.Split(path, "/") {
		if !pathComponent.MatchString(c) {
			if strings.ToLower(c) != c {
				return r, fmt.Errorf("invalid image reference %q: repository name must be lowercase", orig)
			}
			return r, fmt.Errorf("invalid image reference %q: invalid repository name component %q", orig, c)
		}
	}
	r.repo = domain + "/" + path
	return r, nil
}
