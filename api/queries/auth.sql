-- name: user_by_email
-- A user and password hash for sign-in.
SELECT id, email, password_hash, disabled_at FROM users WHERE lower(email) = lower($1);

-- name: insert_token
-- A new bearer token (hash only) for a user or a device.
INSERT INTO tokens (token_hash, user_id, production_id, device_name, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
RETURNING id, expires_at;

-- name: principal_by_token
-- Resolve a token hash to its owner and every production it may see, with the role.
-- Studio roles reach every production of the studio.
WITH t AS (
    SELECT id, user_id, production_id, device_name, expires_at
    FROM tokens
    WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()
)
SELECT t.id AS token_id, t.user_id, t.device_name, t.expires_at, u.email,
       coalesce((
           SELECT jsonb_object_agg(sm.studio_id::text, sm.role)
           FROM studio_members sm WHERE sm.user_id = t.user_id
       ), '{}'::jsonb) AS studio_roles,
       coalesce((
           SELECT jsonb_object_agg(r.production_id::text, r.roles)
           FROM (
               SELECT x.production_id, jsonb_agg(DISTINCT x.role) AS roles
               FROM (
                   SELECT pm.production_id, pm.role
                   FROM production_members pm WHERE pm.user_id = t.user_id
                   UNION ALL
                   SELECT p.id, sm.role
                   FROM studio_members sm JOIN productions p ON p.studio_id = sm.studio_id
                   WHERE sm.user_id = t.user_id
                   UNION ALL
                   SELECT t.production_id, 'scanner' WHERE t.production_id IS NOT NULL
               ) x
               GROUP BY x.production_id
           ) r
       ), '{}'::jsonb) AS production_roles
FROM t LEFT JOIN users u ON u.id = t.user_id
WHERE u.disabled_at IS NULL;

-- name: revoke_token
-- Sign-out: the token stops working at once. Returns its owner (no row: it was already
-- revoked, by a sign-out racing this one).
UPDATE tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
RETURNING user_id, production_id;

-- name: session_chains
-- The chains a user's sign-in and sign-out are recorded in: every studio the user
-- belongs to, directly or through one of its productions.
SELECT studio_id FROM studio_members WHERE user_id = $1
UNION
SELECT p.studio_id FROM production_members m JOIN productions p ON p.id = m.production_id
WHERE m.user_id = $1
ORDER BY 1;

-- name: production_devices
-- The phones enrolled in a production, newest first (signed out ones too, for the record).
SELECT id, device_name, created_at, expires_at, revoked_at
FROM tokens WHERE production_id = $1 AND user_id IS NULL
ORDER BY created_at DESC, id
LIMIT 500;

-- name: revoke_device
-- Sign out one enrolled phone of a production (a lost or stolen phone); no row when it
-- is not a phone of that production or was already signed out.
UPDATE tokens SET revoked_at = now()
WHERE id = $2 AND production_id = $1 AND user_id IS NULL AND revoked_at IS NULL
RETURNING id, device_name;

-- name: insert_enrollment_code
-- A one-time enrollment code (hash only) for a production.
INSERT INTO enrollment_codes (code_hash, production_id, created_by, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))
RETURNING expires_at;

-- name: claim_enrollment_code
-- Use an enrollment code once: only an unused, unexpired code is claimed.
UPDATE enrollment_codes SET used_at = now()
WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()
RETURNING production_id;

-- name: link_enrollment_token
-- Remember which device token an enrollment code became.
UPDATE enrollment_codes SET token_id = $2 WHERE code_hash = $1;

-- name: insert_user
-- A new account.
INSERT INTO users (email, display_name, password_hash) VALUES ($1, $2, $3)
RETURNING id, email, display_name, created_at;

-- name: user_id_by_email
-- Find an account by e-mail (seeding and the command line; the API adds members with
-- studio_account_by_email).
SELECT id FROM users WHERE lower(email) = lower($1);

-- name: studio_account_by_email
-- The studio's own account with this e-mail, for adding members to its production $2:
-- a member of the studio, one the studio created, or one that is or was a member of any
-- of its productions. Another studio's account is not found, as an unknown e-mail is
-- not: it joins by invitation (migration 0018), so no answer tells whether it exists.
SELECT u.id
FROM users u, productions p
WHERE lower(u.email) = lower($1) AND p.id = $2
  AND (EXISTS (SELECT 1 FROM studio_members s
               WHERE s.user_id = u.id AND s.studio_id = p.studio_id)
       OR EXISTS (SELECT 1 FROM production_members m JOIN productions o ON o.id = m.production_id
                  WHERE m.user_id = u.id AND o.studio_id = p.studio_id)
       -- The chains remember what the tables no longer hold (events_subject_idx).
       OR EXISTS (SELECT 1 FROM events e
                  WHERE e.subject_id = u.id AND e.kind = 'account.created'
                    AND e.chain_id = p.studio_id)
       OR EXISTS (SELECT 1 FROM events e JOIN productions o ON o.id = e.chain_id
                  WHERE e.subject_id = u.id AND e.kind = 'member.added'
                    AND o.studio_id = p.studio_id));

-- name: insert_member_invitation
-- A one-time invitation code (hash only) to join production $2 with role $3, for the
-- account with e-mail $6.
INSERT INTO member_invitations (code_hash, production_id, role, created_by, expires_at, email)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)
RETURNING id, expires_at;

-- name: claim_member_invitation
-- Use an invitation once, by account $2 with e-mail $3: only an unused, unexpired code
-- made for that e-mail is claimed (any other is as unknown).
UPDATE member_invitations SET used_at = now(), used_by = $2
WHERE code_hash = $1 AND used_at IS NULL AND withdrawn_at IS NULL AND expires_at > now()
  AND lower(email) = lower($3)
RETURNING production_id, role;

-- name: open_member_invitations
-- The invitations of production $1 that can still be redeemed, newest first (none once
-- the production is archived: an archived production takes no one).
SELECT i.id, i.role, i.email, i.created_at, i.expires_at, u.email AS created_by
FROM member_invitations i
JOIN users u ON u.id = i.created_by
JOIN productions p ON p.id = i.production_id AND p.status = 'active'
WHERE i.production_id = $1 AND i.used_at IS NULL AND i.withdrawn_at IS NULL
  AND i.expires_at > now()
ORDER BY i.created_at DESC;

-- name: withdraw_member_invitation
-- Withdraw invitation $2 of production $1 by account $3; no row when it is not an open
-- invitation of that production (used, withdrawn or expired already, or another's).
UPDATE member_invitations SET withdrawn_at = now(), withdrawn_by = $3
WHERE id = $2 AND production_id = $1 AND used_at IS NULL AND withdrawn_at IS NULL
  AND expires_at > now()
RETURNING id, role, email;
