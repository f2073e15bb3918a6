-- Safety records: inspections, incidents and their resolutions, custody hand-offs.
-- Inspections, incidents and resolutions are append-only for the application; a
-- checkout row is closed by its check-in.

CREATE TABLE inspections (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id      uuid UNIQUE,
    production_id  uuid NOT NULL REFERENCES productions(id),
    item_id        uuid NOT NULL REFERENCES items(id),
    kind           text NOT NULL CHECK (kind IN ('before_use', 'after_use', 'periodic')),
    result         text NOT NULL CHECK (result IN ('pass', 'fail')),
    notes          text NOT NULL DEFAULT '',
    photo_id       uuid REFERENCES photos(id),
    actor          text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX inspections_item_idx ON inspections (item_id, created_at DESC);
CREATE INDEX inspections_pass_idx ON inspections (item_id, created_at DESC) WHERE result = 'pass';

CREATE TABLE incidents (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id        uuid UNIQUE,
    production_id    uuid NOT NULL REFERENCES productions(id),
    item_id          uuid REFERENCES items(id),
    verification_id  uuid REFERENCES verifications(id),
    kind             text NOT NULL CHECK (kind IN ('mismatch', 'damaged', 'suspected_functional',
                         'missing', 'tag_damaged', 'unregistered_weapon_found',
                         'possible_duplicate_tag', 'code_probing', 'other')),
    description      text NOT NULL DEFAULT '',
    photo_id         uuid REFERENCES photos(id),
    actor            text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX incidents_item_idx ON incidents (item_id, created_at DESC);
CREATE INDEX incidents_production_idx ON incidents (production_id, created_at);

CREATE TABLE incident_resolutions (
    incident_id  uuid PRIMARY KEY REFERENCES incidents(id),
    notes        text NOT NULL,
    actor        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE checkouts (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id            uuid UNIQUE,
    production_id        uuid NOT NULL REFERENCES productions(id),
    item_id              uuid NOT NULL REFERENCES items(id),
    performer            text NOT NULL,
    scene                text NOT NULL DEFAULT '',
    take                 text NOT NULL DEFAULT '',
    out_verification_id  uuid NOT NULL REFERENCES verifications(id),
    out_by               text NOT NULL,
    out_at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    in_verification_id   uuid REFERENCES verifications(id),
    in_by                text,
    in_at                timestamptz,
    in_client_id         uuid UNIQUE
);
-- An item is out with at most one performer at a time: the database decides races.
CREATE UNIQUE INDEX checkouts_one_open_per_item ON checkouts (item_id) WHERE in_at IS NULL;
CREATE INDEX checkouts_production_idx ON checkouts (production_id, out_at);
-- A verification backs at most one check-out.
CREATE UNIQUE INDEX checkouts_verification_once ON checkouts (out_verification_id);

CREATE INDEX verifications_handoff_idx ON verifications (tag_id, created_at)
    WHERE purpose = 'checkout';

GRANT SELECT, INSERT ON inspections, incidents, incident_resolutions TO propcheck_app;
GRANT SELECT, INSERT, UPDATE ON checkouts TO propcheck_app;
