// Command imagebench measures real images on a 3-node cluster: a pod's first start from a
// 50 MB image pulled from a registry on loopback, the same image once the host's store has it,
// and a built-in image in the same run; and the store's unpack throughput (a pull into an empty
// store: download, decompress, digests, overlay layers) next to tar -x of the same layers.
// The registry, the image and the cluster live only for the run.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sync/errgroup"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	ggcr "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/nodes/imagestore"
	"github.com/minaks/minaks/pkg/nodes/imagestore/imagestoretest"
	"github.com/minaks/minaks/test/bench/internal/benchcluster"
)

func main() {
	minaks := flag.String("minaks", "bin/minaks", "minaks binary")
	cold := flag.Int("cold", 10, "first starts, each with the image removed from the store")
	warm := flag.Int("warm", 60, "starts with the image in the store (and as many of a built-in image)")
	rate := flag.Float64("rate", 10, "pods created per second for the cached and built-in starts")
	runs := flag.Int("runs", 7, "unpack runs of each kind (the median is printed)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "imagebench: run as root (minaks up needs it)")
		os.Exit(1)
	}
	if err := bench(*minaks, *cold, *warm, *rate, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "imagebench:", err)
		os.Exit(1)
	}
}

func bench(minaks string, cold, warm int, rate float64, runs int) (err error) {
	app, err := buildApp()
	if err != nil {
		return err
	}
	layers, err := benchLayers(app)
	if err != nil {
		return err
	}
	img, err := benchImage(layers)
	if err != nil {
		return err
	}
	reg := imagestoretest.Start("", "")
	defer reg.Close()
	ref, err := reg.Write("bench/app:v1", img)
	if err != nil {
		return err
	}
	var size, unpacked int64
	for _, l := range layers {
		size += int64(len(l.gz))
		unpacked += l.files
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	store, tar, err := unpackRates(ctx, ref, layers, runs)
	if err != nil {
		return err
	}
	mbps := func(d time.Duration) float64 { return float64(unpacked) / (1 << 20) / d.Seconds() }
	fmt.Printf("\n%-58s %10s %10s\n", fmt.Sprintf("unpack, %d layers, %.0f MB shipped, %.0f MB of files (median of %d)", len(layers), float64(size)/1e6, float64(unpacked)/1e6, runs), "time", "MiB/s")
	fmt.Printf("%-58s %10v %10.0f\n", "minaks: pull into an empty store (loopback registry)", store.Round(time.Millisecond), mbps(store))
	fmt.Printf("%-58s %10v %10.0f\n", "baseline: tar -xzf of the same layers, 3 at a time", tar.Round(time.Millisecond), mbps(tar))
	fmt.Printf("minaks / tar: %.0f %% (target >= 80 %%)\n", 100*tar.Seconds()/store.Seconds())

	bc, err := benchcluster.Up(minaks, "imagebench", 100, 200)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bc.Down()) }()
	hostStore, err := imagestore.Open(filepath.Join(filepath.Dir(bc.StateDir), config.ImageStoreName))
	if err != nil {
		return err
	}

	first, err := firstStarts(ctx, bc, hostStore, ref, cold)
	if err != nil {
		return err
	}
	cached, _, err := bc.Startup(ctx, pods("cached", ref, warm), "bench=cached", rate)
	if err != nil {
		return err
	}
	builtin, _, err := bc.Startup(ctx, pods("builtin", "registry.k8s.io/pause:3.10", warm), "bench=builtin", rate)
	if err != nil {
		return err
	}
	fmt.Printf("\n%-58s %10s %10s %10s\n", fmt.Sprintf("pod startup, create -> Ready, %.0f MB image, 3 nodes", float64(size)/1e6), "p50", "p99", "max")
	for _, row := range []struct {
		what string
		d    []time.Duration
	}{
		{fmt.Sprintf("first start, pulled from loopback (%d, one at a time)", cold), first},
		{fmt.Sprintf("image in the store (%d at %.0f/s)", warm, rate), cached},
		{fmt.Sprintf("baseline: built-in pause (%d at %.0f/s)", warm, rate), builtin},
	} {
		p := func(q float64) time.Duration { return benchcluster.Percentile(row.d, q).Round(time.Millisecond) }
		fmt.Printf("%-58s %10v %10v %10v\n", row.what, p(0.5), p(0.99), row.d[len(row.d)-1].Round(time.Millisecond))
	}
	fmt.Printf("target: image in the store p99 <= 1s\n")
	return nil
}

