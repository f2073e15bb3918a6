-- name: bench_studio
-- A studio for the benchmark.
INSERT INTO studios (name) VALUES ($1) RETURNING id;

-- name: bench_production
-- A production for the benchmark.
INSERT INTO productions (studio_id, name) VALUES ($1, $2) RETURNING id;

-- name: bench_items
-- $2 items: mostly clearable replicas, one in a thousand restricted, a few quarantined.
INSERT INTO items (production_id, name, capability_class, status, created_at)
SELECT $1, 'Bench prop ' || g,
       CASE WHEN g % 1000 = 0 THEN 'blank_firing'
            WHEN g % 2 = 0 THEN 'non_firing_replica' ELSE 'non_firing_mechanical' END,
       CASE WHEN g % 500 = 7 THEN 'quarantined' ELSE 'active' END,
       now() - interval '90 days' + g * interval '1 second'
FROM generate_series(1, $2) g;

-- name: bench_inspections
-- $2 inspections per item, spread over 30 days (the last one decides "overdue").
INSERT INTO inspections (production_id, item_id, kind, result, actor, created_at)
SELECT i.production_id, i.id, 'periodic', CASE WHEN random() < 0.02 THEN 'fail' ELSE 'pass' END,
       'bench', now() - random() * interval '30 days'
FROM items i CROSS JOIN generate_series(1, $2)
WHERE i.production_id = $1;

-- name: bench_verifications
-- $2 verifications over 60 days: most CLEARED checks, some STOP hand-offs and unknown codes.
WITH ids AS (SELECT array_agg(id ORDER BY created_at, id) AS a FROM items WHERE production_id = $1)
INSERT INTO verifications (production_id, code_scanned, item_id, verdict, reasons, purpose,
                           handoff_to, method, actor, device, created_at)
SELECT $1, 'BENCH' || g,
       CASE WHEN g % 100 < 98 THEN ids.a[1 + (g::bigint * 7919) % cardinality(ids.a)] END,
       CASE WHEN g % 100 < 95 THEN 'CLEARED' ELSE 'STOP' END,
       CASE WHEN g % 100 < 95 THEN '{}'::text[]
            WHEN g % 100 < 98 THEN '{inspection_stale}'::text[]
            ELSE '{unknown_code}'::text[] END,
       CASE WHEN g % 100 BETWEEN 95 AND 97 OR g % 10 = 1 THEN 'checkout' ELSE 'check' END,
       CASE WHEN g % 100 BETWEEN 95 AND 97 OR g % 10 = 1 THEN 'Performer ' || g % 40 END,
       'code', 'bench', 'bench', now() - random() * interval '60 days'
FROM generate_series(1, $2) g, ids;

-- name: bench_incidents
-- $2 incidents, one in ten left open.
WITH ids AS (SELECT array_agg(id ORDER BY created_at, id) AS a FROM items WHERE production_id = $1),
inc AS (
    INSERT INTO incidents (production_id, item_id, kind, description, actor, created_at)
    SELECT $1, ids.a[1 + (g * 31) % cardinality(ids.a)],
           (ARRAY['damaged', 'tag_damaged', 'mismatch', 'other'])[1 + g % 4],
           'bench', 'bench', now() - random() * interval '60 days'
    FROM generate_series(1, $2) g, ids
    RETURNING id, created_at
)
INSERT INTO incident_resolutions (incident_id, notes, actor, created_at)
SELECT id, 'bench', 'bench', created_at + interval '1 hour' FROM inc
WHERE random() < 0.9;

-- name: bench_checkouts
-- $2 hand-offs: all checked in except every hundredth, which is still out since yesterday;
-- each check-in with its passing after-use inspection, as the app records it.
WITH ids AS (SELECT array_agg(id ORDER BY created_at, id) AS a FROM items WHERE production_id = $1),
v AS (
    SELECT id, item_id, created_at, row_number() OVER (ORDER BY id) AS n
    FROM verifications
    WHERE production_id = $1 AND purpose = 'checkout' AND verdict = 'CLEARED'
    LIMIT $2
),
back AS (
    INSERT INTO checkouts (production_id, item_id, performer, out_verification_id, out_by,
                           out_at, in_by, in_at)
    SELECT $1, ids.a[v.n], 'Performer ' || v.n % 40, v.id, 'bench',
           CASE WHEN v.n % 100 = 0 THEN now() - interval '1 day' ELSE v.created_at END,
           CASE WHEN v.n % 100 = 0 THEN NULL ELSE 'bench' END,
           CASE WHEN v.n % 100 = 0 THEN NULL ELSE v.created_at + interval '2 hours' END
    FROM v, ids
    WHERE v.n <= cardinality(ids.a)
    RETURNING production_id, item_id, in_at
)
INSERT INTO inspections (production_id, item_id, kind, result, actor, created_at)
SELECT production_id, item_id, 'after_use', 'pass', 'bench', in_at + interval '5 minutes'
FROM back WHERE in_at IS NOT NULL;

-- name: bench_events
-- Append $2 events to chain $1 through the real append function (one transaction).
SELECT count(propcheck_append_event(
    $1, 'verification', 'user:' || md5(g::text)::uuid::text, gen_random_uuid(),
    '{"code_scanned":"BENCH' || g || '","device":"' || md5((g % 50)::text)::uuid
        || '","method":"code","purpose":"check","reasons":[],"verdict":"CLEARED",'
        || '"verification_id":"' || gen_random_uuid() || '"}'))
FROM generate_series(1, $2) g;

-- name: bench_drop_database
-- The benchmark's own database goes when it is done (a fixed name: never a user's).
DROP DATABASE IF EXISTS propcheck_bench WITH (FORCE);

-- name: bench_create_database
-- The benchmark's own database.
CREATE DATABASE propcheck_bench;

-- name: bench_analyze
-- Vacuum and statistics after the bulk load: the steady state autovacuum keeps a live
-- database in (visibility map set, so index-only scans skip the heap).
VACUUM ANALYZE;

-- name: bench_fast_commits
-- A benchmark's data need not survive a crash: do not wait for each commit's flush.
SET synchronous_commit = off;
