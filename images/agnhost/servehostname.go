package agnhost

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// awaitDeletion is how long serve-hostname keeps serving after SIGTERM, as upstream does.
var awaitDeletion = 60 * time.Second

func serveHostnameMain(args []string) int {
	fs := newFlags("serve-hostname")
	doTCP := fs.Bool("tcp", false, "Serve raw over TCP.")
	doUDP := fs.Bool("udp", false, "Serve raw over UDP.")
	doHTTP := fs.Bool("http", true, "Serve HTTP.")
	doClose := fs.Bool("close", false, "Close connection per each HTTP request.")
	port := fs.Int("port", 9376, "Port number.")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if !maxArgs("serve-hostname", pos, 0) {
		return 1
	}
	if *doHTTP && (*doTCP || *doUDP) {
		log.Fatalf("Can't server TCP/UDP mode and HTTP mode at the same time")
	}
	name, err := os.Hostname()
	if err != nil {
		log.Fatalf("Error from os.Hostname(): %s", err)
	}
	addr := fmt.Sprintf(":%d", *port)
	if *doTCP {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatalf("Error from net.Listen(): %s", err)
		}
		go serveHostnameTCP(ln, name)
	}
	if *doUDP {
		conn, err := net.ListenPacket("udp", addr)
		if err != nil {
			log.Fatalf("Error from ListenUDP(): %s", err)
		}
		go serveHostnameUDP(conn, name)
	}
	if *doHTTP {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		go func() { log.Fatal(http.Serve(ln, hostnameHandler(name, *doClose))) }()
	}
	log.Printf("Serving on port %d.\n", *port)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)
	sig := <-signals
	log.Printf("Shutting down after receiving signal: %s.\n", sig)
	log.Printf("Awaiting pod deletion.\n")
	time.Sleep(awaitDeletion)
	return 0
}

// hostnameHandler answers every HTTP request with the hostname; with closeConn it closes the
// connection after each request.
func hostnameHandler(name string, closeConn bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("HTTP request from %s", r.RemoteAddr)
		if closeConn {
			w.Header().Add("Connection", "close")
		}
		fmt.Fprintf(w, "%s", name)
	})
}

// serveHostnameTCP writes the hostname to each connection on ln and closes it.
func serveHostnameTCP(ln net.Listener, name string) {
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			log.Fatalf("Error from Accept(): %s", err)
		}
		log.Printf("TCP request from %s", conn.RemoteAddr())
		conn.Write([]byte(name))
		conn.Close()
	}
}

// serveHostnameUDP answers each datagram on conn with the hostname.
func serveHostnameUDP(conn net.PacketConn, name string) {
	var buf [16]byte
	for {
		_, client, err := conn.ReadFrom(buf[:])
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			log.Fatalf("Error from ReadFrom(): %s", err)
		}
		log.Printf("UDP request from %s", client)
		conn.WriteTo([]byte(name), client)
	}
}
