-- name: audit_chains
-- Every chain: those with a recorded head and those with events (a skip scan over the
-- primary key, so a million events cost a few index probes, not a scan).
WITH RECURSIVE c AS (
    (SELECT chain_id FROM events ORDER BY chain_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.chain_id FROM events e WHERE e.chain_id > c.chain_id
            ORDER BY e.chain_id LIMIT 1)
    FROM c WHERE c.chain_id IS NOT NULL
), ids AS (
    SELECT chain_id FROM c WHERE chain_id IS NOT NULL
    UNION
    SELECT chain_id FROM chain_heads
)
SELECT ids.chain_id, h.seq AS head_seq, h.hash AS head_hash,
       coalesce(p.name, s.name) AS name,
       CASE WHEN p.id IS NOT NULL THEN 'production' WHEN s.id IS NOT NULL THEN 'studio' END
           AS owner
FROM ids
LEFT JOIN chain_heads h ON h.chain_id = ids.chain_id
LEFT JOIN productions p ON p.id = ids.chain_id
LEFT JOIN studios s ON s.id = ids.chain_id
ORDER BY owner NULLS FIRST, name, ids.chain_id;

-- name: audit_chain
-- One chain's recorded head and owner (no row: the id has neither head nor events).
SELECT $1::uuid AS chain_id, h.seq AS head_seq, h.hash AS head_hash,
       coalesce(p.name, s.name) AS name,
       CASE WHEN p.id IS NOT NULL THEN 'production' WHEN s.id IS NOT NULL THEN 'studio' END
           AS owner
FROM (SELECT 1) one
LEFT JOIN chain_heads h ON h.chain_id = $1
LEFT JOIN productions p ON p.id = $1
LEFT JOIN studios s ON s.id = $1;

-- name: audit_events
-- One chain's events in order, every hashed field as text exactly as it is hashed
-- (the time formatted like propcheck_event_text formats it), for the checker.
SELECT chain_id::text, seq, kind, actor, coalesce(subject_id::text, ''),
       to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), body, prev_hash, hash
FROM events
WHERE chain_id = $1
ORDER BY seq;

-- name: event_in_chain
-- One event of a chain, for a correction to refer to.
SELECT seq, kind, hash FROM events WHERE chain_id = $1 AND seq = $2;

-- name: chain_events_page
-- A page of a chain's events after a seq; corrections only, without them, or all.
SELECT seq, kind, actor, subject_id, at, body, prev_hash, hash
FROM events
WHERE chain_id = $1 AND seq > $2
  AND ($3::text IS NULL
       OR ($3 = 'only' AND kind = 'correction')
       OR ($3 = 'exclude' AND kind <> 'correction'))
ORDER BY seq
LIMIT $4;
