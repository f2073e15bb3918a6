-- name: public_table_count
-- Tables in the public schema: a database with any is not empty (restore refuses it).
SELECT count(*) FROM pg_tables WHERE schemaname = 'public';

-- name: ensure_app_role
-- Roles live outside a database and so outside its dump: the restored GRANTs need the
-- app role, and the API logs in as propcheck_api (migration 0016).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'propcheck_app') THEN
        CREATE ROLE propcheck_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'propcheck_api') THEN
        CREATE ROLE propcheck_api LOGIN IN ROLE propcheck_app;
    END IF;
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'roles not created (%)', SQLERRM;
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;

-- name: advance_facts_versions
-- After a restore: every item's and production's facts_version moves past any the
-- database could have issued before it. API processes keep scanned tags' facts with
-- these versions (api/facts_cache.py); a restore takes them back to the dump's values,
-- and later changes would count up through the same numbers again, so a row kept from
-- before the restore could match a version whose facts differ. The offset is the
-- time in microseconds, more than any count of changes since an earlier restore. The
-- bump trigger (migration 0007) would make it +1, so it is off for this one update.
DO $$
DECLARE
    v_offset bigint := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
BEGIN
    ALTER TABLE items DISABLE TRIGGER items_facts_version;
    UPDATE items SET facts_version = facts_version + v_offset;
    ALTER TABLE items ENABLE TRIGGER items_facts_version;
    ALTER TABLE productions DISABLE TRIGGER productions_facts_version;
    UPDATE productions SET facts_version = facts_version + v_offset;
    ALTER TABLE productions ENABLE TRIGGER productions_facts_version;
END
$$;

-- name: backup_has_record
-- Whether the database has a record at all (a new database, or not a propcheck one).
SELECT to_regclass('public.chain_heads') IS NOT NULL;

-- name: backup_chain_heads
-- Every chain's head before a forced restore replaces the database (none without the
-- table: not a propcheck database). A chain with events but no head row (a damaged
-- record) counts by its last event: its events are exported and their loss detected
-- like any other chain's.
SELECT chain_id, seq, hash FROM chain_heads
UNION ALL
SELECT e.chain_id, e.seq, e.hash
FROM (SELECT DISTINCT chain_id FROM events) c
CROSS JOIN LATERAL (
    SELECT chain_id, seq, hash FROM events
    WHERE chain_id = c.chain_id ORDER BY seq DESC LIMIT 1
) e
WHERE NOT EXISTS (SELECT 1 FROM chain_heads h WHERE h.chain_id = c.chain_id)
ORDER BY chain_id;

-- name: backup_other_sessions
-- Other client sessions on the target database (an API process, a psql): a forced
-- restore waits for none of them, and what they write between the export of the old
-- record and the restore would be lost without a trace.
SELECT count(*) AS n,
       string_agg(DISTINCT coalesce(nullif(application_name, ''), 'unnamed') || ' from '
                  || coalesce(client_addr::text, 'a local socket'), ', ') AS who
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  -- Another login role's sessions show a NULL backend_type to a role without
  -- pg_read_all_stats; background workers have no user.
  AND (backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL));

-- name: backup_hold_writes
-- Before a forced restore exports the record it replaces: nothing can append to any
-- chain any more (every write appends its event through these two functions, in the
-- same transaction, so a refused append rolls the whole write back: the client gets an
-- error, nothing is half-written). An idle API process has no session to be seen (its
-- pool closes idle connections), and would otherwise write after the export unseen.
-- pg_restore brings the dump's grants back; a failed restore gives them back here
-- (backup_release_writes).
REVOKE EXECUTE ON FUNCTION propcheck_append_events(uuid, text[], text[], uuid[], text[]),
    propcheck_append_event(uuid, text, text, uuid, text) FROM propcheck_app;

-- name: backup_wait_writers
-- Waits until every transaction that has begun to append is over, then lets go at once
-- (run in a transaction of its own): an appender locks its chain head's row (ROW SHARE
-- on chain_heads, which EXCLUSIVE waits for, plain reads do not) before it inserts its
-- events (ROW EXCLUSIVE on events, which SHARE waits for). From here on the record
-- cannot change until the restore replaces it. Bounded: a writer that never ends (or an
-- anti-wraparound vacuum of events) fails the restore instead of hanging it.
SET LOCAL lock_timeout = '60s';
LOCK TABLE chain_heads IN EXCLUSIVE MODE;
LOCK TABLE events IN SHARE MODE;

-- name: backup_release_writes
-- The grants of backup_hold_writes back, when the restore did not happen.
GRANT EXECUTE ON FUNCTION propcheck_append_events(uuid, text[], text[], uuid[], text[]),
    propcheck_append_event(uuid, text, text, uuid, text) TO propcheck_app;

-- name: backup_hashes_at
-- The restored events at the old heads' places: ($1 chains, $2 seqs).
SELECT e.chain_id, e.hash
FROM unnest($1::uuid[], $2::bigint[]) AS h(chain_id, seq)
JOIN events e ON e.chain_id = h.chain_id AND e.seq = h.seq;
