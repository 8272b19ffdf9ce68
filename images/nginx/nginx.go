package nginx

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/images/internal/serve"
)

const (
	// version is the nginx release this program stands for.
	version = "1.27.5"
	// portEnv is the variable that moves the listening port. It is Bitnami's name; the
	// unprivileged images set it to their port in their config.
	portEnv = "NGINX_HTTP_PORT_NUMBER"
	// webRoot is where the stock configuration serves files from.
	webRoot = "/usr/share/nginx/html"
	// pathEnv is the images' PATH, through which "nginx" in their command finds /usr/sbin/nginx.
	pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

func init() {
	cmd := []string{"nginx", "-g", "daemon off;"}
	images.Register(&images.Image{
		Name: "nginx",
		References: []string{
			"nginx",
			"mcr.microsoft.com/oss/nginx/nginx",
			"registry.k8s.io/e2e-test-images/nginx",
			"gcr.io/kubernetes-e2e-test-images/nginx",
		},
		Program:     "nginx",
		Cmd:         cmd,
		Env:         []string{pathEnv, "NGINX_VERSION=" + version},
		Ports:       []int{80},
		Paths:       []string{"/usr/sbin/nginx"},
		Main:        Main,
		General:     true,
		Description: "nginx " + version + ": the default page, or files mounted at " + webRoot,
	})
	images.Register(&images.Image{
		Name:        "nginx-unprivileged",
		References:  []string{"nginxinc/nginx-unprivileged"},
		Program:     "nginx",
		Cmd:         cmd,
		Env:         []string{pathEnv, "NGINX_VERSION=" + version, portEnv + "=8080"},
		Ports:       []int{8080},
		Paths:       []string{"/usr/sbin/nginx"},
		Main:        Main,
		General:     true,
		Description: "nginx " + version + " on port 8080",
	})
	images.Register(&images.Image{
		Name:       "bitnami-nginx",
		References: []string{"bitnami/nginx"},
		Program:    "nginx",
		Cmd:        cmd,
		Env: []string{
			"PATH=/opt/bitnami/common/bin:/opt/bitnami/nginx/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"APP_VERSION=" + version, "BITNAMI_APP_NAME=nginx", portEnv + "=8080",
		},
		Ports:       []int{8080, 8443},
		Paths:       []string{"/opt/bitnami/nginx/sbin/nginx"},
		Main:        Main,
		General:     true,
		Description: "Bitnami nginx " + version + " on port 8080 ($" + portEnv + ")",
	})
}

// Main runs nginx with its command line. It takes nginx's options: -g (ignored, the
// configuration is built in), -c and -p (ignored), -t and -T (the test passes), -v and -V,
// -s (nothing to signal), -q, -e. It listens on port 80, or $NGINX_HTTP_PORT_NUMBER.
func Main(args []string) int {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-g", "-c", "-p", "-e":
			i++
		case "-v":
			fmt.Fprintf(os.Stderr, "nginx version: nginx/%s\n", version)
			return 0
		case "-V":
			fmt.Fprintf(os.Stderr, "nginx version: nginx/%s\nbuilt in minaks\nconfigure arguments: --prefix=/etc/nginx\n", version)
			return 0
		case "-t", "-T":
			fmt.Fprintln(os.Stderr, "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok")
			fmt.Fprintln(os.Stderr, "nginx: configuration file /etc/nginx/nginx.conf test is successful")
			return 0
		case "-s":
			if i+1 >= len(args) {
				fmt.Fprintln(os.Stderr, `nginx: option "-s" requires parameter`)
				return 1
			}
			return 0
		case "-q", "-h", "-?":
			if a != "-q" {
				fmt.Fprintf(os.Stderr, "nginx version: nginx/%s\nUsage: nginx [-?hvVtTq] [-s signal] [-p prefix] [-e filename] [-c filename] [-g directives]\n", version)
				return 0
			}
		default:
			fmt.Fprintf(os.Stderr, "nginx: invalid option: \"%s\"\n", strings.TrimPrefix(a, "-"))
			return 1
		}
	}
	port := 80
	if v := os.Getenv(portEnv); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p <= 0 || p > 65535 {
			errorLog("emerg", fmt.Sprintf("invalid port in \"%s\" of the \"listen\" directive ($%s)", v, portEnv))
			return 1
		}
		port = p
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		errorLog("emerg", fmt.Sprintf("bind() to 0.0.0.0:%d failed (%v)", port, err))
		return 1
	}
	root := ""
	if fi, err := os.Stat(webRoot); err == nil && fi.IsDir() {
		root = webRoot
	}
	errorLog("notice", "using the \"epoll\" event method")
	errorLog("notice", "nginx/"+version)
	errorLog("notice", "start worker processes")
	ctx, sig := serve.SignalContext(syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	srv := &http.Server{Handler: Handler(root, os.Stdout), ErrorLog: log.New(io.Discard, "", 0)}
	if err := serve.HTTP(ctx, srv, ln, "", ""); err != nil {
		errorLog("emerg", err.Error())
		return 1
	}
	s := sig()
	switch s {
	case syscall.SIGQUIT:
		errorLog("notice", "signal 3 (SIGQUIT) received, shutting down")
	default:
		errorLog("notice", fmt.Sprintf("signal %d (%s) received, exiting", s.(syscall.Signal), sigName(s)))
	}
	errorLog("notice", "exit")
	return 0
}

