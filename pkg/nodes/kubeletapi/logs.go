package kubeletapi

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// getLogs serves /logs/, the node's /var/log as the kubelet's system log handler serves it
// (a file server): here the node's part of it, pods/<namespace>_<name>_<uid>/<container>/<n>.log
// of the pods bound to the node, from s.logDir.
func (s *Server) getLogs(w http.ResponseWriter, req *http.Request) {
	rel := strings.TrimPrefix(path.Clean(req.URL.Path), "/logs")
	rel = strings.TrimPrefix(rel, "/")
	if s.logDir == "" {
		http.NotFound(w, req)
		return
	}
	dirs := s.podLogDirs()
	parts := strings.SplitN(rel, "/", 3)
	switch {
	case rel == "":
		listing(w, req, []string{"pods/"})
	case rel == "pods":
		names := make([]string, len(dirs))
		for i, d := range dirs {
			names[i] = d + "/"
		}
		listing(w, req, names)
	case parts[0] == "pods" && slices.Contains(dirs, parts[1]):
		http.ServeFile(w, req, filepath.Join(s.logDir, filepath.FromSlash(rel)))
	default:
		http.NotFound(w, req)
	}
}

// podLogDirs are the log directories of the pods bound to the node, sorted.
func (s *Server) podLogDirs() []string {
	var dirs []string
	for _, p := range s.rt.Pods() {
		dirs = append(dirs, fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID))
	}
	slices.Sort(dirs)
	return dirs
}

// listing writes a directory listing as net/http's file server does; a directory's URL
// without its final slash is redirected to it, as there.
func listing(w http.ResponseWriter, req *http.Request, names []string) {
	if !strings.HasSuffix(req.URL.Path, "/") {
		http.Redirect(w, req, path.Base(req.URL.Path)+"/", http.StatusMovedPermanently)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintln(w, "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>")
	for _, n := range names {
		u := url.URL{Path: n}
		fmt.Fprintf(w, "<a href=\"%s\">%s</a>\n", u.String(), html.EscapeString(n))
	}
	fmt.Fprintln(w, "</pre>")
}
