-- Queries of `propcheck bench verify`, its bulk seed and the reliability tests: not
-- product paths. (Names start with bv_ to stay apart from other benchmarks' queries.)

-- name: bv_floor_tag
-- The floor: one indexed SELECT of a tag row by its code.
SELECT id, status, production_id FROM tags WHERE code = $1;

-- name: bv_insert_items
-- Bulk: items ($1 ids) of one production, all non-firing replicas.
INSERT INTO items (id, production_id, name, capability_class, make, model, serial,
                   distinctive_marks, keywords, created_by)
SELECT u.id, $2, 'Bench prop #' || u.n, 'non_firing_replica', 'Bench Props', 'Resin',
       'BENCH-' || lpad(u.n::text, 6, '0'), ARRAY['bench mark on the left side'],
       ARRAY['bench'], $3
FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n);

-- name: bv_insert_photos
-- Bulk: one item photo per item ($1 photo ids, $2 item ids); the blob is shared.
INSERT INTO photos (id, production_id, item_id, purpose, original_sha, display_sha, thumb_sha,
                    width, height, upload_sha, created_by)
SELECT u.id, $3, u.item_id, 'item', $4, $4, $4, 960, 720, $4, $5
FROM unnest($1::uuid[], $2::uuid[]) AS u(id, item_id);

-- name: bv_insert_tags
-- Bulk: one active tag per item ($1 tag ids, $2 codes, $3 item ids).
INSERT INTO tags (id, code, item_id, production_id, issued_by)
SELECT u.id, u.code, u.item_id, $4, $5
FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS u(id, code, item_id);

-- name: bv_insert_inspections
-- Bulk: one passing before-use inspection per item ($1 inspection ids, $2 item ids).
INSERT INTO inspections (id, production_id, item_id, kind, result, notes, actor)
SELECT u.id, $3, u.item_id, 'before_use', 'pass', 'bench inspection', $4
FROM unnest($1::uuid[], $2::uuid[]) AS u(id, item_id);

-- name: bv_append_events
-- Bulk: append events of one kind to a chain through the same function as the API's
-- group commit (one chain-head update per call).
SELECT propcheck_append_events(
    $1, array_fill($2::text, ARRAY[cardinality($4::uuid[])]),
    array_fill($3::text, ARRAY[cardinality($4::uuid[])]), $4::uuid[], $5::text[]);

-- name: bv_insert_productions
-- Extra productions for the chain-lock measurement (one chain each).
INSERT INTO productions (studio_id, name)
SELECT $1, $2 || ' #' || n FROM generate_series(1, $3) AS n
RETURNING id;

-- name: bv_counts
-- What the record holds for one production: verifications, their events, and the
-- periodic inspections (the mix phase's) with every inspection event.
SELECT (SELECT count(*) FROM verifications WHERE production_id = $1) AS verifications,
       (SELECT count(*) FROM events WHERE chain_id = $1 AND kind = 'verification')
           AS verification_events,
       (SELECT count(*) FROM events WHERE chain_id = $1) AS events,
       (SELECT count(*) FROM inspections WHERE production_id = $1 AND kind = 'periodic')
           AS periodic_inspections,
       (SELECT count(*) FROM events WHERE chain_id = $1 AND kind = 'inspection.recorded')
           AS inspection_events;

-- name: bv_settings
-- The database settings that decide the cost of a commit.
SELECT name, setting FROM pg_settings
WHERE name IN ('synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay',
               'commit_siblings', 'shared_buffers', 'max_connections')
ORDER BY name;

-- name: bv_scanner_user
-- The scanner account of a seeded production (the benchmark mints one token per client).
SELECT user_id FROM production_members WHERE production_id = $1 AND role = 'scanner';

-- name: bv_analyze
-- Fresh planner statistics for the tables the bulk seed filled. Not the empty ones
-- (verifications, incidents, checkouts): an ANALYZE of an empty table records it as
-- empty, the planner then reads it with a sequential scan inside every verify's facts
-- query, and that scan grows with every verification stored until autovacuum analyzes
-- the table again (about a minute: the whole benchmark). A live database has history
-- there, or tables never analyzed while empty, and plans index scans.
ANALYZE studios, productions, production_members, users, tokens, items, photos, tags,
    inspections, events, chain_heads;

-- name: bv_commits
-- Verifications by code and the transactions that stored them (created_at is the
-- transaction's start, so one value per commit): the group commit's batch size.
SELECT count(*) AS n, count(DISTINCT created_at) AS commits
FROM verifications WHERE production_id = $1 AND method = 'code';
