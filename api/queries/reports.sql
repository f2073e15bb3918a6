-- name: report_items
-- Every item of a production registered before the report's end, with its current tag,
-- last passing inspection and first photo's thumbnail.
SELECT i.id, i.name, i.capability_class, i.status, i.make, i.model, i.serial,
       i.distinctive_marks, i.evidence_certificate, i.evidence_issuer, i.evidence_date,
       i.created_at, i.updated_at, t.code AS tag_code, pass.created_at AS last_pass_at,
       ph.thumb_sha
FROM items i
LEFT JOIN tags t ON t.item_id = i.id AND t.status = 'active'
LEFT JOIN LATERAL (
    SELECT ins.created_at FROM inspections ins
    WHERE ins.item_id = i.id AND ins.result = 'pass'
    ORDER BY ins.created_at DESC LIMIT 1
) pass ON true
LEFT JOIN LATERAL (
    SELECT p.thumb_sha FROM photos p
    WHERE p.item_id = i.id AND p.purpose = 'item'
    ORDER BY p.created_at, p.id LIMIT 1
) ph ON true
WHERE i.production_id = $1 AND i.created_at < $2
ORDER BY i.created_at, i.id
LIMIT $3;

-- name: report_verifications
-- Verifications in [from, to), oldest first, with the item name and the confirmation.
SELECT v.id, v.created_at, v.verdict, v.reasons, v.purpose, v.handoff_to, v.method,
       v.code_scanned, v.item_id, i.name AS item_name, v.actor, v.device, v.offline,
       v.client_time, c.match AS confirmed_match, c.created_at AS confirmed_at
FROM verifications v
LEFT JOIN items i ON i.id = v.item_id
LEFT JOIN confirmations c ON c.verification_id = v.id
WHERE v.production_id = $1 AND v.created_at >= $2 AND v.created_at < $3
ORDER BY v.created_at, v.id
LIMIT $4;

-- name: report_handoffs
-- Hand-offs with a check-out or a check-in in [from, to) (a check-in inside the range
-- of an item handed out before it is part of the range's record).
SELECT c.id, c.item_id, i.name AS item_name, c.performer, c.scene, c.take, c.out_by,
       c.out_at, c.out_verification_id, c.in_by, c.in_at, c.in_verification_id
FROM checkouts c
JOIN items i ON i.id = c.item_id
WHERE c.production_id = $1
  AND ((c.out_at >= $2 AND c.out_at < $3) OR (c.in_at >= $2 AND c.in_at < $3))
ORDER BY c.out_at, c.id
LIMIT $4;

-- name: report_inspections
-- Inspections in [from, to).
SELECT ins.id, ins.created_at, ins.item_id, i.name AS item_name, ins.kind, ins.result,
       ins.notes, ins.actor
FROM inspections ins
JOIN items i ON i.id = ins.item_id
WHERE ins.production_id = $1 AND ins.created_at >= $2 AND ins.created_at < $3
ORDER BY ins.created_at, ins.id
LIMIT $4;

-- name: report_incidents
-- Incidents reported or resolved in [from, to), with their resolution if any.
SELECT inc.id, inc.created_at, inc.kind, inc.item_id, i.name AS item_name,
       inc.verification_id, inc.description, inc.actor, r.created_at AS resolved_at,
       r.actor AS resolved_by, r.notes AS resolution_notes
FROM incidents inc
LEFT JOIN items i ON i.id = inc.item_id
LEFT JOIN incident_resolutions r ON r.incident_id = inc.id
WHERE inc.production_id = $1
  AND ((inc.created_at >= $2 AND inc.created_at < $3)
       OR (r.created_at >= $2 AND r.created_at < $3))
ORDER BY inc.created_at, inc.id
LIMIT $4;

-- name: report_corrections
-- Corrections appended in [from, to), each beside the original it corrects (shown
-- separately, as electronic bound books require: the original is never changed). What
-- the correction recorded (corrects_seq, _kind, _hash) comes from its own body; the
-- original's row gives when and by whom it was made, and its hash now (original_hash:
-- the same as corrects_hash unless the original was altered, which the chain check
-- reports too).
SELECT c.seq, c.at, c.actor, b.body ->> 'note' AS note,
       (b.body -> 'values')::text AS corrected_values,
       (b.body ->> 'corrects_seq')::bigint AS corrects_seq,
       b.body ->> 'corrects_kind' AS corrects_kind,
       b.body ->> 'corrects_hash' AS corrects_hash,
       o.at AS corrects_at, o.actor AS corrects_actor, o.hash AS original_hash
FROM events c
CROSS JOIN LATERAL (SELECT c.body::jsonb AS body) b  -- the body parsed once per row
LEFT JOIN events o
       ON o.chain_id = c.chain_id AND o.seq = (b.body ->> 'corrects_seq')::bigint
WHERE c.chain_id = $1 AND c.kind = 'correction' AND c.at >= $2 AND c.at < $3
ORDER BY c.seq
LIMIT $4;

-- name: production_created_at
-- When a production was created (the default start of its report), and its time zone
-- (a report's dates are the set's own days).
SELECT created_at, timezone FROM productions WHERE id = $1;
