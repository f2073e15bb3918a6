-- A version of the verdict facts of each item and each production.
--
-- The verdict of a verify is decided in the API from the facts of the scanned tag (the
-- verify_facts query), then recorded in a later statement. A write that lands in
-- between (a quarantine, a revoked tag, a new policy, from this process or another)
-- made that verdict stale at the moment it was recorded and shown. Now the facts carry
-- these versions, and the statement that records a verification stores it only if the
-- versions are still the current ones (api/queries/recorder.sql); otherwise the API
-- reads the facts again and decides again. The same check lets each API process keep
-- the facts of recently scanned tags in memory (api/facts_cache.py) without ever
-- recording a verdict decided on facts that have changed since.
--
-- The versions are kept by triggers, so no write path can forget them: every change to
-- a row that item_safety_facts, verify_facts or the verdict read bumps the version of
-- the item (or production) it belongs to.
ALTER TABLE items ADD COLUMN facts_version bigint NOT NULL DEFAULT 0;
ALTER TABLE productions ADD COLUMN facts_version bigint NOT NULL DEFAULT 0;

-- Any update of an item or production row (status, class, evidence, policy, archive,
-- or a bump from the triggers below) is a new version of its facts.
CREATE FUNCTION propcheck_next_facts_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.facts_version := OLD.facts_version + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER items_facts_version BEFORE UPDATE ON items
    FOR EACH ROW EXECUTE FUNCTION propcheck_next_facts_version();
CREATE TRIGGER productions_facts_version BEFORE UPDATE ON productions
    FOR EACH ROW EXECUTE FUNCTION propcheck_next_facts_version();

-- Rows that carry an item_id (tags, inspections, incidents, check-outs, the item's own
-- photos): a new, changed or removed row bumps its item (both when item_id changes).
CREATE FUNCTION propcheck_bump_item_facts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.item_id IS NOT NULL THEN
        UPDATE items SET facts_version = facts_version + 1 WHERE id = OLD.item_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.item_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.item_id IS DISTINCT FROM OLD.item_id) THEN
        UPDATE items SET facts_version = facts_version + 1 WHERE id = NEW.item_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tags_facts_version AFTER INSERT OR UPDATE OR DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION propcheck_bump_item_facts();
CREATE TRIGGER inspections_facts_version AFTER INSERT OR UPDATE OR DELETE ON inspections
    FOR EACH ROW EXECUTE FUNCTION propcheck_bump_item_facts();
CREATE TRIGGER incidents_facts_version AFTER INSERT OR UPDATE OR DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION propcheck_bump_item_facts();
CREATE TRIGGER checkouts_facts_version AFTER INSERT OR UPDATE OR DELETE ON checkouts
    FOR EACH ROW EXECUTE FUNCTION propcheck_bump_item_facts();
-- Only the item's own photos (purpose 'item') are facts the verdict screen shows;
-- evidence photos of verifications, inspections and incidents are not, and a photo
-- verification stores its own evidence photo in the transaction that records it.
CREATE TRIGGER photos_facts_version_insert AFTER INSERT ON photos
    FOR EACH ROW WHEN (NEW.purpose = 'item')
    EXECUTE FUNCTION propcheck_bump_item_facts();
CREATE TRIGGER photos_facts_version_update AFTER UPDATE ON photos
    FOR EACH ROW WHEN (OLD.purpose = 'item' OR NEW.purpose = 'item')
    EXECUTE FUNCTION propcheck_bump_item_facts();
CREATE TRIGGER photos_facts_version_delete AFTER DELETE ON photos
    FOR EACH ROW WHEN (OLD.purpose = 'item')
    EXECUTE FUNCTION propcheck_bump_item_facts();

-- A resolution closes an incident: its item's open-incident count changes.
CREATE FUNCTION propcheck_bump_resolved_item_facts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE items SET facts_version = facts_version + 1
    WHERE id = (SELECT item_id FROM incidents WHERE id = NEW.incident_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER incident_resolutions_facts_version AFTER INSERT ON incident_resolutions
    FOR EACH ROW EXECUTE FUNCTION propcheck_bump_resolved_item_facts();

-- A scan for a hand-off is a fact of its tag's item (recent hand-offs, which the
-- duplicate-tag rule compares). Plain checks are not: the WHEN clause keeps the trigger
-- off the hot path of ordinary verifications.
CREATE FUNCTION propcheck_bump_handoff_item_facts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE items SET facts_version = facts_version + 1
    WHERE id = (SELECT item_id FROM tags WHERE id = NEW.tag_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER verifications_handoff_facts_version AFTER INSERT ON verifications
    FOR EACH ROW
    WHEN (NEW.purpose = 'checkout' AND NEW.handoff_to IS NOT NULL AND NEW.tag_id IS NOT NULL)
    EXECUTE FUNCTION propcheck_bump_handoff_item_facts();
