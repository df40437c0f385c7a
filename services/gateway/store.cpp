#include "store.hpp"

namespace dm::gateway {
namespace {
constexpr const char* kUserDoc =
    "json_build_object('id', id, 'email', email, 'username', username, 'role', role, 'is_active', is_active, "
    "'created_at', created_at, 'updated_at', updated_at)";
constexpr const char* kKeyDoc =
    "json_build_object('id', id, 'user_id', user_id, 'name', name, 'role', role, 'prefix', prefix, "
    "'expires_at', expires_at, 'revoked_at', revoked_at, 'created_at', created_at)";

}  // namespace

Result<std::string> Store::create_user(const std::string& email, const std::string& username,
                                       const std::string& password_hash, Role role) {
  DM_ASSIGN_OR_RETURN(auto rows, db_.exec(std::string("INSERT INTO users (email, username, password_hash, role) "
                                                      "VALUES (lower($1), $2, $3, $4) RETURNING ") +
                                              kUserDoc,
                                          {email, username, password_hash, std::string(role_name(role))}));
  return std::string(rows.get(0, 0));
}

Result<std::optional<LoginRow>> Store::find_login(const std::string& identifier) {
  DM_ASSIGN_OR_RETURN(auto rows, db_.exec("SELECT id, password_hash, is_active FROM users "
                                          "WHERE email = lower($1) OR lower(username) = lower($1) LIMIT 1",
                                          {identifier}));
  if (rows.empty()) return std::optional<LoginRow>();
  return std::optional<LoginRow>(
      LoginRow{std::string(rows.get(0, 0)), std::string(rows.get(0, 1)), rows.get_bool(0, 2)});
}

Result<std::optional<LoginRow>> Store::login_row(const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, db_.exec("SELECT id, password_hash, is_active FROM users WHERE id = $1::uuid", {id}));
  if (rows.empty()) return std::optional<LoginRow>();
  return std::optional<LoginRow>(
      LoginRow{std::string(rows.get(0, 0)), std::string(rows.get(0, 1)), rows.get_bool(0, 2)});
}

namespace {
UserState state_of(const db::Rows& rows) {
  return UserState{rows.get_bool(0, 0), parse_role(rows.get(0, 1)).value_or(Role::viewer), rows.get_int(0, 2)};
}
}  // namespace

Result<std::optional<UserState>> Store::user_state(const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows,
                      db_.exec("SELECT is_active, role, credential_version FROM users WHERE id = $1::uuid", {id}));
  if (rows.empty()) return std::optional<UserState>();
  return std::optional<UserState>(state_of(rows));
}

Result<std::optional<UserState>> Store::change_password(const std::string& id, const std::string& new_hash,
                                                        const std::string& old_hash) {
  DM_ASSIGN_OR_RETURN(auto rows, db_.exec("UPDATE users SET password_hash = $2, credential_version = "
                                          "credential_version + 1, updated_at = now() WHERE id = $1::uuid AND "
                                          "password_hash = $3 AND is_active RETURNING is_active, role, "
                                          "credential_version",
                                          {id, new_hash, old_hash}));
  if (rows.empty()) return std::optional<UserState>();
  return std::optional<UserState>(state_of(rows));
}

