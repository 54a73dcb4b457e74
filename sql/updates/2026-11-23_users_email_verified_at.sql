-- When the user opened a link mailed to their address (NULL: not yet; Checkout waits for it).
-- (IF NOT EXISTS: the release before sql/updates/ existed added it already.)
ALTER TABLE billing_app.users ADD COLUMN IF NOT EXISTS email_verified_at timestamptz;
