-- name: signin_failures_recent
-- Failed sign-ins of one account within the window: how many, the latest, and now.
SELECT count(*) AS n, max(at) AS last, clock_timestamp() AS db_now
FROM signin_failures
WHERE email_hash = $1 AND at > clock_timestamp() - make_interval(secs => $2);

-- name: record_signin_failure
-- One failed sign-in; the account's rows older than a day go at the same time.
WITH pruned AS (
    DELETE FROM signin_failures
    WHERE email_hash = $1 AND at < clock_timestamp() - interval '1 day'
)
INSERT INTO signin_failures (email_hash) VALUES ($1);

-- name: clear_signin_failures
-- A successful sign-in starts the count again.
DELETE FROM signin_failures WHERE email_hash = $1;
