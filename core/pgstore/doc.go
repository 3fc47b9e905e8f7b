// Package pgstore implements core.Store on PostgreSQL (14 or newer), for
// operators who run several `deputy serve` replicas on one database.
//
// Every kind of record has a table (migrations/0001_initial.sql draws them)
// whose rows hold the record as JSON, encoded as the bbolt store encodes it,
// and, as real columns, its key and whatever a unique constraint, an order or
// a lookup needs. The unique constraints of core.Store are the schema's
// unique indexes, so PostgreSQL enforces them across replicas.
//
// Update is a SERIALIZABLE transaction, run again when it fails to serialize
// (an Update that appended to a log runs again in its turn, in a transaction
// it may share with others: turns.go); View is a REPEATABLE READ, READ ONLY
// one. Round trips are what a transaction costs most (tx.go): the BEGIN and
// the writes nobody waits for go out with the next statement, a query brings
// along the rows the next ones would fetch (readahead.go), down to the peaks
// of the audit tree an append builds on (auditpeaks.go), and a View's COMMIT
// goes out with the next transaction on its connection (park.go). Nothing is
// read outside a transaction and nothing is kept in memory beyond one: what
// one replica commits, every other sees in its next transaction. The
// counters behind rate limits are rows bumped in the Update that asks; the
// numbering of the audit log and the outbox is a row per programme
// (log_heads), and the audit log's Merkle tree is a table of hashes keyed by
// programme and tlog storage index.
//
// Open connects a pool (pgxpool) and migrates the schema under an advisory
// lock (migrate.go), so replicas starting together migrate once; a database
// with a newer schema than the build knows is refused.
//
// Export and Import (copy.go) read and fill a whole database, every kind of
// record, for `deputy store copy`; programme_keys is rebuilt from the
// programmes, like every index.
package pgstore
