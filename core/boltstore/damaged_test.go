package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deputyhq/deputy/core"
	"github.com/deputyhq/deputy/core/boltstore"
)

// TestDamagedPagesAreErrors: a page of records overwritten with garbage
// (bbolt panics on it) and a branch pointing past the end of the file
// (reading it faults)
// make the reads and writes that reach them fail with an error, not crash
// the process, and the store still closes.
func TestDamagedPagesAreErrors(t *testing.T) {
	const keys = 600
	dir := t.TempDir()
	s, err := boltstore.Open(filepath.Join(dir, "deputy.db"), boltstore.Options{})
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, s.Update(ctx, func(tx core.Tx) error {
		for i := range keys {
			if err := tx.PutMeta(fmt.Sprintf("k%04d", i), bytes.Repeat([]byte{'v'}, 200)); err != nil {
				return err
			}
		}
		return nil
	}))
	var clean bytes.Buffer
	_, err = s.Backup(ctx, &clean)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	const pageSize = 4096 // bbolt's on this platform, as the file says in its meta page
	require.EqualValues(t, pageSize, binary.LittleEndian.Uint32(clean.Bytes()[16+4+4:]), "meta page size")
	const branch, leaf = 0x01, 0x02 // bbolt's page flags
	damage := map[string]func(page []byte, flags uint16) bool{
		"a leaf overwritten": func(page []byte, flags uint16) bool {
			if flags != leaf || !bytes.Contains(page, []byte("k0300")) {
				return false
			}
			for i := range page {
				page[i] = 0xff
			}
			return true
		},
		"a branch past the end": func(page []byte, flags uint16) bool {
			if flags != branch || !bytes.Contains(page, []byte("k0")) {
				return false
			}
			binary.LittleEndian.PutUint64(page[16+8:], 1<<30) // the first element's page id
			return true
		},
	}
	for name, spoil := range damage {
		t.Run(name, func(t *testing.T) {
			file := bytes.Clone(clean.Bytes())
			spoilt := 0
			for off := 2 * pageSize; off+pageSize <= len(file); off += pageSize {
				page := file[off : off+pageSize]
				if spoil(page, binary.LittleEndian.Uint16(page[8:])) {
					spoilt++
				}
			}
			require.NotZero(t, spoilt, "pages damaged")
			path := filepath.Join(t.TempDir(), "damaged.db")
			require.NoError(t, os.WriteFile(path, file, 0o600))
			s, err := boltstore.Open(path, boltstore.Options{})
			require.NoError(t, err)
			var failed error
			for i := range keys {
				err := s.View(ctx, func(tx core.ReadTx) error {
					_, err := tx.Meta(fmt.Sprintf("k%04d", i))
					return err
				})
				if err != nil {
					failed = err
					break
				}
			}
			require.ErrorContains(t, failed, "damaged", "a read that reaches the damage")
			err = s.Update(ctx, func(tx core.Tx) error {
				for i := range keys {
					if err := tx.PutMeta(fmt.Sprintf("k%04d", i), []byte("new")); err != nil {
						return err
					}
				}
				return nil
			})
			require.ErrorContains(t, err, "damaged", "a write that reaches it")
			assert.NoError(t, s.Close())
		})
	}
}

// TestDamagedFreeListEndsTheProcess: a commit that panics on a damaged
// free-list page, whose rollback re-reads that page and panics again, leaves
// bbolt's writer lock held; the process then crashes as before the guard,
// instead of serving reads while every later write waits forever. The file
// is damaged in a child process, which must die saying why.
func TestDamagedFreeListEndsTheProcess(t *testing.T) {
	if dir := os.Getenv("DEPUTY_DAMAGED_FREELIST_DIR"); dir != "" {
		damageFreeListAndWrite(t, dir)
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDamagedFreeListEndsTheProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DEPUTY_DAMAGED_FREELIST_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "the child's writes wait forever: %s", out)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	assert.Contains(t, string(out), "writer lock is still held")
}

// damageFreeListAndWrite zeroes the free-list page of a store open in dir,
// then writes twice: the first write's commit frees that page and panics.
func damageFreeListAndWrite(t *testing.T, dir string) {
	path := filepath.Join(dir, "deputy.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, s.Update(ctx, func(tx core.Tx) error { return tx.PutMeta("k", []byte("v")) }))
	zeroFreeList(t, path)
	for range 2 {
		_ = s.Update(ctx, func(tx core.Tx) error { return tx.PutMeta("k", []byte("w")) })
	}
}

// TestOpenRefusesDamagedFreeList: opening a file whose free-list page is
// damaged (bbolt reads it then) is an error, not a crashed process.
func TestOpenRefusesDamagedFreeList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deputy.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	zeroFreeList(t, path)
	_, err = boltstore.Open(path, boltstore.Options{})
	assert.ErrorContains(t, err, "damaged")
}

// zeroFreeList overwrites with zeros the free-list page that the newer of
// the file's two meta pages names.
func zeroFreeList(t *testing.T, path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	const pageSize, metaAt = 4096, 16 // a meta page's header, then its meta
	metas := make([]byte, 2*pageSize)
	_, err = f.ReadAt(metas, 0)
	require.NoError(t, err)
	meta := metas[metaAt:]
	if txid := 48; binary.LittleEndian.Uint64(metas[pageSize+metaAt+txid:]) > binary.LittleEndian.Uint64(meta[txid:]) {
		meta = metas[pageSize+metaAt:]
	}
	freeList := binary.LittleEndian.Uint64(meta[32:]) // after magic, version, page size, flags and the root bucket
	_, err = f.WriteAt(make([]byte, pageSize), int64(freeList)*pageSize)
	require.NoError(t, err)
}
