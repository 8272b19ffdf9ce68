package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Grace is how long a server waits for open requests when told to stop.
const Grace = 5 * time.Second

// SignalContext returns a context cancelled when one of sigs arrives (SIGTERM and SIGINT if
// none are given), and the signal that cancelled it once it is done.
func SignalContext(sigs ...os.Signal) (context.Context, func() os.Signal) {
	if len(sigs) == 0 {
		sigs = []os.Signal{syscall.SIGTERM, syscall.SIGINT}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	ctx, cancel := context.WithCancel(context.Background())
	var got os.Signal
	done := make(chan struct{})
	go func() {
		got = <-ch
		close(done)
		cancel()
	}()
	return ctx, func() os.Signal {
		<-done
		return got
	}
}

// HTTP serves srv on ln until ctx is done, then shuts it down, giving open requests Grace to
// finish. It returns nil after a shutdown and the serving error otherwise. With certFile set
// it serves TLS.
func HTTP(ctx context.Context, srv *http.Server, ln net.Listener, certFile, keyFile string) error {
	errc := make(chan error, 1)
	go func() {
		if certFile != "" || srv.TLSConfig != nil && len(srv.TLSConfig.Certificates) > 0 {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), Grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Recorder remembers a response's status and body size, for access logs.
type Recorder struct {
	http.ResponseWriter
	Status, Length int
}

func (r *Recorder) WriteHeader(s int) {
	if r.Status == 0 {
		r.Status = s
	}
	r.ResponseWriter.WriteHeader(s)
}

func (r *Recorder) Write(b []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.Length += n
	return n, err
}
