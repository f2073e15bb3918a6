-- The API's own login role: propcheck_api, a member of propcheck_app and nothing else.
--
-- The API logged in as the database's owner and took the app role with SET ROLE
-- (server setting "role"): any statement of its sessions could RESET ROLE and be the
-- owner again, who may switch off the append-only triggers. A login that is only a
-- member of propcheck_app has no owner to go back to. It has no password: the embedded
-- server trusts local connections; on another server give it one (ALTER ROLE
-- propcheck_api PASSWORD ...) and set PROPCHECK_DB_APP_PASSWORD, or set
-- PROPCHECK_DB_APP_USER to a login role of your own that is a member of propcheck_app.
--
-- Roles belong to the server, not the database: created once, kept when it exists. A
-- migrating user that may not create roles (some managed servers) skips it with a
-- notice; the API then says at start-up how to log in instead.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'propcheck_api') THEN
        CREATE ROLE propcheck_api LOGIN IN ROLE propcheck_app;
    END IF;
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'propcheck_api not created (%): give the API a login role of its own',
            SQLERRM;
    -- Another database of this server migrating at the same moment made it (the
    -- migration lock is per database; roles are per server).
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;
