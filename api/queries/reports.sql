-- name: report_items
-- Every item of a production registered before the report's end ($2), as it was then:
-- an audit of a past range must show what the production held in it, not what the
-- items became since (a blank-firing gun later reclassified as a replica would have
-- been listed as a replica). The item's row holds its state now; the chain holds every
-- change with the value it replaced, so each field changed after the end takes the
-- value the first such change found (item.edited's "before"; a quarantine's previous
-- status; a reactivation was from quarantined). With its tag, last passing inspection
-- and first photo as of the end too.
WITH later AS (
    SELECT e.subject_id, e.seq, e.kind, e.body::jsonb AS body
    FROM events e
    WHERE e.chain_id = $1 AND e.at >= $2
      AND e.kind IN ('item.edited', 'item.quarantined', 'item.reactivated')
), fields_then AS (
    SELECT f.subject_id, jsonb_object_agg(f.key, f.value) AS was
    FROM (
        SELECT DISTINCT ON (l.subject_id, b.key) l.subject_id, b.key, b.value
        FROM later l CROSS JOIN LATERAL jsonb_each(l.body -> 'before') b
        WHERE l.kind = 'item.edited' AND jsonb_typeof(l.body -> 'before') = 'object'
        ORDER BY l.subject_id, b.key, l.seq
    ) f
    GROUP BY f.subject_id
), status_then AS (
    SELECT DISTINCT ON (l.subject_id) l.subject_id,
           CASE l.kind
               WHEN 'item.quarantined' THEN l.body ->> 'previous_status'
               WHEN 'item.reactivated' THEN 'quarantined'
               ELSE l.body -> 'before' ->> 'status'
           END AS status
    FROM later l
    WHERE l.kind <> 'item.edited' OR l.body -> 'before' ? 'status'
    ORDER BY l.subject_id, l.seq
), changed_then AS (
    SELECT e.subject_id, max(e.at) AS at
    FROM events e
    WHERE e.chain_id = $1 AND e.at < $2
      AND e.kind IN ('item.registered', 'item.edited', 'item.quarantined', 'item.reactivated')
    GROUP BY e.subject_id
)
SELECT i.id,
       coalesce(fw.was ->> 'name', i.name) AS name,
       coalesce(fw.was ->> 'capability_class', i.capability_class) AS capability_class,
       coalesce(st.status, i.status) AS status,
       coalesce(fw.was ->> 'make', i.make) AS make,
       coalesce(fw.was ->> 'model', i.model) AS model,
       coalesce(fw.was ->> 'serial', i.serial) AS serial,
       CASE WHEN fw.was ? 'distinctive_marks'
            THEN ARRAY(SELECT m.mark
                       FROM jsonb_array_elements_text(fw.was -> 'distinctive_marks')
                           WITH ORDINALITY AS m(mark, n)
                       ORDER BY m.n)
            ELSE i.distinctive_marks END AS distinctive_marks,
       CASE WHEN fw.was ? 'evidence' THEN fw.was -> 'evidence' ->> 'certificate_number'
            ELSE i.evidence_certificate END AS evidence_certificate,
       CASE WHEN fw.was ? 'evidence' THEN fw.was -> 'evidence' ->> 'issuer'
            ELSE i.evidence_issuer END AS evidence_issuer,
       CASE WHEN fw.was ? 'evidence' THEN (fw.was -> 'evidence' ->> 'date')::date
            ELSE i.evidence_date END AS evidence_date,
       i.created_at,
       -- When it last changed before the end (a change after it is not this range's).
       greatest(i.created_at, ch.at) AS updated_at,
       t.code AS tag_code, pass.created_at AS last_pass_at, ph.thumb_sha
FROM items i
LEFT JOIN fields_then fw ON fw.subject_id = i.id
LEFT JOIN status_then st ON st.subject_id = i.id
LEFT JOIN changed_then ch ON ch.subject_id = i.id
-- The production's tags at once, not a lookup per item: tags.item_id has only the
-- index of the active ones, and a lateral read every tag of the database per item
-- (10,000 items: 6 s instead of 0.1 s; found by review).
LEFT JOIN (
    SELECT DISTINCT ON (tg.item_id) tg.item_id, tg.code
    FROM tags tg
    WHERE tg.production_id = $1 AND tg.issued_at < $2
      AND (tg.revoked_at IS NULL OR tg.revoked_at >= $2)
    ORDER BY tg.item_id, tg.issued_at DESC
) t ON t.item_id = i.id
LEFT JOIN LATERAL (
    SELECT ins.created_at FROM inspections ins
    WHERE ins.item_id = i.id AND ins.result = 'pass' AND ins.created_at < $2
    ORDER BY ins.created_at DESC LIMIT 1
) pass ON true
LEFT JOIN LATERAL (
    SELECT p.thumb_sha FROM photos p
    WHERE p.item_id = i.id AND p.purpose = 'item' AND p.created_at < $2
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
