-- name: quarantine_item
-- Quarantine an item at once (unless already quarantined); returns the old status.
UPDATE items i SET status = 'quarantined', version = version + 1, updated_at = now()
FROM (SELECT id, status FROM items WHERE id = $1 FOR NO KEY UPDATE) old
WHERE i.id = old.id AND old.status <> 'quarantined'
RETURNING old.status AS previous_status;

-- name: insert_incident
-- Report an incident.
INSERT INTO incidents (client_id, production_id, item_id, verification_id, kind, description,
                       photo_id, actor)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (client_id) DO NOTHING
RETURNING id, client_id, production_id, item_id, verification_id, kind, description, photo_id,
          actor, created_at,
          (SELECT p.original_sha FROM photos p WHERE p.id = incidents.photo_id) AS photo_sha256;

-- name: incident_by_client_id
-- An incident stored earlier under the same client id (offline replay).
SELECT id FROM incidents WHERE client_id = $1;

-- name: incident_views
-- Incidents of a production (optionally one, optionally only open), newest first.
SELECT inc.id, inc.production_id, inc.item_id, inc.verification_id, inc.kind,
       inc.description, inc.photo_id, inc.actor, inc.created_at,
       r.notes AS resolution_notes, r.actor AS resolved_by, r.created_at AS resolved_at,
       i.name AS item_name
FROM incidents inc
LEFT JOIN incident_resolutions r ON r.incident_id = inc.id
LEFT JOIN items i ON i.id = inc.item_id
WHERE inc.production_id = $1
  AND ($2::uuid IS NULL OR inc.id = $2)
  AND ($3::boolean IS NULL OR (r.incident_id IS NULL) = $3)
ORDER BY inc.created_at DESC, inc.id;

-- name: incident_production
-- Which production an incident belongs to.
SELECT production_id, item_id FROM incidents WHERE id = $1;

-- name: insert_resolution
-- Resolve an incident (once); the report itself is never changed.
INSERT INTO incident_resolutions (incident_id, notes, actor) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
RETURNING created_at;

-- name: insert_inspection
-- Record an inspection.
INSERT INTO inspections (client_id, production_id, item_id, kind, result, notes, photo_id, actor)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (client_id) DO NOTHING
RETURNING id, item_id, kind, result, notes, photo_id, actor, created_at,
          (SELECT p.original_sha FROM photos p WHERE p.id = inspections.photo_id) AS photo_sha256;

-- name: item_inspections
-- Inspections of one item, newest first.
SELECT id, item_id, kind, result, notes, photo_id, actor, created_at
FROM inspections WHERE item_id = $1 ORDER BY created_at DESC, id;

-- name: open_incident_count
-- Unresolved incidents about one item.
SELECT count(*) FROM incidents inc
WHERE inc.item_id = $1
  AND NOT EXISTS (SELECT 1 FROM incident_resolutions r WHERE r.incident_id = inc.id);

-- name: reactivate_item
-- A quarantined item becomes active again (after a passing inspection, no open incident).
UPDATE items SET status = 'active', version = version + 1, updated_at = now()
WHERE id = $1 AND status = 'quarantined'
RETURNING id;

-- name: item_lock
-- Lock an item row and read its status.
SELECT id, production_id, status, name FROM items WHERE id = $1 FOR NO KEY UPDATE;

-- name: clock_now
-- The database's clock at this moment (not the transaction's start, as now() is).
SELECT clock_timestamp();

-- name: lock_chain
-- Lock a production's chain head until the transaction ends (migration 0010), after
-- any item row: the one lock order of migration 0012.
SELECT propcheck_lock_chain($1);

-- name: insert_checkout
-- Hand an item to a performer; the partial unique index refuses a second open checkout.
INSERT INTO checkouts (client_id, production_id, item_id, performer, scene, take,
                       out_verification_id, out_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, item_id, performer, scene, take, out_verification_id, out_by, out_at;

-- name: checkout_by_client_id
-- A check-out stored earlier under the same client id (offline replay), in this
-- production only: another production's client id is no replay and reveals nothing.
SELECT id, item_id, performer, scene, take, out_verification_id, out_by, out_at, in_at
FROM checkouts WHERE client_id = $1 AND production_id = $2;

-- name: close_checkout
-- Check an item back in.
UPDATE checkouts SET in_at = clock_timestamp(), in_by = $2, in_verification_id = $3,
    in_client_id = $4
WHERE item_id = $1 AND in_at IS NULL
RETURNING id, item_id, performer, scene, take, out_at, in_at;

-- name: open_checkout_scan
-- The item's open check-out, with when its hand-off scan was made: an online scan when
-- it was stored; an offline one (stored when replayed, later) by the phone's clock, but
-- never after it was stored (a phone set ahead would otherwise block every return until
-- the server's clock caught up; review). least() ignores a NULL client_time.
SELECT c.id, c.performer,
       CASE WHEN v.offline THEN least(v.client_time, v.created_at) ELSE v.created_at
       END AS scanned_at
FROM checkouts c JOIN verifications v ON v.id = c.out_verification_id
WHERE c.item_id = $1 AND c.in_at IS NULL;

-- name: checkin_by_client_id
-- A check-in stored earlier under the same client id, in this production only.
SELECT id, item_id, performer, scene, take, out_at, in_at FROM checkouts
WHERE in_client_id = $1 AND production_id = $2;

-- name: custody_board
-- Who has what: every open checkout of a production, with the item.
SELECT c.id, c.item_id, i.name AS item_name, i.capability_class, c.performer, c.scene, c.take,
       c.out_by, c.out_at
FROM checkouts c JOIN items i ON i.id = c.item_id
WHERE c.production_id = $1 AND c.in_at IS NULL
ORDER BY c.out_at;

-- name: set_policy
-- Store a production's policy; returns the previous one.
UPDATE productions p SET policy = $2
FROM (SELECT id, policy FROM productions WHERE id = $1 FOR NO KEY UPDATE) old
WHERE p.id = old.id
RETURNING old.policy AS previous;

-- name: item_status
-- An item's current status.
SELECT status FROM items WHERE id = $1;

-- name: handoff_verification
-- A verification used for a hand-off, with its confirmation and the item's current tag.
SELECT v.id, v.production_id, v.item_id, v.tag_id, v.verdict, v.needs_confirmation,
       v.purpose, v.handoff_to, v.actor, v.device, v.created_at, t.code AS tag_code,
       t.status AS tag_status, c.match AS confirmed_match, v.client_time,
       -- When the scan was made: as open_checkout_scan says it.
       CASE WHEN v.offline THEN least(v.client_time, v.created_at) ELSE v.created_at
       END AS scanned_at
FROM verifications v
LEFT JOIN tags t ON t.id = v.tag_id
LEFT JOIN confirmations c ON c.verification_id = v.id
WHERE v.id = $1 OR v.client_id = $1
-- The server's own id first: a client may have chosen another verification's id as
-- its client_id.
ORDER BY v.id = $1 DESC
LIMIT 1;

-- name: insert_checkout_at
-- Demo data only: a hand-off recorded as made at a given time (to show overdue items).
INSERT INTO checkouts (production_id, item_id, performer, scene, take, out_verification_id,
                       out_by, out_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id;
