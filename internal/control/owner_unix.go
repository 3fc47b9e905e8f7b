//go:build unix

package control

import (
	"fmt"
	"os"
	"syscall"
)

// trustedSocket refuses a socket at path owned by neither this process's
// user nor the owner of the database at db: in a directory others may write
// to, anyone could put one there while no server runs and answer operator
// commands (a backup included) in the server's place.
func trustedSocket(path, db string) error {
	sock, err := os.Lstat(path)
	if err != nil {
		return nil // nothing to trust: dialling says why
	}
	owner := sock.Sys().(*syscall.Stat_t).Uid
	if int(owner) == os.Geteuid() {
		return nil
	}
	if f, err := os.Stat(db); err == nil && f.Sys().(*syscall.Stat_t).Uid == owner {
		return nil
	}
	return fmt.Errorf("owned by uid %d, neither this user nor the database's owner: not trusted", owner)
}
