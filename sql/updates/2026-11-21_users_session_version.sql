-- Part of every session's user id: raised on sign-out and password change, it ends every
-- session and remember-me cookie made before. (IF NOT EXISTS: databases from before
-- sql/updates/ existed may have it already.)
ALTER TABLE billing_app.users ADD COLUMN IF NOT EXISTS session_version integer NOT NULL DEFAULT 1;
