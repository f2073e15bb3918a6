-- When an item's capability class last changed. The verdict needs a passing inspection
-- after it (verifier/rules.py, not_inspected_since_class_change), whatever the item's
-- status went through meanwhile and whatever the policy says: a class is what the item
-- can do, and only someone who has looked at it again may say it changed. NULL: never
-- changed since registration.
ALTER TABLE items ADD COLUMN class_changed_at timestamptz;

-- Set by the database on every write that changes the class, whoever makes it. The
-- time is taken when the row is changed (clock_timestamp), not when the transaction
-- began (now()): an edit holds the item's row lock from here to its commit, so an
-- inspection recorded before the change is older than this time, and one that began
-- earlier but waited for the lock is at worst taken for older too (STOP, never a
-- CLEARED on an inspection from before the change).
CREATE FUNCTION propcheck_class_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.capability_class IS DISTINCT FROM OLD.capability_class THEN
        NEW.class_changed_at := clock_timestamp();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER items_class_changed BEFORE UPDATE OF capability_class ON items
    FOR EACH ROW EXECUTE FUNCTION propcheck_class_changed();

-- Items whose class was edited before this migration: the last such edit, from the
-- record (item.edited events name the fields they changed).
UPDATE items i SET class_changed_at = e.at
FROM (
    SELECT subject_id, max(at) AS at FROM events
    WHERE kind = 'item.edited' AND (body::jsonb -> 'after') ? 'capability_class'
    GROUP BY subject_id
) e
WHERE i.id = e.subject_id;
