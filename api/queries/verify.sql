-- name: verify_facts
-- Everything the verdict needs about one tag code, in one round trip.
SELECT t.id AS tag_id, t.status AS tag_status, t.production_id AS tag_production,
       i.id AS item_id, i.name, i.capability_class, i.status AS item_status,
       i.distinctive_marks, i.make, i.model,
       f.has_evidence,
       p.status AS production_status, p.policy,
       f.last_passed_inspection_at, f.last_incident_at, i.class_changed_at, f.open_incidents,
       f.checked_out_to, f.last_returned_at,
       i.facts_version AS item_facts_version, p.facts_version AS production_facts_version,
       coalesce((
           SELECT jsonb_agg(jsonb_build_object('id', v.id, 'device', v.device,
                                               'to', v.handoff_to, 'at', v.created_at))
           FROM verifications v
           WHERE v.tag_id = t.id AND v.purpose = 'checkout' AND v.handoff_to IS NOT NULL
             AND v.created_at > now() - interval '1 day'
       ), '[]'::jsonb) AS recent_handoffs,
       coalesce((
           SELECT jsonb_agg(jsonb_build_object(
               'id', ph.id, 'purpose', ph.purpose, 'width', ph.width, 'height', ph.height,
               'original_sha', ph.original_sha, 'display_sha', ph.display_sha,
               'thumb_sha', ph.thumb_sha, 'created_at', ph.created_at)
               ORDER BY ph.created_at, ph.id)
           FROM photos ph WHERE ph.item_id = i.id AND ph.purpose = 'item'
       ), '[]'::jsonb) AS photos,
       -- The clock now, not the transaction's start: a confirmation and a check-out read
       -- these facts after waiting for the item's row and the chain head, and judge
       -- the inspection's age as of after that wait.
       clock_timestamp() AS db_now
FROM tags t
JOIN items i ON i.id = t.item_id
JOIN item_safety_facts f ON f.item_id = i.id
JOIN productions p ON p.id = t.production_id
WHERE t.code = $1;

-- name: production_context
-- The scanning production's status and policy (when the tag is unknown or foreign).
SELECT status AS production_status, policy, clock_timestamp() AS db_now FROM productions WHERE id = $1;

-- name: verification_by_client_id
-- A stored verification, for an idempotent replay: with what the scan was for, its age
-- and its production's policy (a resend must be the same scan, and recent).
SELECT v.id, v.production_id, v.code_scanned, v.item_id, v.verdict, v.reasons,
       v.needs_confirmation, v.created_at, v.offline, v.purpose, v.handoff_to,
       now() - v.created_at AS age, p.policy
FROM verifications v JOIN productions p ON p.id = v.production_id
WHERE v.client_id = $1;

-- name: recorded_server_verdict
-- The server's own verdict recorded beside an offline verification's (its event's body;
-- the row holds what the phone showed). $1 chain, $2 the row's created_at, $3 its id.
SELECT e.body FROM events e
WHERE e.chain_id = $1 AND e.kind = 'verification'
  AND e.at BETWEEN $2::timestamptz - interval '10 minutes'
               AND $2::timestamptz + interval '10 minutes'
  AND e.body LIKE '%"verification_id":"' || $3::text || '"%'
LIMIT 1;

-- name: verification_by_id
-- One verification with its confirmation, if any.
SELECT v.id, v.production_id, v.code_scanned, v.tag_id, v.item_id, v.verdict, v.reasons,
       v.needs_confirmation, v.purpose, v.handoff_to, v.actor, v.device, v.created_at,
       t.code AS tag_code, c.match AS confirmed_match, c.created_at AS confirmed_at
FROM verifications v
LEFT JOIN tags t ON t.id = v.tag_id
LEFT JOIN confirmations c ON c.verification_id = v.id
WHERE v.id = $1 OR v.client_id = $1
-- The server's own id first: a client may have chosen another verification's id as
-- its client_id.
ORDER BY v.id = $1 DESC
LIMIT 1;

-- name: insert_confirmation
-- The scanning person's visual check of a verification (once).
INSERT INTO confirmations (verification_id, client_id, match, actor) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING created_at;

-- name: snapshot_items
-- Every item of a production with the facts the offline verdict needs.
SELECT i.id, i.name, i.capability_class, i.status, i.make, i.model, i.distinctive_marks,
       f.has_evidence,
       f.last_passed_inspection_at, f.last_incident_at, i.class_changed_at, f.open_incidents,
       f.checked_out_to, f.last_returned_at,
       (SELECT jsonb_build_object('thumb_sha', ph.thumb_sha, 'display_sha', ph.display_sha)
          FROM photos ph WHERE ph.item_id = i.id AND ph.purpose = 'item'
          ORDER BY ph.created_at, ph.id LIMIT 1) AS photo
FROM items i
JOIN item_safety_facts f ON f.item_id = i.id
WHERE i.production_id = $1
ORDER BY i.created_at, i.id;

-- name: snapshot_tags
-- Every tag of a production (revoked and superseded too, so they STOP with their reason).
SELECT code, item_id, status FROM tags WHERE production_id = $1 ORDER BY issued_at, id;

-- name: db_now
-- The database's clock (the one every stored time comes from).
SELECT now();
