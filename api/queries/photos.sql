-- name: insert_photo
-- Record a stored photo and its derivatives.
INSERT INTO photos (production_id, item_id, purpose, original_sha, display_sha, thumb_sha,
                    width, height, upload_sha, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id, purpose, width, height, original_sha, display_sha, thumb_sha, created_at;

-- name: photo_in_item
-- A photo that belongs to the given item.
SELECT id, purpose FROM photos WHERE id = $1 AND item_id = $2;
