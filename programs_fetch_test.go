package backfill_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/backfill/backfill/lib/cli/bffetch"
)

func init() {
	programs["bf-fetch"] = bffetch.Main
	programs["fetch-html-server"] = htmlServer
	programs["fetch-mkcert"] = mkcert
}

// htmlServer stands in for whatever may answer at a wrong URL (a web
// application, a proxy's error page) in the fetch_* scripts:
//
//	fetch-html-server ADDRFILE
//
// It listens on a loopback port the kernel picks, writes the address to
// ADDRFILE, and answers every request with 200 and an HTML page until it
// is killed.
func htmlServer() int {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fetch-html-server ADDRFILE")
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetch-html-server:", err)
		return 1
	}
	tmp := os.Args[1] + ".tmp"
	if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil || os.Rename(tmp, os.Args[1]) != nil {
		fmt.Fprintln(os.Stderr, "fetch-html-server: cannot write", os.Args[1])
		return 1
	}
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>It works!</body></html>\n")
	}))
	fmt.Fprintln(os.Stderr, "fetch-html-server:", err)
	return 1
}

// mkcert writes a self-signed certificate for 127.0.0.1 and localhost and
// its key, for bf-serve's tls_cert and tls_key:
//
//	fetch-mkcert CERT KEY
func mkcert() int {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fetch-mkcert CERT KEY")
		return 2
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetch-mkcert:", err)
		return 1
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bf-serve test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetch-mkcert:", err)
		return 1
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetch-mkcert:", err)
		return 1
	}
	if err := os.WriteFile(os.Args[1], pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "fetch-mkcert:", err)
		return 1
	}
	if err := os.WriteFile(os.Args[2], pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "fetch-mkcert:", err)
		return 1
	}
	return 0
}
