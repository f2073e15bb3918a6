-- An offline CLEARED the registry disputes. A phone without signal decides from its
-- snapshot; when its queued scan reaches the server and the server, deciding on its own
-- facts as of the scan, says STOP (the item was quarantined since the snapshot, say, or
-- the scan never came from a phone that was offline at all), someone may be holding an
-- item they were told was cleared. That is an incident: the item is quarantined and the
-- prop master sees it (api/verify.py).
ALTER TABLE incidents DROP CONSTRAINT incidents_kind_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_kind_check CHECK (kind IN (
    'mismatch', 'damaged', 'suspected_functional', 'missing', 'tag_damaged',
    'unregistered_weapon_found', 'possible_duplicate_tag', 'code_probing',
    'offline_clearance_disputed', 'other'));
