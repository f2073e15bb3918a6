-- name: retire_active_tags
-- Re-issuing: the item's active tag is superseded by the new one.
UPDATE tags SET status = 'superseded', revoked_at = now()
WHERE item_id = $1 AND status = 'active'
RETURNING id, code;

-- name: insert_tag
-- A new active tag for an item.
INSERT INTO tags (code, item_id, production_id, issued_by) VALUES ($1, $2, $3, $4)
RETURNING id, code, item_id, status, issued_at, revoked_at, first_printed_at;

-- name: tag_by_id
-- One tag, with its production (for the caller's access check).
SELECT id, code, item_id, production_id, status, issued_at, revoked_at, first_printed_at
FROM tags WHERE id = $1;

-- name: revoke_tag
-- Revoke an active tag (lost, damaged, compromised).
UPDATE tags SET status = 'revoked', revoked_at = now()
WHERE id = $1 AND status = 'active'
RETURNING id, code, item_id, status, issued_at, revoked_at, first_printed_at;

-- name: production_tags
-- A production's tags, optionally only those never printed, optionally only active.
SELECT t.id, t.code, t.item_id, t.status, t.issued_at, t.revoked_at, t.first_printed_at
FROM tags t
WHERE t.production_id = $1
  AND ($2::boolean IS NULL OR (t.first_printed_at IS NULL) = $2)
  AND ($3::text IS NULL OR t.status = $3)
ORDER BY t.issued_at, t.id;

-- name: active_tag_code
-- The code of an item's active tag.
SELECT code FROM tags WHERE item_id = $1 AND status = 'active';
