-- name: status_production
-- A production's settings for its status, with the chain head and the database clock.
SELECT p.id, p.studio_id, p.name, p.status, p.wrap_time, p.timezone, p.policy,
       h.seq AS head_seq, h.hash AS head_hash, now() AS db_now
FROM productions p
LEFT JOIN chain_heads h ON h.chain_id = p.id
WHERE p.id = $1;

-- name: studio_production_ids
-- The productions of a studio, in name order.
SELECT id FROM productions WHERE studio_id = $1 ORDER BY name, id;

-- name: status_reasons
-- Every reason a production is not firearm-free, as (code, count, first item ids).
-- $1 production, $2 item id cap, $3 inspection max age (hours, 0 = off),
-- $4 require inspection since last incident, $5 last wrap, $6 unknown-code window start,
-- $7 require inspection after use (since the item last came back from a performer).
-- Each branch reads one indexed slice; per-item facts about incidents come from one
-- aggregate over the production's incidents (few) joined by hash, never a probe per row.
-- Counts are exact, id lists capped at $2.
WITH incident_facts AS (
    SELECT inc.id, inc.item_id, inc.verification_id, inc.kind, inc.created_at,
           r.created_at AS resolved_at
    FROM incidents inc
    LEFT JOIN incident_resolutions r ON r.incident_id = inc.id
    WHERE inc.production_id = $1
), open_incidents AS (
    SELECT id, item_id, created_at,
           kind IN ('suspected_functional', 'unregistered_weapon_found',
                    'possible_duplicate_tag', 'offline_clearance_disputed') AS serious
    FROM incident_facts WHERE resolved_at IS NULL
), per_item AS (
    -- The last incident about each item, and the last resolution of one.
    SELECT item_id, max(created_at) AS last_incident, max(resolved_at) AS last_resolved
    FROM incident_facts WHERE item_id IS NOT NULL
    GROUP BY item_id
), overdue AS (
    SELECT i.id, i.created_at
    FROM items i
    LEFT JOIN LATERAL (
        SELECT ins.created_at FROM inspections ins
        WHERE ins.item_id = i.id AND ins.result = 'pass'
        ORDER BY ins.created_at DESC LIMIT 1
    ) pass ON true
    LEFT JOIN per_item pi ON pi.item_id = i.id
    LEFT JOIN LATERAL (
        SELECT max(c.in_at) AS in_at FROM checkouts c WHERE c.item_id = i.id
    ) ret ON $7
    WHERE i.production_id = $1 AND i.status = 'active'
      AND i.capability_class IN ('non_firing_replica', 'non_firing_mechanical', 'deactivated')
      AND (pass.created_at IS NULL
           OR ($3::float8 > 0 AND pass.created_at < now() - make_interval(secs => $3 * 3600))
           OR ($4 AND pi.last_incident IS NOT NULL AND pass.created_at <= pi.last_incident)
           OR (i.class_changed_at IS NOT NULL AND pass.created_at <= i.class_changed_at)
           OR (ret.in_at IS NOT NULL AND pass.created_at < ret.in_at))
), stops AS (
    -- A STOP at hand-off stays open until, after it, the same item passed a CLEARED
    -- hand-off scan, or an incident about it (or about that scan) was resolved; a STOP
    -- that identified no item, until an incident reported after it was resolved.
    SELECT v.id, v.item_id, v.created_at
    FROM verifications v
    LEFT JOIN per_item pi ON pi.item_id = v.item_id
    WHERE v.production_id = $1 AND v.purpose = 'checkout' AND v.verdict = 'STOP'
      AND (pi.last_resolved IS NULL OR pi.last_resolved <= v.created_at)
      AND NOT EXISTS (
          SELECT 1 FROM verifications later
          WHERE v.item_id IS NOT NULL AND later.item_id = v.item_id
            AND later.purpose = 'checkout' AND later.verdict = 'CLEARED'
            -- Decided by the server: an offline row's verdict is what a phone says it
            -- showed, which anyone can claim.
            AND NOT later.offline
            AND later.created_at > v.created_at)
      AND NOT EXISTS (
          SELECT 1 FROM incident_facts f
          WHERE f.verification_id = v.id AND f.resolved_at IS NOT NULL)
      AND (v.item_id IS NOT NULL OR v.created_at > coalesce((
          SELECT max(f.created_at) FROM incident_facts f WHERE f.resolved_at IS NOT NULL),
          '-infinity'))
)
SELECT 'restricted_items' AS code, count(*) AS n,
       (array_agg(i.id ORDER BY i.created_at, i.id))[1:$2] AS item_ids
FROM items i
WHERE i.production_id = $1 AND i.status <> 'retired'
  AND i.capability_class IN ('airsoft_projectile', 'blank_firing', 'functional_firearm')
UNION ALL
SELECT 'serious_incidents', count(*),
       (array_agg(o.item_id ORDER BY o.created_at) FILTER (WHERE o.item_id IS NOT NULL))[1:$2]
FROM open_incidents o WHERE o.serious
UNION ALL
SELECT 'open_incidents', count(*),
       (array_agg(o.item_id ORDER BY o.created_at) FILTER (WHERE o.item_id IS NOT NULL))[1:$2]
FROM open_incidents o WHERE NOT o.serious
UNION ALL
SELECT 'missing_items', count(*), (array_agg(i.id ORDER BY i.created_at, i.id))[1:$2]
FROM items i WHERE i.production_id = $1 AND i.status = 'missing'
UNION ALL
SELECT 'inspection_overdue', count(*), (array_agg(o.id ORDER BY o.created_at, o.id))[1:$2]
FROM overdue o
UNION ALL
SELECT 'not_checked_in', count(*), (array_agg(c.item_id ORDER BY c.out_at))[1:$2]
FROM checkouts c
WHERE c.production_id = $1 AND c.in_at IS NULL AND c.out_at < $5
UNION ALL
SELECT 'handoff_stop_unresolved', count(*),
       (array_agg(s.item_id ORDER BY s.created_at) FILTER (WHERE s.item_id IS NOT NULL))[1:$2]
FROM stops s
UNION ALL
SELECT 'unknown_code_scans', count(*), '{}'::uuid[]
FROM verifications v
WHERE v.production_id = $1 AND 'unknown_code' = ANY (v.reasons) AND v.created_at >= $6;