func sigName(s os.Signal) string {
	if s == syscall.SIGINT {
		return "SIGINT"
	}
	return "SIGTERM"
}

// errorLog writes an error-log line to stderr as nginx does:
// 2024/01/02 15:04:05 [notice] 1#1: start worker processes
func errorLog(level, msg string) {
	fmt.Fprintf(os.Stderr, "%s [%s] %d#%d: %s\n", time.Now().Format("2006/01/02 15:04:05"), level, os.Getpid(), os.Getpid(), msg)
}

// Handler serves the files under root as the stock nginx configuration does (index.html for
// directories, no listings), falling back to the image's own pages ("Welcome to nginx!" at
// "/") where root has nothing; an empty root serves only those. It logs each request to
// access in nginx's "main" format.
func Handler(root string, access io.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &serve.Recorder{ResponseWriter: w}
		rec.Header().Set("Server", "nginx")
		serveFile(rec, r, root)
		fmt.Fprintf(access, "%s - - [%s] \"%s %s %s\" %d %d \"%s\" \"%s\" \"%s\"\n",
			host(r.RemoteAddr), time.Now().Format("02/Jan/2006:15:04:05 -0700"),
			r.Method, r.RequestURI, r.Proto, rec.Status, rec.Length,
			dash(r.Referer()), dash(r.UserAgent()), dash(r.Header.Get("X-Forwarded-For")))
	})
}

func serveFile(w http.ResponseWriter, r *http.Request, root string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		errorPage(w, r, http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	code := http.StatusNotFound
	if root != "" {
		if code = serveRoot(w, r, root, p); code == 0 {
			return
		}
	}
	// The image's own index.html and 50x.html, unless files mounted over them answered.
	if code == http.StatusNotFound || code == http.StatusForbidden {
		switch p {
		case "/", "/index.html":
			http.ServeContent(w, r, "index.html", started, strings.NewReader(defaultPage))
			return
		case "/50x.html":
			http.ServeContent(w, r, "50x.html", started, strings.NewReader(page50x))
			return
		}
	}
	errorPage(w, r, code)
}

// serveRoot serves path p from under root and returns 0, or returns the error status for
// which nothing was written.
func serveRoot(w http.ResponseWriter, r *http.Request, root, p string) int {
	name := filepath.Join(root, filepath.FromSlash(p))
	fi, err := os.Stat(name)
	if err == nil && fi.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			loc := r.URL.Path + "/"
			if r.URL.RawQuery != "" {
				loc += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", loc)
			errorPage(w, r, http.StatusMovedPermanently)
			return 0
		}
		name = filepath.Join(name, "index.html")
		if fi, err = os.Stat(name); err != nil {
			return http.StatusForbidden // autoindex off
		}
	}
	switch {
	case os.IsNotExist(err):
		return http.StatusNotFound
	case err != nil:
		return http.StatusForbidden
	case !fi.Mode().IsRegular():
		return http.StatusNotFound
	}
	f, err := os.Open(name)
	if err != nil {
		return http.StatusForbidden
	}
	defer f.Close()
	w.Header().Set("ETag", fmt.Sprintf("\"%x-%x\"", fi.ModTime().Unix(), fi.Size()))
	http.ServeContent(w, r, name, fi.ModTime(), f)
	return 0
}

// errorPage writes nginx's built-in page for code.
func errorPage(w http.ResponseWriter, r *http.Request, code int) {
	text := fmt.Sprintf("%d %s", code, http.StatusText(code))
	body := fmt.Sprintf("<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", text, text)
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// started is the Last-Modified of the built-in pages.
var started = time.Now().UTC().Truncate(time.Second)

const defaultPage = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`

const page50x = `<!DOCTYPE html>
<html>
<head>
<title>Error</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.<br/>
Please try again later.</p>
<p>If you are the system administrator of this resource then you should check
the error log for details.</p>
<p><em>Faithfully yours, nginx.</em></p>
</body>
</html>
`
