#pragma once
// All SQL of the gateway: users and API keys in schema `gateway`. Documents are rendered
// by PostgreSQL (json_build_object) and never contain password or key hashes.
#include <cstdint>
#include <optional>
#include <string>

#include "dm/core/result.hpp"
#include "dm/db/db.hpp"
#include "role.hpp"

namespace dm::gateway {

struct LoginRow {
  std::string id;
  std::string password_hash;
  bool is_active = false;
};

struct UserState {
  bool is_active = false;
  Role role = Role::viewer;
  // Bumped by a password change, a deactivation and a reactivation: tokens carry the version
  // they were issued with, and one that differs is refused.
  std::int64_t credential_version = 0;
};

struct KeyRow {
  std::string id;
  std::string user_id;
  Role role = Role::viewer;
  std::optional<std::int64_t> expires_at;  // seconds since the epoch
  bool revoked = false;
};

struct Page {
  std::string json;  // [doc, ...]
  std::int64_t total = 0;
};

class Store {
 public:
  explicit Store(db::Pool& db) : db_(db) {}

  // conflict when the email or username is taken. Returns the user document.
  Result<std::string> create_user(const std::string& email, const std::string& username,
                                  const std::string& password_hash, Role role);
  // By email (case-insensitive) or username (case-insensitive).
  Result<std::optional<LoginRow>> find_login(const std::string& identifier);
  // By id (a UUID).
  Result<std::optional<LoginRow>> login_row(const std::string& id);
  // Sets the new hash and bumps the credential version, if the stored hash is still
  // `old_hash` (two changes at once cannot both win) and the user is active; the user's state
  // afterwards, or nullopt when nothing was changed.
  Result<std::optional<UserState>> change_password(const std::string& id, const std::string& new_hash,
                                                   const std::string& old_hash);
  Result<std::optional<UserState>> user_state(const std::string& id);
  Result<std::optional<std::string>> user_doc(const std::string& id);
  Result<Page> list_users(std::int64_t skip, std::int64_t limit);
  // not_found for an unknown id; conflict if the change would leave no active admin. A change
  // of the active state bumps the credential version.
  Result<std::string> update_user(const std::string& id, std::optional<Role> role, std::optional<bool> active);

  // Returns the key document (without the secret).
  Result<std::string> create_key(const std::string& user_id, const std::string& name, Role role,
                                 const std::string& key_hash, const std::string& prefix,
                                 const std::optional<std::string>& expires_at);
  // Every key when user_id is empty (admins), else that user's keys.
  Result<Page> list_keys(const std::string& user_id, std::int64_t skip, std::int64_t limit);
  // False when no such key (for this user, unless user_id is empty).
  Result<bool> revoke_key(const std::string& key_id, const std::string& user_id);
  Result<std::optional<KeyRow>> find_key(const std::string& key_hash);

 private:
  db::Pool& db_;
};

}  // namespace dm::gateway
