-- The version of a user's credentials, carried by every access token as its `ver` claim: a
-- password change, a deactivation and a reactivation bump it, so every token issued before
-- stops working (a reactivated user logs in again instead of finding old tokens revived).
-- Tokens issued before this column existed carry no `ver` and are refused: one more login.
ALTER TABLE users ADD COLUMN credential_version bigint NOT NULL DEFAULT 1;
