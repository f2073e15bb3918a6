-- A photo row names the blob (by its SHA-256) that a registration, an inspection, an
-- incident or a verification shows as evidence. The events now carry that hash too,
-- and the row must not change under them: the application never updates or deletes a
-- photo, and now cannot (found by review: the app role could repoint a photo to other
-- bytes without any event).
REVOKE UPDATE, DELETE, TRUNCATE ON photos FROM propcheck_app;
