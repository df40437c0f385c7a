-- Accounts and API keys. Only hashes are stored: passwords as PBKDF2-HMAC-SHA256 strings
-- ("pbkdf2_sha256$<iterations>$<salt>$<hash>"), API keys as the SHA-256 of the key (keys are
-- 256 random bits, so a slow hash adds nothing). Emails are stored lower-case; usernames are
-- unique regardless of case.
CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  username      text NOT NULL CHECK (length(username) BETWEEN 3 AND 50),
  password_hash text NOT NULL,
  role          text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
  is_active     boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE api_keys (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  role        text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
  key_hash    text NOT NULL UNIQUE,
  prefix      text NOT NULL,
  expires_at  timestamptz,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_user ON api_keys (user_id);
