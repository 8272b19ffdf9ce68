package helloworld

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
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

// defaultTitle is the title when $TITLE is unset, the one the AKS tutorials set.
const defaultTitle = "Welcome to Azure Kubernetes Service (AKS)"

func init() {
	images.Register(&images.Image{
		Name: "aks-helloworld",
		References: []string{
			"mcr.microsoft.com/azuredocs/aks-helloworld",
			"neilpeterson/aks-helloworld",
		},
		Program:     "aks-helloworld",
		Entrypoint:  []string{"/aks-helloworld"},
		Env:         []string{"LISTEN_PORT=80"},
		Ports:       []int{80},
		Paths:       []string{"/aks-helloworld"},
		Main:        Main,
		Description: "AKS tutorial hello-world page, titled from $TITLE, on port 80",
	})
}

// Main serves the page on port 80 ($LISTEN_PORT, as the uwsgi-nginx base image reads it)
// until SIGTERM or SIGINT.
func Main(args []string) int {
	port := os.Getenv("LISTEN_PORT")
	if port == "" {
		port = "80"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Print(err)
		return 1
	}
	title := os.Getenv("TITLE")
	if title == "" {
		title = defaultTitle
	}
	log.Printf("Running on http://0.0.0.0:%s/ (title %q)", port, title)
	ctx, _ := serve.SignalContext()
	if err := serve.HTTP(ctx, &http.Server{Handler: Handler(title, os.Stdout)}, ln, "", ""); err != nil {
		log.Print(err)
		return 1
	}
	return 0
}

// page is the app's templates/index.html, typo in the form tag included.
const page = `<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
    <link rel="stylesheet" type="text/css" href="/static/default.css">
    <title>{{title}}</title>

    <script language="JavaScript">
        function send(form){
        }
    </script>

</head>
<body>
    <div id="container">
        <form id="form" name="form" action="/"" method="post"><center>
        <div id="logo">{{title}}</div>
        <div id="space"></div>
        <img src="/static/acs.png" als="acs logo">
        <div id="form">
        </div>
    </div>
</body>
</html>
`

const css = `body {
    background-color:#FFFFFF;
}

div#container {
    margin-top:5%;
}

div#space {
    display:block;
    margin: 0 auto;
    width: 800px;
    height: 10px;
}

div#logo {
    display:block;
    margin: 0 auto;
    width: 800px;
    text-align: center;
    font-size:30px;
    font-family:Helvetica;
}

div#form {
    padding: 20px;
    padding-right: 20px;
    padding-top: 20px;
    display:block;
    margin: 0 auto;
    width: 500px;
    text-align: center;
    font-size:30px;
    font-family:Helvetica;
}
`

// Handler serves the page at "/" (GET and POST, as the Flask app does), its stylesheet and
// logo under /static/, logging each request to out.
func Handler(title string, out io.Writer) http.Handler {
	index := []byte(strings.ReplaceAll(page, "{{title}}", html.EscapeString(title)))
	logo := logoPNG()
	started := time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(index)
	})
	mux.HandleFunc("GET /static/default.css", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "default.css", started, strings.NewReader(css))
	})
	mux.HandleFunc("GET /static/acs.png", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "acs.png", started, bytes.NewReader(logo))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx")
		rec := &serve.Recorder{ResponseWriter: w}
		mux.ServeHTTP(rec, r)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(out, "%s - - [%s] \"%s %s %s\" %d %d \"%s\" \"%s\" \"-\"\n",
			host, time.Now().Format("02/Jan/2006:15:04:05 -0700"), r.Method, r.RequestURI, r.Proto,
			rec.Status, rec.Length, dash(r.Referer()), dash(r.UserAgent()))
	})
}

// logoPNG draws the stand-in for the tutorial's logo: an Azure-blue square.
func logoPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{0x00, 0x78, 0xd4, 0xff})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
