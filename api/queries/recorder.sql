-- name: record_verifications
-- Store verifications of one production ($19) and append their events, in one
-- statement and one transaction with one chain-head update (propcheck_append_events,
-- migration 0006): the group commit of api/recorder.py, a batch of one included.
--
-- Arrays hold one element per verification: $1..$17 the verifications columns, $18
-- the events' canonical JSON bodies, $20 and $21 the item's and the production's
-- facts_version the verdict was decided on (NULL: not checked). reasons come as text[]
-- literals. A row whose versions are no longer current is not stored and comes back
-- with stale = true (its verdict must be decided again, migration 0007); a row whose
-- client_id is already stored (a replay) stores nothing and returns no row. Events are
-- appended in the order of the arrays.
WITH x AS (
    SELECT *
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[],
                $7::text[], $8::text[], $9::bool[], $10::text[], $11::text[], $12::text[],
                $13::uuid[], $14::text[], $15::text[], $16::bool[], $17::timestamptz[],
                $18::text[], $20::bigint[], $21::bigint[])
        WITH ORDINALITY
        AS x(id, client_id, production_id, code_scanned, tag_id, item_id, verdict, reasons,
             needs_confirmation, purpose, handoff_to, method, photo_id, actor, device,
             offline, client_time, body, item_version, production_version, ord)
    WHERE x.production_id = $19
), stale AS (
    SELECT x.id FROM x
    WHERE (x.item_version IS NOT NULL AND x.item_version IS DISTINCT FROM
               (SELECT i.facts_version FROM items i WHERE i.id = x.item_id))
       OR (x.production_version IS NOT NULL AND x.production_version IS DISTINCT FROM
               (SELECT p.facts_version FROM productions p WHERE p.id = x.production_id))
), v AS (
    INSERT INTO verifications (id, client_id, production_id, code_scanned, tag_id, item_id,
        verdict, reasons, needs_confirmation, purpose, handoff_to, method, photo_id, actor,
        device, offline, client_time)
    SELECT id, client_id, production_id, code_scanned, tag_id, item_id, verdict,
           reasons::text[], needs_confirmation, purpose, handoff_to, method, photo_id, actor,
           device, offline, client_time
    FROM x
    WHERE x.id NOT IN (SELECT id FROM stale)
    ORDER BY ord
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id, created_at
), e AS (
    SELECT propcheck_append_events(
               $19,
               array_agg('verification'::text ORDER BY x.ord),
               array_agg(x.actor ORDER BY x.ord),
               array_agg(x.item_id ORDER BY x.ord),
               array_agg(x.body ORDER BY x.ord)) AS last_seq
    FROM v JOIN x ON x.id = v.id
)
SELECT v.id, v.created_at,
       e.last_seq - count(*) OVER () + row_number() OVER (ORDER BY x.ord) AS seq,
       false AS stale
FROM v JOIN x ON x.id = v.id CROSS JOIN e
UNION ALL
SELECT stale.id, NULL, NULL, true FROM stale;
