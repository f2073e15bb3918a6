-- name: public_table_count
-- Tables in the public schema: a database with any is not empty (restore refuses it).
SELECT count(*) FROM pg_tables WHERE schemaname = 'public';

-- name: ensure_app_role
-- Roles live outside a database and so outside its dump: the restored GRANTs need this.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'propcheck_app') THEN
        CREATE ROLE propcheck_app NOLOGIN;
    END IF;
END
$$;
