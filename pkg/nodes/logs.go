package nodes

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Container log files, as the kubelet keeps them: CRI format, rotated by size.
const (
	logMaxSize  = 10 << 20 // containerLogMaxSize
	logMaxFiles = 5        // containerLogMaxFiles, the live file included
	// logMaxLine is where a line is cut into partial (P) entries, as containerd does.
	logMaxLine = 16 << 10
)

// logFile is a container's log file: `<timestamp> <stream> <P|F> <text>` lines, stdout and
// stderr kept apart by their tag. It rotates into <path>.<timestamp> files when it grows past
// logMaxSize.
type logFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64
}

func openLog(path string) (*logFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{path: path, f: f, size: fi.Size()}, nil
}

// Stream returns the writer of one stream ("stdout" or "stderr").
func (l *logFile) Stream(name string) io.Writer { return &logStream{file: l, name: name} }

// Close closes the file.
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// appendEntry appends one CRI log entry to b.
func appendEntry(b []byte, now time.Time, stream string, partial bool, text []byte) []byte {
	tag := " F "
	if partial {
		tag = " P "
	}
	b = now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, tag...)
	b = append(b, text...)
	return append(b, '\n')
}

// write appends entries (whole lines made by appendEntry) to the file in one write, then
// rotates it if it grew past logMaxSize.
func (l *logFile) write(entries []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.f.Write(entries)
	l.size += int64(n)
	if err == nil && l.size > logMaxSize {
		err = l.rotate()
	}
	return err
}

// rotate moves the live file aside and starts a new one, keeping logMaxFiles in all.
func (l *logFile) rotate() error {
	if err := l.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(l.path, l.path+"."+time.Now().UTC().Format("20060102-150405.000000000")); err != nil {
		return err
	}
	old, _ := filepath.Glob(l.path + ".*")
	sort.Strings(old)
	for len(old) > logMaxFiles-1 {
		_ = os.Remove(old[0])
		old = old[1:]
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	l.f, l.size = f, 0
	return nil
}

// logStream cuts one stream's output into lines.
type logStream struct {
	file *logFile
	name string
	buf  []byte
	// out holds the entries of one Write, written to the file at once: a busy container
	// writes many lines at a time, and each costs a system call otherwise.
	out []byte
}

// Write writes every complete line, and cuts any line longer than logMaxLine into partial (P)
// entries of logMaxLine, its last piece being the full (F) entry, as containerd does.
func (s *logStream) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	now := time.Now()
	out := s.out[:0]
	for {
		if len(out) >= logMaxLine {
			// In pieces of about a line's greatest size, so that a file rotates close to
			// logMaxSize.
			if err := s.file.write(out); err != nil {
				return 0, err
			}
			out = out[:0]
		}
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 && len(s.buf) < logMaxLine {
			break
		}
		if i < 0 || i > logMaxLine {
			out = appendEntry(out, now, s.name, true, s.buf[:logMaxLine])
			s.buf = s.buf[logMaxLine:]
			continue
		}
		out = appendEntry(out, now, s.name, false, s.buf[:i])
		s.buf = s.buf[i+1:]
	}
	// Keep the unterminated rest at the start of the buffer, so that it does not grow.
	s.buf = append(s.buf[:0], s.buf...)
	s.out = out
	if len(out) == 0 {
		return len(p), nil
	}
	if err := s.file.write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is left of an unterminated last line, as a full entry.
func (s *logStream) Flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	err := s.file.write(appendEntry(nil, time.Now(), s.name, false, s.buf))
	s.buf = nil
	return err
}
