-- propcheck schema, version 1.
--
-- Two kinds of tables:
--  * state tables (items, tags, checkouts, ...) hold the current picture and may change;
--  * the event log (events) records every change, is append-only for every role
--    (a trigger), and is chained by hashes per production (see propcheck_append_event).
-- The application connects as role propcheck_app, which is granted only what it needs:
-- no UPDATE, DELETE or TRUNCATE on the log, and no direct INSERT either: events enter
-- only through propcheck_append_event, which owns the chain heads.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'propcheck_app') THEN
        CREATE ROLE propcheck_app NOLOGIN;
    END IF;
END
$$;

CREATE TABLE studios (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email          text NOT NULL,
    display_name   text NOT NULL DEFAULT '',
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE studio_members (
    studio_id   uuid NOT NULL REFERENCES studios(id),
    user_id     uuid NOT NULL REFERENCES users(id),
    role        text NOT NULL CHECK (role IN ('studio_admin', 'studio_auditor')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (studio_id, user_id)
);

CREATE TABLE productions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    studio_id    uuid NOT NULL REFERENCES studios(id),
    name         text NOT NULL,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    -- Local wall-clock wrap time; items still checked out after it are overdue.
    wrap_time    time NOT NULL DEFAULT '23:00',
    timezone     text NOT NULL DEFAULT 'UTC',
    -- The safety policy (verifier.rules.Policy as JSON); history lives in the event log.
    policy       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    archived_at  timestamptz,
    UNIQUE (studio_id, name)
);

CREATE TABLE production_members (
    production_id  uuid NOT NULL REFERENCES productions(id),
    user_id        uuid NOT NULL REFERENCES users(id),
    role           text NOT NULL CHECK (role IN ('prop_master', 'scanner', 'auditor')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (production_id, user_id)
);

-- Bearer tokens: only the SHA-256 of the token is stored. A device token (from an
-- enrollment code) has no user and is bound to one production as a scanner.
CREATE TABLE tokens (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash     bytea NOT NULL UNIQUE,
    user_id        uuid REFERENCES users(id),
    production_id  uuid REFERENCES productions(id),
    device_name    text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    CHECK ((user_id IS NULL) = (production_id IS NOT NULL))
);

CREATE TABLE enrollment_codes (
    code_hash      bytea PRIMARY KEY,
    production_id  uuid NOT NULL REFERENCES productions(id),
    created_by     uuid NOT NULL REFERENCES users(id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    token_id       uuid REFERENCES tokens(id)
);

CREATE TABLE items (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    production_id       uuid NOT NULL REFERENCES productions(id),
    name                text NOT NULL,
    description         text NOT NULL DEFAULT '',
    capability_class    text NOT NULL CHECK (capability_class IN (
                            'non_firing_replica', 'non_firing_mechanical', 'deactivated',
                            'airsoft_projectile', 'blank_firing', 'functional_firearm')),
    make                text NOT NULL DEFAULT '',
    model               text NOT NULL DEFAULT '',
    serial              text NOT NULL DEFAULT '',
    distinctive_marks   text[] NOT NULL DEFAULT '{}',
    keywords            text[] NOT NULL DEFAULT '{}',
    status              text NOT NULL DEFAULT 'active' CHECK (status IN (
                            'active', 'quarantined', 'missing', 'retired')),
    evidence_certificate  text,
    evidence_issuer       text,
    evidence_date         date,
    evidence_photo_id     uuid,
    version             integer NOT NULL DEFAULT 1,
    created_by          uuid REFERENCES users(id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- Deactivated items carry their evidence or cannot be stored at all.
    CHECK (capability_class <> 'deactivated' OR (
        evidence_certificate IS NOT NULL AND evidence_issuer IS NOT NULL
        AND evidence_date IS NOT NULL))
);
CREATE INDEX items_production_idx ON items (production_id, created_at, id);
CREATE INDEX items_keywords_idx ON items USING gin (keywords);

-- Photos: the bytes live in the blob store under their SHA-256; rows say what they are.
CREATE TABLE photos (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    production_id  uuid NOT NULL REFERENCES productions(id),
    item_id        uuid REFERENCES items(id),
    purpose        text NOT NULL CHECK (purpose IN (
                       'item', 'evidence', 'verification', 'inspection', 'incident')),
    original_sha   text NOT NULL,
    display_sha    text NOT NULL,
    thumb_sha      text NOT NULL,
    width          integer NOT NULL,
    height         integer NOT NULL,
    upload_sha     text NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX photos_item_idx ON photos (item_id, created_at);
ALTER TABLE items ADD FOREIGN KEY (evidence_photo_id) REFERENCES photos(id);

CREATE TABLE tags (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code           text NOT NULL UNIQUE,
    item_id        uuid NOT NULL REFERENCES items(id),
    production_id  uuid NOT NULL REFERENCES productions(id),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN (
                       'active', 'revoked', 'superseded')),
    issued_by      text NOT NULL,
    issued_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    first_printed_at  timestamptz
);
-- One active tag per item, enforced by the database.
CREATE UNIQUE INDEX tags_one_active_per_item ON tags (item_id) WHERE status = 'active';
CREATE INDEX tags_production_idx ON tags (production_id, status);

-- Every verification, either verdict. client_id makes offline replays idempotent.
CREATE TABLE verifications (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id      uuid UNIQUE,
    production_id  uuid NOT NULL REFERENCES productions(id),
    code_scanned   text NOT NULL,
    tag_id         uuid REFERENCES tags(id),
    item_id        uuid REFERENCES items(id),
    verdict        text NOT NULL CHECK (verdict IN ('CLEARED', 'STOP')),
    reasons        text[] NOT NULL,
    needs_confirmation boolean NOT NULL DEFAULT false,
    purpose        text NOT NULL DEFAULT 'check' CHECK (purpose IN ('check', 'checkout', 'checkin')),
    handoff_to     text,
    method         text NOT NULL CHECK (method IN ('code', 'photo', 'offline')),
    photo_id       uuid REFERENCES photos(id),
    actor          text NOT NULL,
    device         text NOT NULL,
    offline        boolean NOT NULL DEFAULT false,
    client_time    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verifications_production_idx ON verifications (production_id, created_at);
CREATE INDEX verifications_tag_idx ON verifications (tag_id, created_at);

-- Visual confirmations, append-only: one per verification.
CREATE TABLE confirmations (
    verification_id  uuid PRIMARY KEY REFERENCES verifications(id),
    client_id        uuid UNIQUE,
    match            boolean NOT NULL,
    actor            text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- The event log. chain_id is the production (or, for studio-level events, the studio).
CREATE TABLE events (
    chain_id    uuid NOT NULL,
    seq         bigint NOT NULL,
    kind        text NOT NULL,
    actor       text NOT NULL,
    subject_id  uuid,
    at          timestamptz NOT NULL,
    body        text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    PRIMARY KEY (chain_id, seq)
);
CREATE INDEX events_subject_idx ON events (subject_id, seq) WHERE subject_id IS NOT NULL;
CREATE INDEX events_kind_idx ON events (chain_id, kind, at);

CREATE TABLE chain_heads (
    chain_id  uuid PRIMARY KEY,
    seq       bigint NOT NULL,
    hash      text NOT NULL
);

CREATE FUNCTION propcheck_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'propcheck: % is append-only; % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION propcheck_reject_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION propcheck_reject_change();

-- The canonical text hashed for one event (documented in the README):
--   prev_hash \n seq \n chain_id \n kind \n actor \n subject_id-or-empty \n at \n body
-- where at is UTC, 'YYYY-MM-DDTHH:MM:SS.ffffffZ', and body is the canonical JSON payload
-- (keys sorted, no white space, UTF-8). hash = lower-case hex SHA-256 of that text.
CREATE FUNCTION propcheck_event_text(
    p_prev text, p_seq bigint, p_chain uuid, p_kind text, p_actor text, p_subject uuid,
    p_at timestamptz, p_body text
) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_prev || E'\n' || p_seq::text || E'\n' || p_chain::text || E'\n' || p_kind
        || E'\n' || p_actor || E'\n' || coalesce(p_subject::text, '') || E'\n'
        || to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n' || p_body
$$;

-- Append one event to its chain. The chain head row lock serialises writers of one
-- production (several API processes included), so the chain stays linear with no
-- forks or gaps; it is held only until the caller's transaction ends.
CREATE FUNCTION propcheck_append_event(
    p_chain uuid, p_kind text, p_actor text, p_subject uuid, p_body text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_hash text;
    v_at timestamptz := clock_timestamp();
BEGIN
    SELECT seq, hash INTO v_seq, v_prev FROM chain_heads WHERE chain_id = p_chain FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO chain_heads (chain_id, seq, hash) VALUES (p_chain, 0, repeat('0', 64))
            ON CONFLICT (chain_id) DO NOTHING;
        SELECT seq, hash INTO v_seq, v_prev FROM chain_heads WHERE chain_id = p_chain FOR UPDATE;
    END IF;
    v_seq := v_seq + 1;
    v_hash := encode(sha256(convert_to(propcheck_event_text(
        v_prev, v_seq, p_chain, p_kind, p_actor, p_subject, v_at, p_body), 'UTF8')), 'hex');
    INSERT INTO events (chain_id, seq, kind, actor, subject_id, at, body, prev_hash, hash)
        VALUES (p_chain, v_seq, p_kind, p_actor, p_subject, v_at, p_body, v_prev, v_hash);
    UPDATE chain_heads SET seq = v_seq, hash = v_hash WHERE chain_id = p_chain;
    RETURN v_seq;
END
$$;

-- What the application role may do.
GRANT USAGE ON SCHEMA public TO propcheck_app;
GRANT SELECT, INSERT, UPDATE ON studios, users, studio_members, productions,
    production_members, tokens, enrollment_codes, items, photos, tags TO propcheck_app;
GRANT DELETE ON studio_members, production_members TO propcheck_app;
GRANT SELECT, INSERT ON verifications, confirmations TO propcheck_app;
GRANT SELECT ON events, chain_heads TO propcheck_app;
REVOKE ALL ON FUNCTION propcheck_append_event(uuid, text, text, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION propcheck_append_event(uuid, text, text, uuid, text) TO propcheck_app;
