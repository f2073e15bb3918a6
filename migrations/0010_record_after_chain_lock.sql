-- Recording verifications checks the facts versions after the chain head is locked.
--
-- Until now the recording statement (api/queries/recorder.sql) compared each row's facts
-- versions with the items and productions rows as its snapshot saw them when it began,
-- and only then waited for the chain head's lock inside propcheck_append_events. A
-- quarantine committed by another transaction while the statement waited for that lock
-- (every write appends to the production's chain and holds its head until its commit)
-- was invisible to the check: the verification was stored CLEARED, and chained after
-- the quarantine's own event (found by review; tests/api/test_facts_cache.py).
--
-- Now the chain head is locked first, and the versions are read by a statement that
-- starts after the lock is held, so it sees every write chained before this batch. A
-- write not yet chained has not committed either, and its event will follow this
-- batch's in the chain: the record orders them as they happened.
--
-- Also: two hand-off scans of one item in one batch were both decided on facts without
-- the other (the duplicate-tag rule compares a hand-off with the earlier ones). Any
-- hand-off scan after the first of its item in a batch is now stale: its verify reads
-- the facts again, with the first one stored, and decides again.

-- Lock a chain's head (created at zero if it does not exist yet) until the caller's
-- transaction ends. SECURITY DEFINER: the application may read chain_heads, not lock it.
CREATE FUNCTION propcheck_lock_chain(p_chain uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM 1 FROM chain_heads WHERE chain_id = p_chain FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO chain_heads (chain_id, seq, hash) VALUES (p_chain, 0, repeat('0', 64))
            ON CONFLICT (chain_id) DO NOTHING;
        PERFORM 1 FROM chain_heads WHERE chain_id = p_chain FOR UPDATE;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION propcheck_lock_chain(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION propcheck_lock_chain(uuid) TO propcheck_app;

-- Store verifications of one production and append their events (the group commit of
-- api/recorder.py, a batch of one included). Arrays hold one element per verification,
-- in the verifications columns' order, then the events' canonical JSON bodies and the
-- item's and production's facts_version each verdict was decided on (NULL: not
-- checked). A row whose versions are no longer current is not stored and comes back
-- with stale = true (its verdict must be decided again); a row whose client_id is
-- already stored (a replay) stores nothing and returns no row. Events are appended in
-- the order of the arrays. SECURITY INVOKER: it inserts as the application role.
CREATE FUNCTION propcheck_record_verifications(
    p_chain uuid, p_ids uuid[], p_client_ids uuid[], p_productions uuid[], p_codes text[],
    p_tags uuid[], p_items uuid[], p_verdicts text[], p_reasons text[], p_needs boolean[],
    p_purposes text[], p_handoffs text[], p_methods text[], p_photos uuid[],
    p_actors text[], p_devices text[], p_offline boolean[], p_client_times timestamptz[],
    p_bodies text[], p_item_versions bigint[], p_production_versions bigint[]
) RETURNS TABLE (id uuid, created_at timestamptz, seq bigint, stale boolean)
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM propcheck_lock_chain(p_chain);
    -- A new statement, so a new snapshot: it sees every write chained before the lock.
    RETURN QUERY
    WITH x AS (
        SELECT *
        FROM unnest(p_ids, p_client_ids, p_productions, p_codes, p_tags, p_items,
                    p_verdicts, p_reasons, p_needs, p_purposes, p_handoffs, p_methods,
                    p_photos, p_actors, p_devices, p_offline, p_client_times, p_bodies,
                    p_item_versions, p_production_versions)
            WITH ORDINALITY
            AS x(id, client_id, production_id, code_scanned, tag_id, item_id, verdict,
                 reasons, needs_confirmation, purpose, handoff_to, method, photo_id, actor,
                 device, offline, client_time, body, item_version, production_version, ord)
        WHERE x.production_id = p_chain
    ), handoff AS (
        SELECT x.* FROM x
        WHERE x.purpose = 'checkout' AND x.handoff_to IS NOT NULL AND x.item_id IS NOT NULL
    ), stale_rows AS (
        SELECT x.id FROM x
        WHERE (x.item_version IS NOT NULL AND x.item_version IS DISTINCT FROM
                   (SELECT i.facts_version FROM items i WHERE i.id = x.item_id))
           OR (x.production_version IS NOT NULL AND x.production_version IS DISTINCT FROM
                   (SELECT p.facts_version FROM productions p WHERE p.id = x.production_id))
        UNION
        SELECT h.id FROM handoff h
        WHERE EXISTS (SELECT 1 FROM handoff f WHERE f.item_id = h.item_id AND f.ord < h.ord)
    ), v AS (
        INSERT INTO verifications AS t (id, client_id, production_id, code_scanned, tag_id,
            item_id, verdict, reasons, needs_confirmation, purpose, handoff_to, method,
            photo_id, actor, device, offline, client_time)
        SELECT x.id, x.client_id, x.production_id, x.code_scanned, x.tag_id, x.item_id,
               x.verdict, x.reasons::text[], x.needs_confirmation, x.purpose, x.handoff_to,
               x.method, x.photo_id, x.actor, x.device, x.offline, x.client_time
        FROM x
        WHERE x.id NOT IN (SELECT s.id FROM stale_rows s)
        ORDER BY x.ord
        ON CONFLICT (client_id) DO NOTHING
        RETURNING t.id, t.created_at
    ), e AS (
        SELECT propcheck_append_events(
                   p_chain,
                   array_agg('verification'::text ORDER BY x.ord),
                   array_agg(x.actor ORDER BY x.ord),
                   array_agg(x.item_id ORDER BY x.ord),
                   array_agg(x.body ORDER BY x.ord)) AS last_seq
        FROM v JOIN x ON x.id = v.id
    )
    SELECT v.id, v.created_at,
           e.last_seq - count(*) OVER () + row_number() OVER (ORDER BY x.ord),
           false
    FROM v JOIN x ON x.id = v.id CROSS JOIN e
    UNION ALL
    SELECT s.id, NULL::timestamptz, NULL::bigint, true FROM stale_rows s;
END
$$;

REVOKE ALL ON FUNCTION propcheck_record_verifications(
    uuid, uuid[], uuid[], uuid[], text[], uuid[], uuid[], text[], text[], boolean[], text[],
    text[], text[], uuid[], text[], text[], boolean[], timestamptz[], text[], bigint[], bigint[]
) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION propcheck_record_verifications(
    uuid, uuid[], uuid[], uuid[], text[], uuid[], uuid[], text[], text[], boolean[], text[],
    text[], text[], uuid[], text[], text[], boolean[], timestamptz[], text[], bigint[], bigint[]
) TO propcheck_app;
