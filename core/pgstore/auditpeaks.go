package pgstore

import (
	"math/bits"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// An append to a programme's audit log hashes the new leaf with the hashes
// of the complete subtrees it completes (tlog.StoredHashes): some of the
// tree's peaks, the hashes of its largest complete subtrees. The log's head
// keeps the peaks (migration 0005), so the append reads them with the head
// (nextInLog) instead of from audit_hashes, and writes the new ones back
// with the leaf's hashes (PutAuditHashes), queued. A head without them, or
// with those of another size (written before 0005, or by `deputy store
// copy`), has them read from audit_hashes by that append, which then keeps
// them.

// treePeaks is the audit tree that a leaf being appended goes into: its size
// and, when known, its peaks, one for each set bit k of size, largest
// first, each stored at tlog.StoredHashIndex(k, size>>k-1).
type treePeaks struct {
	size  int64
	peaks []tlog.Hash
	known bool
}

// newTreePeaks is the tree of size n whose head holds peaks of the tree of
// size stored (nil: none).
func newTreePeaks(n int64, stored *int64, peaks []byte) *treePeaks {
	tp := &treePeaks{size: n}
	if n == 0 || (stored != nil && *stored == n && len(peaks) == bits.OnesCount64(uint64(n))*tlog.HashSize) {
		for h := range slices.Chunk(peaks, tlog.HashSize) {
			tp.peaks = append(tp.peaks, tlog.Hash(h))
		}
		tp.known = true
	}
	return tp
}

// peakIndexes are the storage indexes of the peaks of a tree of size n,
// largest first.
func peakIndexes(n int64) []int64 {
	var xs []int64
	for k := bits.Len64(uint64(n)) - 1; k >= 0; k-- {
		if n>>k&1 == 1 {
			xs = append(xs, tlog.StoredHashIndex(k, n>>k-1))
		}
	}
	return xs
}

// lookup returns the hashes at indexes when they are all known peaks.
func (tp *treePeaks) lookup(indexes []int64) ([]tlog.Hash, bool) {
	if !tp.known {
		return nil, false
	}
	at := peakIndexes(tp.size)
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		j := slices.Index(at, x)
		if j < 0 {
			return nil, false
		}
		out[i] = tp.peaks[j]
	}
	return out, true
}

// learn takes the peaks from hashes read from audit_hashes (storage index ->
// hash), when they hold them all.
func (tp *treePeaks) learn(stored map[int64][]byte) {
	var peaks []tlog.Hash
	for _, x := range peakIndexes(tp.size) {
		h := stored[x]
		if len(h) != tlog.HashSize {
			return
		}
		peaks = append(peaks, tlog.Hash(h))
	}
	tp.peaks, tp.known = peaks, true
}

// grown returns the peaks of the tree once leaf tp.size is added, whose
// stored hashes are hashes (the leaf's, then one per subtree it completes),
// or false when hashes are not those of that leaf.
func (tp *treePeaks) grown(hashes []tlog.Hash) ([]tlog.Hash, bool) {
	top := len(hashes) - 1 // the level of the new leaf's peak
	if !tp.known || top != bits.TrailingZeros64(^uint64(tp.size)) {
		return nil, false
	}
	// The peaks above that level stay; those below it are in the new one.
	keep := bits.OnesCount64(uint64(tp.size) >> (top + 1))
	return append(slices.Clone(tp.peaks[:keep]), hashes[top]), true
}

// encodePeaks is the tree_peaks column of peaks.
func encodePeaks(peaks []tlog.Hash) []byte {
	b := make([]byte, 0, len(peaks)*tlog.HashSize)
	for _, h := range peaks {
		b = append(b, h[:]...)
	}
	return b
}
