package command

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"

	"github.com/urfave/cli/v3"
)

// tlsFlags let `deputy serve` speak HTTPS itself instead of behind a
// TLS-terminating proxy.
func tlsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate chain to serve HTTPS with (with --tls-key); a renewed file is picked up without a restart", Sources: env("tls-cert")},
		&cli.StringFlag{Name: "tls-key", Usage: "PEM private key of --tls-cert", Sources: env("tls-key")},
	}
}

// tlsFrom returns the TLS configuration the flags describe, or nil for plain HTTP.
func tlsFrom(cmd *cli.Command) (*tls.Config, error) {
	certFile, keyFile := cmd.String("tls-cert"), cmd.String("tls-key")
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if err := kp.reload(); err != nil {
		return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}, GetCertificate: kp.certificate}, nil
}

// keyPair is a certificate and its key read from PEM files, read again when
// either file changes, so that a renewed certificate is served from the next
// handshake on. A renewal that does not load (a half-written file) leaves the
// certificate that was loaded before.
type keyPair struct {
	certFile, keyFile string

	mu     sync.Mutex
	cert   *tls.Certificate
	loaded []os.FileInfo // the two files as they were when cert was loaded
}

func (k *keyPair) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now, err := k.stat(); err == nil && changed(k.loaded, now) {
		_ = k.reloadLocked()
	}
	return k.cert, nil
}

// changed reports whether any file is another file (renamed into place), or
// was written to, since before.
func changed(before, now []os.FileInfo) bool {
	for i := range now {
		if !os.SameFile(before[i], now[i]) || !before[i].ModTime().Equal(now[i].ModTime()) || before[i].Size() != now[i].Size() {
			return true
		}
	}
	return false
}

func (k *keyPair) reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked()
}

func (k *keyPair) reloadLocked() error {
	files, err := k.stat()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return err
	}
	k.cert, k.loaded = &cert, files
	return nil
}

func (k *keyPair) stat() ([]os.FileInfo, error) {
	var files []os.FileInfo
	for _, f := range []string{k.certFile, k.keyFile} {
		info, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		files = append(files, info)
	}
	return files, nil
}

// onLoopback reports whether addr (host:port) listens on a loopback address only.
func onLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopbackHost(host)
}

// plainBeyondLoopback reports whether raw is a plain http URL whose host is
// not this machine: a service Deputy posts codes or personal details to.
func plainBeyondLoopback(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "http" && !loopbackHost(u.Hostname())
}

// loopbackHost reports whether host names this machine: localhost or a
// loopback address.
func loopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
