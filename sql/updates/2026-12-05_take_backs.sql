-- Each use of a take-back link, the link mailed to an old address when an account's address changes.
-- A link made between link_made and taken_back_at (both by the app's clock) no longer works: the link
-- used, and those mailed by the changes it undid (made after it). Links made before it, for earlier
-- changes, still work: whoever changed the address twice cannot end the owner's link with their own.
CREATE TABLE IF NOT EXISTS billing_app.take_backs (
    user_id bigint NOT NULL REFERENCES billing_app.users (id) ON DELETE CASCADE,
    link_made timestamptz NOT NULL,
    taken_back_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, link_made)
);
