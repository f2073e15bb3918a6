-- When each item last came back from a performer: the verdict needs a passing
-- inspection after it (verifier/rules.py, not_inspected_since_use; Industry Safety
-- Bulletin #1: the property master inspects before and after every use). The check-in
-- already offers the after-use inspection and writes it after the check-in, in the same
-- transaction; a check-in without one now leaves the item at STOP until someone looks.
--
-- Read from the check-outs themselves (in_at, set by the database's clock when the item
-- is taken back), so there is no second copy to keep in step. The view gains a last
-- column (CREATE OR REPLACE VIEW may only add at the end); its other columns are as
-- migration 0005 made them.
CREATE OR REPLACE VIEW item_safety_facts AS
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
           AS checked_out_to,
       (SELECT max(c.in_at) FROM checkouts c WHERE c.item_id = i.id) AS last_returned_at
FROM items i;

-- The last return of one item is one index probe (max over (item_id, in_at)).
CREATE INDEX checkouts_item_in_idx ON checkouts (item_id, in_at);
