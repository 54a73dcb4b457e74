-- When the account was last taken back through the link mailed to an old address (NULL: never).
-- A take-back link made before it no longer works: each works once.
ALTER TABLE billing_app.users ADD COLUMN IF NOT EXISTS taken_back_at timestamptz;
