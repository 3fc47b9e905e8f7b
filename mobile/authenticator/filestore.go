package authenticator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// ErrCorruptCredential means a stored credential file could not be decoded.
var ErrCorruptCredential = errors.New("corrupt credential file")

// credentialFileVersion is the version of the credential file format written
// by FileStore; decodeCredentialFile accepts no other.
const credentialFileVersion = 1

// maxCredentialFileSize bounds what FileStore reads from one file.
const maxCredentialFileSize = 64 << 10

// credentialFileExt is the extension of credential files; FileStore ignores
// every other file in its directory.
const credentialFileExt = ".cred"

// FileStore is a KeyStore in a directory, for desktop builds: one file per
// credential, named by the hex SHA-256 of the credential id (fixed length and
// safe on case-insensitive file systems), holding JSON with the credential's
// metadata, its signature counter and its private key as PKCS#8 DER. Files
// are created with mode 0600 in a directory created with mode 0700, and every
// change (including each counter increment) is written to a temporary file,
// synced and renamed over the old one, so a crash leaves either the old or
// the new content.
//
// A FileStore is safe for concurrent use within one process. Two processes
// must not use the same directory at once: the counter increment is atomic
// only within a process.
type FileStore struct {
	dir string
	mu  sync.Mutex
}

var _ KeyStore = (*FileStore)(nil)

// OpenFileStore opens (creating it if needed, mode 0700) the FileStore in dir.
func OpenFileStore(dir string) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("authenticator: empty FileStore directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening credential store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening credential store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening credential store: %s is not a directory", dir)
	}
	return &FileStore{dir: dir}, nil
}

// Dir returns the store's directory.
func (s *FileStore) Dir() string { return s.dir }

// path returns the file that holds the credential with id.
func (s *FileStore) path(id []byte) string {
	sum := sha256.Sum256(id)
	return filepath.Join(s.dir, hex.EncodeToString(sum[:])+credentialFileExt)
}

// Save implements KeyStore. c.Key must be an *ecdsa.PrivateKey.
func (s *FileStore) Save(c Credential) error {
	data, err := encodeCredentialFile(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.path(c.ID)
	if _, err := os.Lstat(p); err == nil {
		return ErrCredentialExists
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("saving credential: %w", err)
	}
	return writeFileAtomic(p, data)
}

// Load implements KeyStore.
func (s *FileStore) Load(id []byte) (Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(id)
}

func (s *FileStore) load(id []byte) (Credential, error) {
	if len(id) == 0 {
		return Credential{}, ErrNoCredential
	}
	c, err := readCredentialFile(s.path(id))
	if err != nil {
		return Credential{}, err
	}
	if !bytes.Equal(c.ID, id) {
		return Credential{}, fmt.Errorf("%w: %s holds another credential", ErrCorruptCredential, filepath.Base(s.path(id)))
	}
	return c, nil
}

// List implements KeyStore. A file that cannot be decoded fails the whole
// List with ErrCorruptCredential rather than being skipped silently.
func (s *FileStore) List(rpID string) ([]Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing credentials: %w", err)
	}
	var out []Credential
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), credentialFileExt) {
			continue
		}
		c, err := readCredentialFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if c.RPID == rpID {
			out = append(out, c)
		}
	}
	sortByID(out)
	return out, nil
}

// Delete implements KeyStore.
func (s *FileStore) Delete(id []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.load(id); err != nil {
		return err
	}
	if err := os.Remove(s.path(id)); err != nil {
		return fmt.Errorf("deleting credential: %w", err)
	}
	return syncDir(s.dir)
}

// NextCounter implements KeyStore: the new counter is on disk (file synced
// and renamed into place) before it is returned.
func (s *FileStore) NextCounter(id []byte) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.load(id)
	if err != nil {
		return 0, err
	}
	if c.SignCount == math.MaxUint32 {
		return 0, ErrCounterOverflow
	}
	c.SignCount++
	data, err := encodeCredentialFile(c)
	if err != nil {
		return 0, err
	}
	if err := writeFileAtomic(s.path(id), data); err != nil {
		return 0, err
	}
	return c.SignCount, nil
}

