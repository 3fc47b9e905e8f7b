package command_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with serial to
// certFile and its key to keyFile, and returns the certificate.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "deputy test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	// Written beside and renamed into place, as certificate renewal tools do.
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		require.NoError(t, os.WriteFile(file+".new", pem.EncodeToMemory(block), 0o600))
		require.NoError(t, os.Rename(file+".new", file))
	}
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// TestServeTLS: with --tls-cert and --tls-key, serve speaks HTTPS only, and a
// renewed certificate is served from the next connection on, without a restart.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, 1)
	s := startServe(t, "--sandbox", "--db", filepath.Join(dir, "deputy.db"), "--tls-cert", certFile, "--tls-key", keyFile)
	assert.Contains(t, s.logs.String(), `"tls":true`)

	// get fetches /healthz over a new HTTPS connection trusting roots, and
	// returns the serial of the certificate the server presented.
	get := func(roots ...*x509.Certificate) (int64, error) {
		pool := x509.NewCertPool()
		for _, c := range roots {
			pool.AddCert(c)
		}
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
		res, err := client.Get("https://" + s.addr + "/healthz")
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, uint16(tls.VersionTLS13), res.TLS.Version)
		return res.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
	}
	serial, err := get(first)
	require.NoError(t, err)
	assert.Equal(t, int64(1), serial)

	res, err := s.client.Get("http://" + s.addr + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "plain HTTP is refused")

	second := writeCert(t, certFile, keyFile, 2)
	serial, err = get(first, second)
	require.NoError(t, err)
	assert.Equal(t, int64(2), serial, "the renewed certificate, without a restart")

	require.NoError(t, os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nhalf"), 0o600))
	serial, err = get(second)
	require.NoError(t, err)
	assert.Equal(t, int64(2), serial, "a renewal that does not load keeps the certificate before it")
}

func TestServeRefusesBadTLSFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", certFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-key", keyFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", keyFile}, "missing.pem"},
		{[]string{"--tls-cert", keyFile, "--tls-key", certFile}, "--tls-cert, --tls-key"},
	} {
		_, err := run(t, 10*time.Second, append([]string{"serve", "--sandbox", "--db", filepath.Join(dir, "deputy.db"), "--addr", "127.0.0.1:0"}, tt.args...)...)
		if assert.Error(t, err, "%v", tt.args) {
			assert.Contains(t, err.Error(), tt.want, "%v", tt.args)
		}
	}
}
