-- When an item's capability class last changed (api/items.py edit). The verdict needs a
-- passing inspection after it (verifier/rules.py, not_inspected_since_class_change),
-- whatever the item's status went through meanwhile and whatever the policy says: a
-- class is what the item can do, and only someone who has looked at it again may say it
-- changed. NULL: never changed since registration.
ALTER TABLE items ADD COLUMN class_changed_at timestamptz;
