-- Failed sign-ins, for the per-account backoff (api/abuse.py). In the database, not in
-- a process, so that every API process behind a load balancer sees the same count.
-- The account is named by the SHA-256 of its lower-cased e-mail as typed: unknown
-- e-mails are counted too (a lockout must not tell which accounts exist), and the
-- table holds no address. Rows are state, not record: a successful sign-in deletes
-- them, and rows older than a day are pruned.
CREATE TABLE signin_failures (
    email_hash  bytea NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX signin_failures_idx ON signin_failures (email_hash, at);

GRANT SELECT, INSERT, DELETE ON signin_failures TO propcheck_app;
