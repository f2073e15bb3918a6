-- Invitations: how an account that is not the studio's own joins one of its productions.
--
-- Accounts are global (one e-mail, one account, across studios: crew work for many), and
-- a studio admin added any account to a production by its e-mail. So an admin of one
-- studio could learn which e-mails had accounts anywhere (404 or not) and put another
-- studio's people into a production without their say. Now addMember finds only the
-- studio's own accounts (api/queries/auth.sql studio_account_by_email); anyone
-- else joins with an invitation code the admin hands them, redeemed while signed in to
-- their own account, the one with the e-mail it names: the holder's consent, and addMember no longer tells whether an
-- e-mail has an account elsewhere (createAccount still must: e-mails are unique). Codes are stored as hashes, single-use and short-lived, like enrollment codes.
CREATE TABLE member_invitations (
    code_hash      bytea PRIMARY KEY,
    -- How the admin names it (to list and withdraw it): the code itself is never stored.
    id             uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    production_id  uuid NOT NULL REFERENCES productions(id),
    role           text NOT NULL CHECK (role IN ('prop_master', 'scanner', 'auditor')),
    -- The account it is for: only the holder of this e-mail's account can redeem it, so
    -- a link forwarded or overheard joins nobody else.
    email          text NOT NULL,
    created_by     uuid NOT NULL REFERENCES users(id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    used_by        uuid REFERENCES users(id),
    -- Withdrawn by a studio admin before it was used (sent to the wrong e-mail, say).
    withdrawn_at   timestamptz,
    withdrawn_by   uuid REFERENCES users(id),
    CHECK ((used_at IS NULL) = (used_by IS NULL)),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL)),
    CHECK (used_at IS NULL OR withdrawn_at IS NULL)
);
CREATE INDEX member_invitations_production_idx ON member_invitations (production_id)
    WHERE used_at IS NULL AND withdrawn_at IS NULL;

GRANT SELECT, INSERT, UPDATE ON member_invitations TO propcheck_app;