// pods are n pods of image labelled bench=what, pulled if not present.
func pods(what, image string, n int) []*v1.Pod {
	out := make([]*v1.Pod, n)
	for i := range out {
		out[i] = &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", what, i), Labels: map[string]string{"bench": what}},
			Spec: v1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](0), Containers: []v1.Container{{
				Name: "app", Image: image, ImagePullPolicy: v1.PullIfNotPresent}}},
		}
	}
	return out
}

// firstStarts starts n pods of ref one after the other, each once the image is gone from the
// store (so each pulls it), and returns their startup times, sorted.
func firstStarts(ctx context.Context, bc *benchcluster.Cluster, store *imagestore.Store, ref string, n int) ([]time.Duration, error) {
	var out []time.Duration
	for i, p := range pods("first", ref, n) {
		// The previous pod's container is going: its layers are free once its overlay is.
		// Then they go too (as minaks image rm does), so that the pull downloads them.
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			_, err := store.Remove(ref)
			return err == nil || errors.Is(err, imagestore.ErrNotFound), nil
		})
		if err == nil {
			_, _, err = store.Prune(func(*imagestore.Image) bool { return true })
		}
		if err != nil {
			return nil, fmt.Errorf("remove %s before start %d: %w", ref, i, err)
		}
		d, _, err := bc.Startup(ctx, []*v1.Pod{p}, "bench=first", 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
	}
	slices.Sort(out)
	return out, nil
}

// unpackRates pulls ref into an empty store, and extracts the same layers with tar -xzf (3 at
// a time, as the store unpacks them), runs times each, alternating, and returns the medians.
func unpackRates(ctx context.Context, ref string, layers []layer, runs int) (store, tarx time.Duration, err error) {
	dir, err := os.MkdirTemp("", "minaks-imagebench-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	var blobs []string
	for i, l := range layers {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i))
		if err := os.WriteFile(p, l.gz, 0o644); err != nil {
			return 0, 0, err
		}
		blobs = append(blobs, p)
	}
	var st, tt []time.Duration
	for i := range runs {
		root := filepath.Join(dir, fmt.Sprintf("store%d", i))
		s, err := imagestore.Open(root)
		if err != nil {
			return 0, 0, err
		}
		d, err := timed(func() error { _, err := s.Pull(ctx, ref, imagestore.PullOptions{}); return err })
		if err != nil {
			return 0, 0, fmt.Errorf("pull %s: %w", ref, err)
		}
		st = append(st, d)
		if err := os.RemoveAll(root); err != nil {
			return 0, 0, err
		}

		out := filepath.Join(dir, fmt.Sprintf("tar%d", i))
		d, err = timed(func() error {
			var g errgroup.Group
			g.SetLimit(3)
			for j, b := range blobs {
				g.Go(func() error {
					to := filepath.Join(out, fmt.Sprint(j))
					if err := os.MkdirAll(to, 0o755); err != nil {
						return err
					}
					if b, err := exec.CommandContext(ctx, "tar", "-xzf", b, "-C", to).CombinedOutput(); err != nil {
						return fmt.Errorf("tar -xzf: %v: %s", err, b)
					}
					return nil
				})
			}
			return g.Wait()
		})
		if err != nil {
			return 0, 0, err
		}
		tt = append(tt, d)
		if err := os.RemoveAll(out); err != nil {
			return 0, 0, err
		}
	}
	slices.Sort(st)
	slices.Sort(tt)
	return st[len(st)/2], tt[len(tt)/2], nil
}

