-- name: label_tags_of_production
-- What the labels of a production's active tags show (optionally only never printed), at most $3 rows.
SELECT t.id AS tag_id, t.code, t.item_id, i.name AS item_name, i.capability_class,
       p.name AS production_name
FROM tags t
JOIN items i ON i.id = t.item_id
JOIN productions p ON p.id = t.production_id
WHERE t.production_id = $1 AND t.status = 'active'
  AND (NOT $2::boolean OR t.first_printed_at IS NULL)
ORDER BY i.created_at, i.id
LIMIT $3;

-- name: label_items
-- The asked items that belong to production $1, in the order asked, with their active tag if any.
SELECT i.id AS item_id, i.name AS item_name, i.capability_class, p.name AS production_name,
       t.id AS tag_id, t.code, t.first_printed_at
FROM unnest($2::uuid[]) WITH ORDINALITY AS asked(id, ord)
JOIN items i ON i.id = asked.id AND i.production_id = $1
JOIN productions p ON p.id = i.production_id
LEFT JOIN tags t ON t.item_id = i.id AND t.status = 'active'
ORDER BY asked.ord;

-- name: label_item
-- One item's label (its active tag may be missing), with its production.
SELECT i.id AS item_id, i.production_id, i.name AS item_name, i.capability_class,
       p.name AS production_name, p.status AS production_status,
       t.id AS tag_id, t.code
FROM items i
JOIN productions p ON p.id = i.production_id
LEFT JOIN tags t ON t.item_id = i.id AND t.status = 'active'
WHERE i.id = $1;

-- name: lock_tag_items
-- The items of these tags, locked in id order (the tags' update below bumps each item's
-- facts version, in whatever order it runs; the record of verifications locks items in
-- id order too: one order, no deadlock).
SELECT i.id FROM items i
WHERE i.id IN (SELECT t.item_id FROM tags t WHERE t.id = ANY($1::uuid[]))
ORDER BY i.id
FOR NO KEY UPDATE;

-- name: mark_tags_printed
-- Record a printing: first_printed_at is set once; returns the tags that are still active.
UPDATE tags SET first_printed_at = coalesce(first_printed_at, now())
WHERE id = ANY($1::uuid[]) AND status = 'active'
RETURNING id;
