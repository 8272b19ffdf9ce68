package nodes

import (
	"context"
	"io"
	"os/exec"
	"time"

	"github.com/creack/pty"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// runWithTTY runs cmd on a new pseudo-terminal: stdin goes in, the terminal's output comes out
// on stdout, and resize events resize it (kubectl exec -t).
func runWithTTY(ctx context.Context, cmd *exec.Cmd, stdin io.Reader, stdout io.Writer, resize <-chan remotecommand.TerminalSize) error {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	tty, err := pty.Start(cmd)
	if err != nil {
		return err
	}
	defer tty.Close()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case size, ok := <-resize:
				if !ok {
					return
				}
				_ = pty.Setsize(tty, &pty.Winsize{Rows: size.Height, Cols: size.Width})
			}
		}
	}()
	if stdin != nil {
		go func() { _, _ = io.Copy(tty, stdin) }()
	}
	if stdout == nil {
		stdout = io.Discard
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(stdout, tty) // ends with EIO once the command's side is closed and drained
		close(copied)
	}()
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(time.Second): // a background process still holds the terminal
	}
	return err
}
