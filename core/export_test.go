package core

// PasswordHasher exports the service's hashing interface to the tests.
type PasswordHasher = passwordHasher

// WrapHasher replaces s's hasher with wrap(hasher), for tests that count hashes.
func WrapHasher(s *Service, wrap func(PasswordHasher) PasswordHasher) { s.hasher = wrap(s.hasher) }
