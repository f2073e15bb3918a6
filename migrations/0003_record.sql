-- The record: indexes for the firearm-free status and the reports.
-- The status of a production with 10,000 items and a million events must answer in well
-- under a second, so every part of it reads a small, indexed slice; none scans a table.

-- Items still out with a performer (the status checks those out since before wrap).
CREATE INDEX checkouts_open_idx ON checkouts (production_id, out_at) WHERE in_at IS NULL;

-- STOP verdicts at hand-off, and the later CLEARED hand-off scans that settle them.
CREATE INDEX verifications_handoff_stop_idx ON verifications (production_id, created_at)
    WHERE purpose = 'checkout' AND verdict = 'STOP';
CREATE INDEX verifications_handoff_cleared_idx ON verifications (item_id, created_at)
    WHERE purpose = 'checkout' AND verdict = 'CLEARED';

-- Scans of codes nobody registered (someone may be carrying an unregistered weapon).
CREATE INDEX verifications_unknown_code_idx ON verifications (production_id, created_at)
    WHERE 'unknown_code' = ANY (reasons);

-- Incidents reported about a particular verification (duplicate tags, mismatches).
CREATE INDEX incidents_verification_idx ON incidents (verification_id)
    WHERE verification_id IS NOT NULL;

-- Reports select a production's inspections by date.
CREATE INDEX inspections_production_idx ON inspections (production_id, created_at);
