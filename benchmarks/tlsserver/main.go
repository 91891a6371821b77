// Command tlsserver is an SMTP server with STARTTLS and implicit TLS on a goroutine per
// connection (the project's in-process test server, internal/testpeer, as a program): a
// point of comparison for go-smtp-sink in benchmarks/tls.sh (SERVER=tlsserver). It accepts
// every message and prints its counts when it gets SIGTERM/SIGINT.
//
//	tlsserver -listen 127.0.0.1:2525 [-implicit] [-cert cert.pem -key key.pem]
//
// Without -cert it makes a self-signed ECDSA P-256 certificate for 127.0.0.1/localhost.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:2525", "address to listen on")
	implicit := flag.Bool("implicit", false, "implicit TLS (SMTPS) instead of STARTTLS")
	certFile := flag.String("cert", "", "certificate PEM file (default: self-signed)")
	keyFile := flag.String("key", "", "key PEM file")
	flag.Parse()
	cert, err := certificate(*certFile, *keyFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tlsserver: %v\n", err)
		os.Exit(1)
	}
	srv, err := testpeer.ListenTLSServer(*listen, testpeer.TLSServerConfig{
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Implicit: *implicit, Pipelining: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "tlsserver: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", srv.Addr)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
	srv.Stop()
	fmt.Printf("sessions=%d handshakes=%d resumed=%d messages=%d\n",
		srv.Sessions.Load(), srv.Handshakes.Load(), srv.Resumed.Load(), srv.Messages.Load())
}

func certificate(certFile, keyFile string) (tls.Certificate, error) {
	if certFile != "" {
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