Result<std::optional<std::string>> Store::user_doc(const std::string& id) {
  DM_ASSIGN_OR_RETURN(auto rows, db_.exec(std::string("SELECT ") + kUserDoc + " FROM users WHERE id = $1::uuid", {id}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::string(rows.get(0, 0)));
}

Result<Page> Store::list_users(std::int64_t skip, std::int64_t limit) {
  DM_ASSIGN_OR_RETURN(auto count, db_.exec("SELECT count(*) FROM users"));
  DM_ASSIGN_OR_RETURN(
      auto rows, db_.exec(std::string("SELECT ") + kUserDoc + " FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2",
                          {std::to_string(limit), std::to_string(skip)}));
  return Page{json_array(rows), count.get_int(0, 0)};
}

Result<std::string> Store::update_user(const std::string& id, std::optional<Role> role, std::optional<bool> active) {
  return db_.transaction([&](db::Session& s) -> Result<std::string> {
    // Serialises changes of roles and states, so two admins demoting each other at once
    // cannot leave the system without an active admin.
    DM_TRY(s.exec("SELECT pg_advisory_xact_lock(hashtext('gateway.users.admins'))"));
    DM_ASSIGN_OR_RETURN(
        auto rows, s.exec(std::string("UPDATE users SET role = coalesce($2, role), is_active = coalesce($3::boolean, "
                                      "is_active), credential_version = credential_version + CASE WHEN $3::boolean "
                                      "IS DISTINCT FROM is_active AND $3::boolean IS NOT NULL THEN 1 ELSE 0 END, "
                                      "updated_at = now() WHERE id = $1::uuid RETURNING ") +
                              kUserDoc,
                          {id, role ? db::Param(std::string(role_name(*role))) : std::nullopt,
                           active ? db::Param(*active ? "true" : "false") : std::nullopt}));
    if (rows.empty()) return Error(Errc::not_found, "User not found");
    DM_ASSIGN_OR_RETURN(auto admins, s.exec("SELECT count(*) FROM users WHERE role = 'admin' AND is_active"));
    if (admins.get_int(0, 0) == 0)
      return Error(Errc::conflict, "The last active admin cannot be demoted or deactivated");
    return std::string(rows.get(0, 0));
  });
}

Result<std::string> Store::create_key(const std::string& user_id, const std::string& name, Role role,
                                      const std::string& key_hash, const std::string& prefix,
                                      const std::optional<std::string>& expires_at) {
  DM_ASSIGN_OR_RETURN(auto rows,
                      db_.exec(std::string("INSERT INTO api_keys (user_id, name, role, key_hash, prefix, expires_at) "
                                           "VALUES ($1::uuid, $2, $3, $4, $5, $6::timestamptz) RETURNING ") +
                                   kKeyDoc,
                               {user_id, name, std::string(role_name(role)), key_hash, prefix,
                                expires_at ? db::Param(*expires_at) : std::nullopt}));
  return std::string(rows.get(0, 0));
}

Result<Page> Store::list_keys(const std::string& user_id, std::int64_t skip, std::int64_t limit) {
  db::Params filter{user_id.empty() ? std::nullopt : db::Param(user_id)};
  const std::string where = " WHERE ($1::uuid IS NULL OR user_id = $1::uuid)";
  DM_ASSIGN_OR_RETURN(auto count, db_.exec("SELECT count(*) FROM api_keys" + where, filter));
  filter.push_back(std::to_string(limit));
  filter.push_back(std::to_string(skip));
  DM_ASSIGN_OR_RETURN(auto rows, db_.exec(std::string("SELECT ") + kKeyDoc + " FROM api_keys" + where +
                                              " ORDER BY created_at, id LIMIT $2 OFFSET $3",
                                          filter));
  return Page{json_array(rows), count.get_int(0, 0)};
}

Result<bool> Store::revoke_key(const std::string& key_id, const std::string& user_id) {
  DM_ASSIGN_OR_RETURN(auto rows, db_.exec("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
                                          "WHERE id = $1::uuid AND ($2::uuid IS NULL OR user_id = $2::uuid)",
                                          {key_id, user_id.empty() ? std::nullopt : db::Param(user_id)}));
  return rows.affected() > 0;
}

Result<std::optional<KeyRow>> Store::find_key(const std::string& key_hash) {
  DM_ASSIGN_OR_RETURN(auto rows, db_.exec("SELECT id, user_id, role, extract(epoch FROM expires_at)::bigint, "
                                          "revoked_at IS NOT NULL FROM api_keys WHERE key_hash = $1",
                                          {key_hash}));
  if (rows.empty()) return std::optional<KeyRow>();
  KeyRow k{std::string(rows.get(0, 0)), std::string(rows.get(0, 1)), parse_role(rows.get(0, 2)).value_or(Role::viewer),
           rows.is_null(0, 3) ? std::nullopt : std::optional<std::int64_t>(rows.get_int(0, 3)), rows.get_bool(0, 4)};
  return std::optional<KeyRow>(std::move(k));
}

}  // namespace dm::gateway
