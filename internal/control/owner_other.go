//go:build !unix

package control

// trustedSocket trusts any socket where file owners are not Unix's.
func trustedSocket(path, db string) error { return nil }
