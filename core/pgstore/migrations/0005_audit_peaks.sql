-- Schema version 5: an audit log's head keeps the peaks of its Merkle tree
-- (the hashes of its largest complete subtrees, largest first, 32 bytes
-- each) and the tree size they are of, so that an append reads the hashes it
-- builds on with the head instead of from audit_hashes, and only when
-- tree_size is the head's last (logs.go). NULL, as every log has it after this
-- migration, means read them from audit_hashes (the next append fills them in).

ALTER TABLE log_heads ADD COLUMN tree_size bigint, ADD COLUMN tree_peaks bytea;
