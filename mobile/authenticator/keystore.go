package authenticator

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Credential is a WebAuthn public key credential source (WebAuthn §4) as the
// companion keeps it.
type Credential struct {
	// ID is the credential id: 1 to 1023 bytes.
	ID []byte
	// RPID is the relying party the credential is scoped to.
	RPID string
	// RPName is the relying party's display name at registration.
	RPName string
	// UserHandle is the relying party's user.id: 1 to 64 bytes.
	UserHandle []byte
	// UserName and UserDisplayName are the account names at registration.
	UserName        string
	UserDisplayName string
	// Key is the ECDSA P-256 private key. FileStore and MemoryStore hold an
	// *ecdsa.PrivateKey; a platform KeyStore returns a signer whose key stays
	// in the Android Keystore or the Secure Enclave. Sign must return an
	// ASN.1 DER signature, as crypto/ecdsa does.
	Key crypto.Signer
	// SignCount is the signature counter last returned by NextCounter (0 for
	// a credential that has never signed).
	SignCount uint32
}

// Validate reports whether c can be stored: id and user handle within
// WebAuthn's sizes, an RP ID, and an ECDSA P-256 key.
func (c Credential) Validate() error {
	switch {
	case len(c.ID) == 0 || len(c.ID) > maxCredentialIDLen:
		return fmt.Errorf("credential id must be 1 to %d bytes, got %d", maxCredentialIDLen, len(c.ID))
	case c.RPID == "":
		return fmt.Errorf("credential has no RP ID")
	case len(c.UserHandle) == 0 || len(c.UserHandle) > maxUserHandleLen:
		return fmt.Errorf("user handle must be 1 to %d bytes, got %d", maxUserHandleLen, len(c.UserHandle))
	}
	_, err := p256Public(c.Key)
	return err
}

// clone returns c with its byte slices copied; the key is shared, as keys
// are never modified.
func (c Credential) clone() Credential {
	c.ID = bytes.Clone(c.ID)
	c.UserHandle = bytes.Clone(c.UserHandle)
	return c
}

// KeyStore keeps the companion's credentials. Implementations must be safe
// for concurrent use. Desktop builds use FileStore; Android and iOS builds
// should pass New a KeyStore backed by the Android Keystore or the iOS
// Keychain and Secure Enclave (see the package documentation), and run the
// contract suite in package keystoretest against it.
type KeyStore interface {
	// Save stores a new credential. It fails with an error matching
	// ErrCredentialExists if the id is already held.
	Save(c Credential) error
	// Load returns the credential with id, or an error matching
	// ErrNoCredential.
	Load(id []byte) (Credential, error)
	// List returns the credentials for rpID, in a stable order (by id).
	List(rpID string) ([]Credential, error)
	// Delete removes the credential with id, or fails with an error
	// matching ErrNoCredential.
	Delete(id []byte) error
	// NextCounter atomically increments the credential's signature counter,
	// persists it, and returns the new value. At 2^32-1 it fails with
	// ErrCounterOverflow and leaves the counter unchanged; for an unknown id
	// it fails with ErrNoCredential.
	NextCounter(id []byte) (uint32, error)
}

// KeyGenerator is implemented by a KeyStore that creates credential keys
// itself, so that the private key never exists outside the platform keystore.
// Register calls GenerateKey, when the store implements it, with the new
// credential's id (for use as a key alias) and its RP ID, then Save with the
// returned signer.
type KeyGenerator interface {
	GenerateKey(ctx context.Context, credentialID []byte, rpID string) (crypto.Signer, error)
}

// MemoryStore is a KeyStore in memory, for tests and for companions that must
// not persist keys. The zero value is ready to use.
type MemoryStore struct {
	mu    sync.Mutex
	creds map[string]Credential
}

var _ KeyStore = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Save implements KeyStore.
func (s *MemoryStore) Save(c Credential) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.creds[string(c.ID)]; ok {
		return ErrCredentialExists
	}
	if s.creds == nil {
		s.creds = make(map[string]Credential)
	}
	s.creds[string(c.ID)] = c.clone()
	return nil
}

// Load implements KeyStore.
func (s *MemoryStore) Load(id []byte) (Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[string(id)]
	if !ok {
		return Credential{}, ErrNoCredential
	}
	return c.clone(), nil
}

// List implements KeyStore.
func (s *MemoryStore) List(rpID string) ([]Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Credential
	for _, c := range s.creds {
		if c.RPID == rpID {
			out = append(out, c.clone())
		}
	}
	sortByID(out)
	return out, nil
}

// Delete implements KeyStore.
func (s *MemoryStore) Delete(id []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.creds[string(id)]; !ok {
		return ErrNoCredential
	}
	delete(s.creds, string(id))
	return nil
}

// NextCounter implements KeyStore.
func (s *MemoryStore) NextCounter(id []byte) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[string(id)]
	if !ok {
		return 0, ErrNoCredential
	}
	if c.SignCount == math.MaxUint32 {
		return 0, ErrCounterOverflow
	}
	c.SignCount++
	s.creds[string(id)] = c
	return c.SignCount, nil
}

func sortByID(creds []Credential) {
	slices.SortFunc(creds, func(a, b Credential) int { return bytes.Compare(a.ID, b.ID) })
}
