package boltstore

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/deputyhq/deputy/core"
)

// indexBuckets are the buckets derived from the records of others (doc.go),
// which a copy rebuilds rather than moves.
var indexBuckets = [][]byte{
	bucketProgrammeKeys, bucketProgrammeNames, bucketUserEmail, bucketRootEmail, bucketIdentityEmail,
	bucketUserList, bucketUserCounts, bucketUserListBlocks, bucketUserSessions, bucketKYCRefs,
	bucketFactorCredentials, bucketAuditSubjects, bucketUserPushChallenges, bucketUserPendingPush,
	bucketProgrammeWebhooks, bucketWebhookDue, bucketWebhookQueue, bucketEndpointDeliveries,
	bucketIdentityBulks, bucketRunningBulks, bucketWebhookFailed,
}

// TestExportCoversEveryBucket: every bucket of a new file holds a kind of
// record Export reads, or is one of indexBuckets; every kind has a reader.
// A bucket added without either fails here.
func TestExportCoversEveryBucket(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "deputy.db"), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	exported := map[string]core.RecordKind{}
	for _, kind := range core.RecordKinds() {
		e, ok := exports[kind]
		if assert.True(t, ok, "no export of %s records", kind) && e.bucket != nil {
			exported[string(e.bucket)] = kind
		}
	}
	assert.Len(t, exports, len(core.RecordKinds()), "an export of a kind core.RecordKinds does not list")
	var buckets []string
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).ForEachBucket(func(k []byte) error {
			buckets = append(buckets, string(k))
			return nil
		})
	}))
	require.NotEmpty(t, buckets)
	for _, b := range buckets {
		_, isKind := exported[b]
		isIndex := slices.ContainsFunc(indexBuckets, func(x []byte) bool { return string(x) == b })
		assert.True(t, isKind != isIndex, "bucket %s: Export must read it (exports) or it must be an index (indexBuckets), not both", b)
	}
}
