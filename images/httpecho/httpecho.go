package httpecho

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/images/internal/serve"
)

// version is the http-echo release this program stands for.
const version = "1.0.0"

func init() {
	images.Register(&images.Image{
		Name:        "http-echo",
		References:  []string{"hashicorp/http-echo", "mcr.microsoft.com/mirror/hashicorp/http-echo"},
		Program:     "http-echo",
		Entrypoint:  []string{"/http-echo"},
		Ports:       []int{5678},
		Paths:       []string{"/http-echo"},
		Main:        Main,
		Description: "hashicorp/http-echo " + version + ": answers every request with -text",
	})
}

// Main runs http-echo with its command-line flags (-text, -listen, -status-code, …).
func Main(args []string) int {
	fs := flag.NewFlagSet("http-echo", flag.ContinueOnError)
	listen := fs.String("listen", ":5678", "address and port to listen")
	text := fs.String("text", "", "text to put on the webpage")
	textFile := fs.String("text-file", "", "file whose content to put on the webpage")
	showVersion := fs.Bool("version", false, "display version information")
	status := fs.Int("status-code", 200, "http response code, e.g.: 200")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintf(os.Stderr, "http-echo v%s\n", version)
		return 0
	}
	echo := os.Getenv("ECHO_TEXT")
	if *text != "" {
		echo = *text
	} else if *textFile != "" {
		data, err := os.ReadFile(*textFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "Cannot read -text-file: %v\n", err)
			return 127
		}
		echo = strings.TrimRight(string(data), "\n")
	}
	if echo == "" {
		fmt.Fprintln(os.Stderr, "Missing -text option or ECHO_TEXT env var!")
		return 127
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "Too many arguments!")
		return 127
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Printf("[ERR] server exited with: %s", err)
		return 1
	}
	ctx, sig := serve.SignalContext()
	log.Printf("[INFO] server is listening on %s\n", *listen)
	go func() {
		<-ctx.Done()
		log.Printf("[INFO] received interrupt, shutting down...")
	}()
	if err := serve.HTTP(ctx, &http.Server{Handler: Handler(echo, *status, os.Stdout)}, ln, "", ""); err != nil {
		log.Printf("[ERR] server exited with: %s", err)
		return 1
	}
	_ = sig()
	// As upstream: an interrupt is not a clean exit.
	return 2
}

// Handler answers "/" (and every path) with text and a newline with the given status,
// logging each request to out, and "/health" with {"status":"ok"}.
func Handler(text string, status int, out io.Writer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", logged(out, appHeaders(status, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, text)
	})))
	mux.HandleFunc("/health", appHeaders(http.StatusOK, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"status":"ok"}`)
	}))
	return mux
}

func appHeaders(status int, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-App-Name", "http-echo")
		w.Header().Set("X-App-Version", version)
		w.WriteHeader(status)
		h(w, r)
	}
}

// recorder remembers a response's status and length for the log line.
type recorder struct {
	http.ResponseWriter
	status, length int
}

func (r *recorder) WriteHeader(s int) {
	r.status = s
	r.ResponseWriter.WriteHeader(s)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.length = len(b)
	return r.ResponseWriter.Write(b)
}

// logged logs each request as http-echo does:
// 2006/01/02 15:04:05 host remote "GET / HTTP/1.1" 200 6 "curl/8.0" 12.3µs
func logged(out io.Writer, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		start := time.Now()
		h(rec, r)
		end := time.Now()
		fmt.Fprintf(out, "%v %s %s \"%s %s %s\" %d %d \"%s\" %v\n",
			end.Format("2006/01/02 15:04:05"), r.Host, r.RemoteAddr, r.Method, r.URL.Path, r.Proto,
			rec.status, rec.length, r.UserAgent(), end.Sub(start))
	}
}
