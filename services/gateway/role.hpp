#pragma once
// Roles are ordered: each one includes everything the ones below it may do.
#include <optional>
#include <string_view>

namespace dm::gateway {

enum class Role { viewer = 1, editor = 2, admin = 3 };

inline std::string_view role_name(Role r) {
  switch (r) {
    case Role::viewer:
      return "viewer";
    case Role::editor:
      return "editor";
    case Role::admin:
      return "admin";
  }
  return "viewer";
}

inline std::optional<Role> parse_role(std::string_view s) {
  if (s == "viewer") return Role::viewer;
  if (s == "editor") return Role::editor;
  if (s == "admin") return Role::admin;
  return std::nullopt;
}

inline bool at_least(Role have, Role need) { return static_cast<int>(have) >= static_cast<int>(need); }

}  // namespace dm::gateway
