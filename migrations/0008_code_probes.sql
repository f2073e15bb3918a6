-- Unknown or mistyped tag codes per token, for the probe limit (api/abuse.py). In the
-- database, not in a process, so that a prober whose scans a load balancer spreads over
-- several API processes meets one count, not one per process. A token's window opens
-- at its first such code and lasts probe_window_s; a code after the window ended opens
-- a new one. State, not record: the code_probing incident is the record, and windows
-- that ended more than a day ago are pruned.
CREATE TABLE code_probes (
    token_id     uuid PRIMARY KEY,
    window_ends  timestamptz NOT NULL,
    codes        integer NOT NULL CHECK (codes > 0)
);
CREATE INDEX code_probes_window_idx ON code_probes (window_ends);

GRANT SELECT, INSERT, UPDATE, DELETE ON code_probes TO propcheck_app;