// timed runs f after writing back what earlier runs left dirty, and returns how long f and the
// write-back of what it wrote took.
func timed(f func() error) (time.Duration, error) {
	if err := exec.Command("sync").Run(); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := f(); err != nil {
		return 0, err
	}
	err := exec.Command("sync").Run()
	return time.Since(start), err
}

// layer is a gzipped layer tar and the bytes of the files in it.
type layer struct {
	gz    []byte
	files int64
}

// benchLayers are the benchmark image's layers, about 50 MB shipped, shaped like a
// distribution's: 2,500 small text files (compressible), 40 MiB of binaries (incompressible)
// in 1 MiB files, and the program with passwd and group.
func benchLayers(app []byte) ([]layer, error) {
	rnd := rand.New(rand.NewChaCha8([32]byte{'m', 'i', 'n', 'a', 'k', 's'}))
	words := strings.Fields("the of and to in is that for it as with was on be by at this from or which network pod service node cluster route policy address")
	text := map[string][]byte{}
	for i := range 2500 {
		var b bytes.Buffer
		for b.Len() < 8<<10 {
			b.WriteString(words[rnd.IntN(len(words))])
			b.WriteByte(" \n"[rnd.IntN(2)])
		}
		text[fmt.Sprintf("usr/share/doc/pkg%03d/file%d.txt", i/10, i%10)] = b.Bytes()
	}
	bins := map[string][]byte{}
	for i := range 40 {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 8 {
			v := rnd.Uint64()
			for k := range 8 {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		bins[fmt.Sprintf("usr/lib/bench/lib%02d.so", i)] = b
	}
	top := map[string][]byte{
		"app":        app,
		"etc/passwd": []byte("root:x:0:0:root:/root:/bin/sh\n"),
		"etc/group":  []byte("root:x:0:\n"),
	}
	var out []layer
	for _, files := range []map[string][]byte{text, bins, top} {
		l, err := tarGz(files)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// tarGz is a layer of files (parent directories added), gzipped as registries ship them.
func tarGz(files map[string][]byte) (layer, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	dirs := map[string]bool{}
	var l layer
	for _, name := range slices.Sorted(maps.Keys(files)) {
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			if dirs[d] {
				break
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(1700000000, 0)}); err != nil {
				return l, err
			}
		}
		mode := int64(0o644)
		if name == "app" || strings.HasSuffix(name, ".so") {
			mode = 0o755
		}
		b := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(b)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			return l, err
		}
		if _, err := tw.Write(b); err != nil {
			return l, err
		}
		l.files += int64(len(b))
	}
	if err := tw.Close(); err != nil {
		return l, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := io.Copy(zw, &raw); err != nil {
		return l, err
	}
	if err := zw.Close(); err != nil {
		return l, err
	}
	l.gz = gz.Bytes()
	return l, nil
}

// benchImage is the image of layers, running /app.
func benchImage(layers []layer) (ggcr.Image, error) {
	img := empty.Image
	for _, l := range layers {
		gz := l.gz
		tl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gz)), nil })
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, tl); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = imagestore.HostPlatform().OS, imagestore.HostPlatform().Architecture
	cf.Config = ggcr.Config{Entrypoint: []string{"/app"}, Env: []string{"PATH=/"}}
	return mutate.ConfigFile(img, cf)
}

// appSource is the benchmark image's program: it waits to be stopped.
const appSource = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
`

// buildApp builds appSource as a static binary.
func buildApp() ([]byte, error) {
	dir, err := os.MkdirTemp("", "minaks-imagebench-app-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(appSource), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module app\n\ngo 1.22\n"), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "build", "-o", "app", ".")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the image's program: %v: %s", err, out)
	}
	return os.ReadFile(filepath.Join(dir, "app"))
}
