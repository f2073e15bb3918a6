-- The per-item facts the verdict needs, defined once: the online verify query and the
-- offline snapshot both read them from this view (a plain view: PostgreSQL inlines it,
-- so the verify plan stays a lookup by tag code with per-item sub-plans).
CREATE VIEW item_safety_facts AS
SELECT i.id AS item_id,
       (i.evidence_certificate IS NOT NULL AND i.evidence_issuer IS NOT NULL
        AND i.evidence_date IS NOT NULL) AS has_evidence,
       (SELECT max(ins.created_at) FROM inspections ins
         WHERE ins.item_id = i.id AND ins.result = 'pass') AS last_passed_inspection_at,
       (SELECT max(inc.created_at) FROM incidents inc WHERE inc.item_id = i.id)
           AS last_incident_at,
       (SELECT count(*) FROM incidents inc
         WHERE inc.item_id = i.id
           AND NOT EXISTS (SELECT 1 FROM incident_resolutions r WHERE r.incident_id = inc.id))
           AS open_incidents,
       (SELECT c.performer FROM checkouts c WHERE c.item_id = i.id AND c.in_at IS NULL)
           AS checked_out_to
FROM items i;

GRANT SELECT ON item_safety_facts TO propcheck_app;
