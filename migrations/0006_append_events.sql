-- Append several events to one chain with one chain-head update.
--
-- propcheck_append_event locked, read and updated the chain head once per event. A
-- group commit of verifications (api/recorder.py) appends many events in one
-- transaction, so the head row got one new version per event; versions made inside one
-- transaction cannot be pruned until it ends, so they spilled to new pages and new
-- index entries, and every later lookup of the head walked past the dead ones until
-- autovacuum came (measured: after a bulk seed the head's table was 3.7 MB for two
-- rows, and a verify cost three times its usual PostgreSQL CPU until it was vacuumed).
-- Here the head is locked and read once, the events are hashed in order, inserted in
-- one statement, and the head is written once: one new version per transaction.
--
-- The chain, the hashed text (propcheck_event_text) and the lock are unchanged, so
-- every event is exactly what propcheck_append_event appended before, and the audit
-- reads both alike.
CREATE FUNCTION propcheck_append_events(
    p_chain uuid, p_kinds text[], p_actors text[], p_subjects uuid[], p_bodies text[]
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_n int := coalesce(cardinality(p_bodies), 0);
    v_seq bigint;
    v_prev text;
    v_at timestamptz;
    v_seqs bigint[] := '{}';
    v_ats timestamptz[] := '{}';
    v_prevs text[] := '{}';
    v_hashes text[] := '{}';
BEGIN
    IF v_n = 0 THEN
        RETURN NULL;
    END IF;
    IF cardinality(p_kinds) <> v_n OR cardinality(p_actors) <> v_n
       OR cardinality(p_subjects) <> v_n THEN
        RAISE EXCEPTION 'propcheck_append_events: arrays of different lengths';
    END IF;
    SELECT seq, hash INTO v_seq, v_prev FROM chain_heads WHERE chain_id = p_chain FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO chain_heads (chain_id, seq, hash) VALUES (p_chain, 0, repeat('0', 64))
            ON CONFLICT (chain_id) DO NOTHING;
        SELECT seq, hash INTO v_seq, v_prev FROM chain_heads WHERE chain_id = p_chain FOR UPDATE;
    END IF;
    FOR i IN 1..v_n LOOP
        v_seq := v_seq + 1;
        v_at := clock_timestamp();
        v_seqs := v_seqs || v_seq;
        v_ats := v_ats || v_at;
        v_prevs := v_prevs || v_prev;
        v_prev := encode(sha256(convert_to(propcheck_event_text(
            v_prev, v_seq, p_chain, p_kinds[i], p_actors[i], p_subjects[i], v_at, p_bodies[i]),
            'UTF8')), 'hex');
        v_hashes := v_hashes || v_prev;
    END LOOP;
    INSERT INTO events (chain_id, seq, kind, actor, subject_id, at, body, prev_hash, hash)
    SELECT p_chain, u.seq, u.kind, u.actor, u.subject, u.at, u.body, u.prev, u.hash
    FROM unnest(v_seqs, p_kinds, p_actors, p_subjects, v_ats, p_bodies, v_prevs, v_hashes)
        AS u(seq, kind, actor, subject, at, body, prev, hash);
    UPDATE chain_heads SET seq = v_seq, hash = v_prev WHERE chain_id = p_chain;
    RETURN v_seq;
END
$$;

-- One event: the same function with arrays of one, so the hashing lives in one place.
CREATE OR REPLACE FUNCTION propcheck_append_event(
    p_chain uuid, p_kind text, p_actor text, p_subject uuid, p_body text
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT propcheck_append_events(
        p_chain, ARRAY[p_kind], ARRAY[p_actor], ARRAY[p_subject], ARRAY[p_body])
$$;

REVOKE ALL ON FUNCTION propcheck_append_events(uuid, text[], text[], uuid[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION propcheck_append_events(uuid, text[], text[], uuid[], text[])
    TO propcheck_app;
