-- An offline CLEARED the registry disputes. A phone without signal decides from its
-- snapshot; when its queued scan reaches the server and the server says STOP for what
-- the tag or item is (a restricted class, an unknown code, another production's tag:
-- nothing a snapshot of this production could have shown as clearable), someone may be
-- holding an item they were told was cleared, or a client that was never offline
-- claimed a CLEARED. That is an incident: the item is quarantined and the prop master
-- sees it (api/verify.py).
ALTER TABLE incidents DROP CONSTRAINT incidents_kind_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_kind_check CHECK (kind IN (
    'mismatch', 'damaged', 'suspected_functional', 'missing', 'tag_damaged',
    'unregistered_weapon_found', 'possible_duplicate_tag', 'code_probing',
    'offline_clearance_disputed', 'other'));
