-- An event's hashed text has one field per line (propcheck_event_text, migration 0001):
-- a line break in its kind or actor would let two different events share one text, and
-- so one hash. No writer makes one (kinds are constants, actors "user:<id>",
-- "device:<id>" or "system"); the database now refuses one too, and the chain checker
-- fails an event that has one (api/audit.py). NOT VALID: no scan of a record that may
-- hold millions of events at upgrade; the chain checker covers the rows already there.
ALTER TABLE events ADD CONSTRAINT events_one_line_fields
    CHECK (strpos(kind, E'\n') = 0 AND strpos(actor, E'\n') = 0) NOT VALID;
