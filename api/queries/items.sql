-- name: insert_item
-- Register an item.
INSERT INTO items (production_id, name, description, capability_class, make, model, serial,
                   distinctive_marks, keywords, status, evidence_certificate, evidence_issuer,
                   evidence_date, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id;

-- name: item_production
-- Which production an item belongs to (for the caller's access check).
SELECT production_id FROM items WHERE id = $1;

-- name: item_for_update
-- Lock an item row for an edit.
SELECT * FROM items WHERE id = $1 FOR NO KEY UPDATE;

-- name: update_item
-- Store an edited item; the version guards against lost updates. A change of class
-- also sets class_changed_at (trigger, migration 0009).
UPDATE items SET name = $2, description = $3, capability_class = $4, make = $5, model = $6,
    serial = $7, distinctive_marks = $8, keywords = $9, status = $10,
    evidence_certificate = $11, evidence_issuer = $12, evidence_date = $13,
    evidence_photo_id = $14, version = version + 1, updated_at = now()
WHERE id = $1 AND version = $15
RETURNING id;

-- name: set_evidence_photo
-- Attach the deactivation document photo.
UPDATE items SET evidence_photo_id = $2, version = version + 1, updated_at = now()
WHERE id = $1;

-- name: item_views
-- Items with their photos and active tag, by id.
SELECT i.*,
    coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'id', p.id, 'purpose', p.purpose, 'width', p.width, 'height', p.height,
            'original_sha', p.original_sha, 'display_sha', p.display_sha,
            'thumb_sha', p.thumb_sha, 'created_at', p.created_at) ORDER BY p.created_at, p.id)
        FROM photos p WHERE p.item_id = i.id AND p.purpose IN ('item', 'evidence')
    ), '[]'::jsonb) AS photos,
    (
        SELECT jsonb_build_object(
            'id', t.id, 'code', t.code, 'item_id', t.item_id, 'status', t.status,
            'issued_at', t.issued_at, 'revoked_at', t.revoked_at,
            'first_printed_at', t.first_printed_at)
        FROM tags t WHERE t.item_id = i.id AND t.status = 'active'
    ) AS tag
FROM items i
WHERE i.id = ANY($1::uuid[])
ORDER BY i.created_at, i.id;

-- name: list_item_ids
-- One page of a production's items, filtered, after a cursor (created_at, id).
SELECT i.id, i.created_at
FROM items i
WHERE i.production_id = $1
  AND ($2::text IS NULL OR i.name ILIKE $2 OR i.description ILIKE $2 OR i.make ILIKE $2
       OR i.model ILIKE $2 OR i.serial ILIKE $2
       OR EXISTS (SELECT 1 FROM unnest(i.distinctive_marks) m WHERE m ILIKE $2)
       OR EXISTS (SELECT 1 FROM tags t WHERE t.item_id = i.id AND t.code ILIKE $2))
  AND ($3::text IS NULL OR i.capability_class = $3)
  AND ($4::text IS NULL OR i.status = $4)
  AND ($5::text IS NULL OR i.keywords @> ARRAY[$5::text])
  AND ($6::timestamptz IS NULL OR (i.created_at, i.id) > ($6, $7::uuid))
ORDER BY i.created_at, i.id
LIMIT $8;

-- name: item_history
-- The record of one item, oldest first: every event about it, the resolutions of its
-- incidents (their subject is the incident) and the corrections of any of these (a
-- correction names the event it corrects in its body, not a subject): an original
-- shown without its correction would read as the record's last word.
-- Written as unions of index lookups (events_subject_idx, events_kind_idx): an OR across
-- them read the whole events table (10 s on a chain of a million events, by review).
WITH about AS (
    SELECT seq FROM events WHERE subject_id = $2 AND chain_id = $1
    UNION
    SELECT e.seq FROM incidents i JOIN events e ON e.subject_id = i.id
    WHERE i.item_id = $2 AND e.chain_id = $1
)
SELECT seq, kind, actor, at, body FROM events
WHERE chain_id = $1 AND seq IN (SELECT seq FROM about)
UNION ALL
SELECT seq, kind, actor, at, body FROM events
WHERE chain_id = $1 AND kind = 'correction'
  AND (body::jsonb ->> 'corrects_seq')::bigint IN (SELECT seq FROM about)
ORDER BY seq;
