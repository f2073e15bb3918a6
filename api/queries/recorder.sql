-- name: record_verifications
-- Group commit (api/recorder.py): store several verifications and append each one's
-- event in one statement, one transaction. Arrays hold one element per verification,
-- in record_verification's parameter order; reasons come as text[] literals. Rows whose
-- client_id is already stored (replays) store nothing and return no row.
WITH x AS (
    SELECT *
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[],
                $7::text[], $8::text[], $9::bool[], $10::text[], $11::text[], $12::text[],
                $13::uuid[], $14::text[], $15::text[], $16::bool[], $17::timestamptz[],
                $18::text[])
        AS x(id, client_id, production_id, code_scanned, tag_id, item_id, verdict, reasons,
             needs_confirmation, purpose, handoff_to, method, photo_id, actor, device,
             offline, client_time, body)
), v AS (
    INSERT INTO verifications (id, client_id, production_id, code_scanned, tag_id, item_id,
        verdict, reasons, needs_confirmation, purpose, handoff_to, method, photo_id, actor,
        device, offline, client_time)
    SELECT id, client_id, production_id, code_scanned, tag_id, item_id, verdict,
           reasons::text[], needs_confirmation, purpose, handoff_to, method, photo_id, actor,
           device, offline, client_time
    FROM x
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id, production_id, item_id, actor, created_at
)
SELECT v.id, v.created_at,
       propcheck_append_event(v.production_id, 'verification', v.actor, v.item_id, x.body)
           AS seq
FROM v JOIN x ON x.id = v.id;
