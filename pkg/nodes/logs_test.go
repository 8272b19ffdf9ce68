package nodes

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	crilogs "k8s.io/cri-client/pkg/logs"

	"github.com/minaks/minaks/pkg/nodes/container"
)

// criEntry is one line of a CRI log file.
type criEntry struct {
	stream, tag, text string
}

// readCRILog parses a CRI log file, checking each line's timestamp.
func readCRILog(t *testing.T, path string) []criEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a newline", path)
	}
	var out []criEntry
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		parts := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 4)
		if len(parts) != 4 {
			t.Errorf("line %q is not <time> <stream> <tag> <text>", line)
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, parts[0]); err != nil {
			t.Errorf("line %q: %v", line, err)
		}
		out = append(out, criEntry{parts[1], parts[2], parts[3]})
	}
	return out
}

func TestLogFile(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 2500) // 40000 bytes
	for _, tc := range []struct {
		name   string
		writes []struct{ stream, data string }
		flush  bool
		want   []criEntry
	}{
		{
			name: "lines, streams apart",
			writes: []struct{ stream, data string }{
				{"stdout", "hello\nwor"}, {"stderr", "oops\n"}, {"stdout", "ld\n\n"}, {"stderr", "tab\there \n"},
			},
			want: []criEntry{{"stdout", "F", "hello"}, {"stderr", "F", "oops"}, {"stdout", "F", "world"}, {"stdout", "F", ""},
				{"stderr", "F", "tab\there "}},
		},
		{
			name:   "unterminated last line flushed",
			writes: []struct{ stream, data string }{{"stdout", "one\ntwo"}, {"stderr", "err"}},
			flush:  true,
			want:   []criEntry{{"stdout", "F", "one"}, {"stdout", "F", "two"}, {"stderr", "F", "err"}},
		},
		{
			name:   "unterminated last line kept without flush",
			writes: []struct{ stream, data string }{{"stdout", "one\ntwo"}},
			want:   []criEntry{{"stdout", "F", "one"}},
		},
		{
			name:   "long line without newline, flushed",
			writes: []struct{ stream, data string }{{"stdout", long}},
			flush:  true,
			want:   []criEntry{{"stdout", "P", long[:16384]}, {"stdout", "P", long[16384:32768]}, {"stdout", "F", long[32768:]}},
		},
		{
			name:   "long line with its newline in one write",
			writes: []struct{ stream, data string }{{"stdout", long + "\nnext\n"}},
			want: []criEntry{{"stdout", "P", long[:16384]}, {"stdout", "P", long[16384:32768]}, {"stdout", "F", long[32768:]},
				{"stdout", "F", "next"}},
		},
		{
			name:   "long line in two writes",
			writes: []struct{ stream, data string }{{"stdout", long[:20000]}, {"stdout", long[20000:] + "\n"}},
			want:   []criEntry{{"stdout", "P", long[:16384]}, {"stdout", "P", long[16384:32768]}, {"stdout", "F", long[32768:]}},
		},
		{
			name:   "long line in small writes",
			writes: logChunks("stdout", long+"\n", 1000),
			want:   []criEntry{{"stdout", "P", long[:16384]}, {"stdout", "P", long[16384:32768]}, {"stdout", "F", long[32768:]}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c", "0.log")
			l, err := openLog(path)
			if err != nil {
				t.Fatal(err)
			}
			streams := map[string]*logStream{"stdout": l.Stream("stdout").(*logStream), "stderr": l.Stream("stderr").(*logStream)}
			for _, w := range tc.writes {
				if n, err := streams[w.stream].Write([]byte(w.data)); err != nil || n != len(w.data) {
					t.Fatalf("write %d bytes: %d, %v", len(w.data), n, err)
				}
			}
			if tc.flush {
				for _, s := range []string{"stdout", "stderr"} {
					if err := streams[s].Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(summarizeEntries(tc.want), summarizeEntries(readCRILog(t, path))); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// summarizeEntries renders entries as "<stream> <tag> <text>", long texts by their length and ends.
func summarizeEntries(entries []criEntry) []string {
	var out []string
	for _, e := range entries {
		text := e.text
		if len(text) > 40 {
			text = fmt.Sprintf("%d bytes %q…%q", len(text), text[:8], text[len(text)-8:])
		}
		out = append(out, e.stream+" "+e.tag+" "+text)
	}
	return out
}

func logChunks(stream, s string, n int) []struct{ stream, data string } {
	var out []struct{ stream, data string }
	for len(s) > n {
		out = append(out, struct{ stream, data string }{stream, s[:n]})
		s = s[n:]
	}
	return append(out, struct{ stream, data string }{stream, s})
}

// TestLogFileAppends checks that a log file opened again (a container's second run into the
// same path) is appended to.
func TestLogFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	for _, line := range []string{"first\n", "second\n"} {
		l, err := openLog(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Stream("stdout").Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	want := []criEntry{{"stdout", "F", "first"}, {"stdout", "F", "second"}}
	if diff := cmp.Diff(want, readCRILog(t, path), cmp.AllowUnexported(criEntry{})); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

func TestLogRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	l, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out := l.Stream("stdout")
	// Large writes without newlines: 16 KiB partial entries, logMaxFiles+2 files' worth.
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for written := 0; written < (logMaxFiles+2)*logMaxSize; written += len(chunk) {
		if _, err := out.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := out.Write([]byte("\nthe end\n")); err != nil {
		t.Fatal(err)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rotated []string
	for _, e := range entries {
		if e.Name() == "0.log" {
			continue
		}
		if !strings.HasPrefix(e.Name(), "0.log.") {
			t.Errorf("unexpected file %s", e.Name())
		}
		rotated = append(rotated, e.Name())
		fi, _ := e.Info()
		if fi.Size() <= logMaxSize || fi.Size() > logMaxSize+logMaxLine+100 {
			t.Errorf("rotated %s has %d bytes, want just over %d", e.Name(), fi.Size(), logMaxSize)
		}
	}
	if len(rotated) != logMaxFiles-1 {
		t.Errorf("%d rotated files %v, want %d beside the live one", len(rotated), rotated, logMaxFiles-1)
	}
	if !sort.StringsAreSorted(rotated) {
		t.Errorf("rotated names do not sort by age: %v", rotated)
	}
	live := readCRILog(t, path)
	if n := len(live); n < 1 || live[n-1] != (criEntry{"stdout", "F", "the end"}) {
		t.Errorf("the live file does not end with the last line: %d entries", n)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() > logMaxSize {
		t.Errorf("live file: %v, %v bytes", err, fi.Size())
	}
}

// TestReadLogsBack reads a log file with the kubelet's reader through containerStatus, as
// ContainerLogs does.
func TestReadLogsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	l, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stdout, stderr := l.Stream("stdout").(*logStream), l.Stream("stderr").(*logStream)
	long := strings.Repeat("y", 20000)
	for _, w := range []struct {
		s    *logStream
		data string
	}{{stdout, "out 1\n"}, {stderr, "err 1\n"}, {stdout, long}, {stdout, "\n"}, {stdout, "unterminated"}} {
		if _, err := w.s.Write([]byte(w.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := stdout.Flush(); err != nil {
		t.Fatal(err)
	}

	w := &podWorker{}
	c := &ctr{spec: v1.Container{Name: "c"}}
	read := func(opts *v1.PodLogOptions, status *containerStatus) (string, string, error) {
		var o, e bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := crilogs.ReadLogs(ctx, path, status.id, logOptions(opts, time.Now()), status, &o, &e)
		return o.String(), e.String(), err
	}

	t.Run("all", func(t *testing.T) {
		o, e, err := read(&v1.PodLogOptions{}, &containerStatus{w: w, c: c, id: "cid"})
		if err != nil {
			t.Fatal(err)
		}
		if want := "out 1\n" + long + "\nunterminated\n"; o != want {
			t.Errorf("stdout %q, want %q", shortenLog(o), shortenLog(want))
		}
		if e != "err 1\n" {
			t.Errorf("stderr %q", e)
		}
	})
	t.Run("tail", func(t *testing.T) {
		o, _, err := read(&v1.PodLogOptions{TailLines: ptrInt64Log(1)}, &containerStatus{w: w, c: c, id: "cid"})
		if err != nil {
			t.Fatal(err)
		}
		if o != "unterminated\n" {
			t.Errorf("tail 1: %q", shortenLog(o))
		}
	})
	t.Run("follow until the container stops", func(t *testing.T) {
		w.mu.Lock()
		c.proc, c.id = &container.Process{}, "cid"
		w.mu.Unlock()
		type result struct {
			o   string
			err error
		}
		done := make(chan result, 1)
		go func() {
			o, _, err := read(&v1.PodLogOptions{Follow: true}, &containerStatus{w: w, c: c, id: "cid"})
			done <- result{o, err}
		}()
		time.Sleep(100 * time.Millisecond)
		if _, err := stdout.Write([]byte("more\n")); err != nil {
			t.Error(err)
		}
		select {
		case r := <-done:
			t.Fatalf("follow ended while the container runs: %q", shortenLog(r.o))
		case <-time.After(200 * time.Millisecond):
		}
		w.mu.Lock()
		c.proc = nil
		w.mu.Unlock()
		_ = os.Chmod(path, 0o640) // an event for the reader to look again
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !strings.HasSuffix(r.o, "unterminated\nmore\n") {
				t.Errorf("followed stdout ends %q", shortenLog(r.o))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("follow did not end after the container stopped")
		}
	})
}

func ptrInt64Log(v int64) *int64 { return &v }

func shortenLog(s string) string {
	if len(s) > 80 {
		return s[:30] + "…" + s[len(s)-30:]
	}
	return s
}
