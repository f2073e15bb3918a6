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

-- name: count_code_probe
-- One unknown or mistyped code from token $1: its count in the token's current window
-- of $2 seconds (opened by this code if none is open), and the seconds left in it.
-- Windows that ended more than a day ago go at the same time.
WITH pruned AS (
    DELETE FROM code_probes WHERE window_ends < clock_timestamp() - interval '1 day'
)
INSERT INTO code_probes AS p (token_id, window_ends, codes)
VALUES ($1, clock_timestamp() + make_interval(secs => $2), 1)
ON CONFLICT (token_id) DO UPDATE SET
    codes = CASE WHEN p.window_ends <= clock_timestamp() THEN 1 ELSE p.codes + 1 END,
    window_ends = CASE WHEN p.window_ends <= clock_timestamp() THEN excluded.window_ends
                       ELSE p.window_ends END
RETURNING p.codes, extract(epoch FROM p.window_ends - clock_timestamp())::float8 AS left_s;
