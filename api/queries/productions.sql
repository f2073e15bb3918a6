-- name: insert_studio
-- A new studio.
INSERT INTO studios (name) VALUES ($1) RETURNING id, name, created_at;

-- name: studio_by_name
-- Find a studio by name.
SELECT id, name, created_at FROM studios WHERE name = $1;

-- name: upsert_studio_member
-- Give a user a studio-wide role.
INSERT INTO studio_members (studio_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (studio_id, user_id) DO UPDATE SET role = EXCLUDED.role;

-- name: insert_production
-- A new production in a studio.
INSERT INTO productions (studio_id, name, wrap_time, timezone, policy)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, studio_id, name, status, wrap_time, timezone, policy, created_at, archived_at;

-- name: production_by_id
-- One production (the caller's access was checked before).
SELECT id, studio_id, name, status, wrap_time, timezone, policy, created_at, archived_at
FROM productions WHERE id = $1;

-- name: productions_by_ids
-- The productions the caller may see.
SELECT id, studio_id, name, status, wrap_time, timezone, policy, created_at, archived_at
FROM productions WHERE id = ANY($1::uuid[]) ORDER BY created_at, id;

-- name: archive_production
-- Archive a production: its tags no longer verify.
UPDATE productions SET status = 'archived', archived_at = now()
WHERE id = $1 AND status = 'active'
RETURNING id, studio_id, name, status, wrap_time, timezone, policy, created_at, archived_at;

-- name: production_members
-- Members of one production.
SELECT pm.user_id, u.email, u.display_name, pm.role, pm.created_at
FROM production_members pm JOIN users u ON u.id = pm.user_id
WHERE pm.production_id = $1 ORDER BY pm.created_at, u.email;

-- name: upsert_production_member
-- Add a member or change their role; returns the previous role if any.
WITH prev AS (
    SELECT role FROM production_members WHERE production_id = $1 AND user_id = $2
)
INSERT INTO production_members (production_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (production_id, user_id) DO UPDATE SET role = EXCLUDED.role
RETURNING (SELECT role FROM prev) AS previous_role;

-- name: delete_production_member
-- Remove a member; returns their role.
DELETE FROM production_members WHERE production_id = $1 AND user_id = $2 RETURNING role;

-- name: production_status_for_write
-- A production's status, its row share-locked until the transaction ends (api/archive.py).
SELECT status FROM productions WHERE id = $1 FOR SHARE;

-- name: revoke_production_devices
-- Sign out every phone enrolled in a production (when it is archived).
UPDATE tokens SET revoked_at = now()
WHERE production_id = $1 AND user_id IS NULL AND revoked_at IS NULL
RETURNING id;

-- name: production_status
-- Whether a production is active or archived.
SELECT status FROM productions WHERE id = $1;

-- name: production_by_id_policy
-- A production's policy JSON.
SELECT policy FROM productions WHERE id = $1;

-- name: production_by_name
-- A studio's production by name.
SELECT id FROM productions WHERE studio_id = $1 AND name = $2;

-- name: production_item_ids
-- Every item of a production, oldest first.
SELECT id FROM items WHERE production_id = $1 ORDER BY created_at, id;

-- name: active_tags_of_items
-- The active tag of each item, with the item's class and status.
SELECT t.code, t.item_id, i.capability_class, i.status
FROM tags t JOIN items i ON i.id = t.item_id
WHERE t.item_id = ANY($1::uuid[]) AND t.status = 'active'
ORDER BY i.created_at, i.id;