// readCredentialFile reads and decodes the credential file at path; a missing
// file is ErrNoCredential.
func readCredentialFile(path string) (Credential, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credential{}, ErrNoCredential
	}
	if err != nil {
		return Credential{}, fmt.Errorf("reading credential: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCredentialFileSize+1))
	if err != nil {
		return Credential{}, fmt.Errorf("reading credential: %w", err)
	}
	c, err := decodeCredentialFile(data)
	if err != nil {
		return Credential{}, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return c, nil
}

// credentialFile is the JSON in a FileStore file. Byte slices are standard
// base64 (encoding/json's encoding of []byte).
type credentialFile struct {
	Version         int    `json:"version"`
	ID              []byte `json:"id"`
	RPID            string `json:"rpId"`
	RPName          string `json:"rpName,omitempty"`
	UserHandle      []byte `json:"userHandle"`
	UserName        string `json:"userName,omitempty"`
	UserDisplayName string `json:"userDisplayName,omitempty"`
	SignCount       uint32 `json:"signCount"`
	// PrivateKey is the PKCS#8 DER encoding of the ECDSA P-256 key (RFC 5208).
	PrivateKey []byte `json:"privateKey"`
}

// encodeCredentialFile encodes c as a credential file.
func encodeCredentialFile(c Credential) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	key, ok := c.Key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: FileStore needs an *ecdsa.PrivateKey, got %T", ErrInvalidRequest, c.Key)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return json.MarshalIndent(credentialFile{
		Version:         credentialFileVersion,
		ID:              c.ID,
		RPID:            c.RPID,
		RPName:          c.RPName,
		UserHandle:      c.UserHandle,
		UserName:        c.UserName,
		UserDisplayName: c.UserDisplayName,
		SignCount:       c.SignCount,
		PrivateKey:      der,
	}, "", "  ")
}

// decodeCredentialFile decodes a credential file, accepting exactly one JSON
// object of the current version with no unknown members, and a valid
// credential with a P-256 PKCS#8 key. Errors match ErrCorruptCredential and
// never quote the key.
func decodeCredentialFile(data []byte) (Credential, error) {
	if len(data) > maxCredentialFileSize {
		return Credential{}, fmt.Errorf("%w: larger than %d bytes", ErrCorruptCredential, maxCredentialFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f credentialFile
	if err := dec.Decode(&f); err != nil {
		return Credential{}, fmt.Errorf("%w: %v", ErrCorruptCredential, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Credential{}, fmt.Errorf("%w: trailing data", ErrCorruptCredential)
	}
	if f.Version != credentialFileVersion {
		return Credential{}, fmt.Errorf("%w: version %d, want %d", ErrCorruptCredential, f.Version, credentialFileVersion)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(f.PrivateKey)
	if err != nil {
		return Credential{}, fmt.Errorf("%w: private key is not PKCS#8", ErrCorruptCredential)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return Credential{}, fmt.Errorf("%w: private key is not ECDSA P-256", ErrCorruptCredential)
	}
	c := Credential{
		ID:              f.ID,
		RPID:            f.RPID,
		RPName:          f.RPName,
		UserHandle:      f.UserHandle,
		UserName:        f.UserName,
		UserDisplayName: f.UserDisplayName,
		Key:             key,
		SignCount:       f.SignCount,
	}
	if err := c.Validate(); err != nil {
		return Credential{}, fmt.Errorf("%w: %w", ErrCorruptCredential, err)
	}
	return c, nil
}

// writeFileAtomic replaces path with data: it writes a 0600 temporary file in
// the same directory, syncs it, renames it over path and syncs the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod makes it explicit and independent
	// of the umask.
	if err = tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return syncDir(dir)
}

// syncDir makes a rename or removal in dir durable. Windows cannot sync a
// directory; there the rename is as durable as the file system makes it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing credential directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing credential directory: %w", err)
	}
	return nil
}
