-- A CLEARED is recorded only while its passing inspection is still young enough.
--
-- A verify decides at the database's clock as its facts were read (plus the time since),
-- then records the verification in a group commit, which may wait for the chain head:
-- behind other writers of the production, or for seconds when the database is slow. An
-- inspection that reached the policy's age limit inside that wait was recorded CLEARED,
-- with an event time past the limit. Now each row also carries the instant its CLEARED
-- would lapse (verifier/rules.py lapses_at; NULL: a STOP, or no age limit), compared
-- with the clock once the chain head is locked, as the facts versions are: a lapsed row
-- is stale, and its verify reads the facts again and decides again (STOP,
-- inspection_stale). The event's own time is taken microseconds after that comparison
-- (the verification row's created_at is the transaction's start, before it).
--
-- The argument list changes, so the old function is dropped (an API process of the
-- version before fails its records, and so answers STOP, until it is restarted).

DROP FUNCTION propcheck_record_verifications(
    uuid, uuid[], uuid[], uuid[], text[], uuid[], uuid[], text[], text[], boolean[], text[],
    text[], text[], uuid[], text[], text[], boolean[], timestamptz[], text[], bigint[], bigint[]
);

CREATE FUNCTION propcheck_record_verifications(
    p_chain uuid, p_ids uuid[], p_client_ids uuid[], p_productions uuid[], p_codes text[],
    p_tags uuid[], p_items uuid[], p_verdicts text[], p_reasons text[], p_needs boolean[],
    p_purposes text[], p_handoffs text[], p_methods text[], p_photos uuid[],
    p_actors text[], p_devices text[], p_offline boolean[], p_client_times timestamptz[],
    p_bodies text[], p_item_versions bigint[], p_production_versions bigint[],
    p_lapses timestamptz[]
) RETURNS TABLE (id uuid, created_at timestamptz, seq bigint, stale boolean)
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    -- Items before the chain head, as every other writer takes them: a hand-off scan's
    -- row updates its item (its facts version, migration 0007), so its item is locked
    -- first, in id order; plain scans only key-share their rows (foreign keys), which
    -- no writer's lock refuses (they lock FOR NO KEY UPDATE, migration 0012).
    PERFORM 1 FROM items i
    WHERE i.id IN (SELECT u.item FROM unnest(p_items, p_purposes, p_handoffs)
                       AS u(item, purpose, handoff)
                   WHERE u.purpose = 'checkout' AND u.handoff IS NOT NULL
                     AND u.item IS NOT NULL)
    ORDER BY i.id
    FOR NO KEY UPDATE;
    PERFORM propcheck_lock_chain(p_chain);
    -- A new statement, so a new snapshot: it sees every write chained before the lock.
    RETURN QUERY
    WITH x AS (
        SELECT *
        FROM unnest(p_ids, p_client_ids, p_productions, p_codes, p_tags, p_items,
                    p_verdicts, p_reasons, p_needs, p_purposes, p_handoffs, p_methods,
                    p_photos, p_actors, p_devices, p_offline, p_client_times, p_bodies,
                    p_item_versions, p_production_versions, p_lapses)
            WITH ORDINALITY
            AS x(id, client_id, production_id, code_scanned, tag_id, item_id, verdict,
                 reasons, needs_confirmation, purpose, handoff_to, method, photo_id, actor,
                 device, offline, client_time, body, item_version, production_version, lapses,
                 ord)
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
        -- Read after the chain lock, like the versions: a CLEARED whose passing
        -- inspection grew too old while it waited is decided again, and so recorded STOP.
        SELECT x.id FROM x WHERE x.lapses < clock_timestamp()
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
    text[], text[], uuid[], text[], text[], boolean[], timestamptz[], text[], bigint[], bigint[],
    timestamptz[]
) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION propcheck_record_verifications(
    uuid, uuid[], uuid[], uuid[], text[], uuid[], uuid[], text[], text[], boolean[], text[],
    text[], text[], uuid[], text[], text[], boolean[], timestamptz[], text[], bigint[], bigint[],
    timestamptz[]
) TO propcheck_app;
