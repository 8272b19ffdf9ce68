package agnhost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"k8s.io/kubernetes/test/images/agnhost/net/common"
	"k8s.io/kubernetes/test/images/agnhost/net/nat"
)

// netRunners are agnhost net's runners, upstream's own code (test/images/agnhost/net/nat).
var netRunners = map[string]common.Runner{
	"nat-closewait-client": nat.NewCloseWaitClient(),
	"nat-closewait-server": nat.NewCloseWaitServer(),
}

// netMain is agnhost net: it runs a runner given by --runner with the JSON --options, or serves
// POST /run/<runner> with the options as the body (--serve).
func netMain(args []string) int {
	fs := newFlags("net")
	names := make([]string, 0, len(netRunners))
	for n := range netRunners {
		names = append(names, n)
	}
	sort.Strings(names)
	serve := fs.String("serve", "", "Address and port to bind to (e.g. 127.0.0.1:8080); runners are then triggered through HTTP requests")
	runner := fs.String("runner", "", "Runner to execute (available: "+strings.Join(names, " ")+")")
	options := fs.String("options", "", "JSON options to the Runner")
	delay := fs.Int("delay-shutdown", 0, "Number of seconds to delay shutdown when receiving SIGTERM")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(os.Stderr, "Error: accepts at most 0 arg(s), received %d\n", len(pos))
		return 1
	}
	if *runner == "" && *serve == "" {
		fmt.Fprintln(os.Stderr, "Must set either --runner or --serve, see --help")
		return 1
	}
	if *delay > 0 {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			log.Printf("Sleeping %d seconds before terminating...", *delay)
			time.Sleep(time.Duration(*delay) * time.Second)
			os.Exit(0)
		}()
	}
	if *serve == "" {
		out, err := runNetRunner(*runner, *options)
		if err != nil {
			log.Printf("Error: %v", err)
		}
		fmt.Print("output:\n\n" + out)
		if err != nil {
			return 1
		}
		return 0
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/run/", handleNetRun)
	log.Printf("Running server on %v", *serve)
	log.Print(http.ListenAndServe(*serve, mux))
	return 1
}

// runNetRunner runs the runner name with the JSON options and returns what it logged.
func runNetRunner(name, options string) (string, error) {
	r, ok := netRunners[name]
	if !ok {
		return "", fmt.Errorf("invalid runner: %q, see --help", name)
	}
	opts := r.NewOptions()
	if err := json.Unmarshal([]byte(options), opts); err != nil {
		return "", fmt.Errorf("invalid options JSON: %v", err)
	}
	log.Printf("Options: %+v", opts)
	var out bytes.Buffer
	err := r.Run(log.New(&out, "# ", log.Lshortfile), opts)
	return out.String(), err
}

func handleNetRun(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.URL.Path, "/")
	if len(parts) != 3 {
		http.Error(w, fmt.Sprintf("invalid request to run: %v", parts), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || len(body) == 0 {
		http.Error(w, "Missing request body", http.StatusBadRequest)
		return
	}
	out, err := runNetRunner(parts[2], string(body))
	if err != nil {
		http.Error(w, fmt.Sprintf("Error from runner: %v\noutput:\n\n%s", err, out), http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, "ok\noutput:\n\n"+out)
}
