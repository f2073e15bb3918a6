-- name: record_verifications
-- Store verifications of one production ($1) and append their events, in one statement
-- and one transaction with one chain-head update: the group commit of api/recorder.py,
-- a batch of one included. The chain head is locked before the facts versions are
-- compared, so a write chained before this batch is always seen (migration 0010, where
-- the statement lives as propcheck_record_verifications; 0017 adds $22).
--
-- Arrays hold one element per verification: $2..$18 the verifications columns, $19 the
-- events' canonical JSON bodies, $20 and $21 the item's and the production's
-- facts_version the verdict was decided on (NULL: not checked), $22 the instant a
-- CLEARED lapses by its inspection's age (NULL: none). reasons come as text[] literals.
-- A row whose versions are no longer current, whose CLEARED has lapsed by the time the
-- chain head is locked, or a hand-off scan after another of its item in the batch, is
-- not stored and comes back with stale = true (its verdict must be decided again); a
-- row whose client_id is already stored (a replay) stores nothing and returns no row.
-- Events are appended in the order of the arrays.
SELECT id, created_at, seq, stale
FROM propcheck_record_verifications(
    $1::uuid, $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::uuid[],
    $8::text[], $9::text[], $10::bool[], $11::text[], $12::text[], $13::text[], $14::uuid[],
    $15::text[], $16::text[], $17::bool[], $18::timestamptz[], $19::text[], $20::bigint[],
    $21::bigint[], $22::timestamptz[]);
