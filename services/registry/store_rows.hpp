#pragma once
// Small readers and parameters shared by the store's .cpp files (not for route modules).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dm/db/db.hpp"
#include "domain.hpp"

namespace dm::registry::store {

struct Table {
  std::string_view name;     // "devices"
  std::string_view docs;     // the view with columns id and doc: "device_docs"
  std::string_view version;  // bumped by every update, sent in change events
};
// In the order of Kind. A function's `revision` counts every change; its `version` only code
// changes (what the runner caches by).
constexpr std::array<Table, 6> kTables = {{{.name = "devices", .docs = "device_docs", .version = "version"},
                                           {.name = "labels", .docs = "label_docs", .version = "version"},
                                           {.name = "functions", .docs = "function_docs", .version = "revision"},
                                           {.name = "integrations", .docs = "integration_docs", .version = "version"},
                                           {.name = "storages", .docs = "storage_docs", .version = "version"},
                                           {.name = "flows", .docs = "flow_docs", .version = "version"}}};

inline const Table& table_of(Kind kind) { return kTables[static_cast<std::size_t>(kind)]; }
inline std::string table(Kind kind) { return std::string(table_of(kind).name); }
inline std::string docs(Kind kind) { return std::string(table_of(kind).docs); }
inline std::string version(Kind kind) { return std::string(table_of(kind).version); }

// The first row's first column, nullopt when there is no row.
inline std::optional<std::string> first_text(const db::Rows& rows) {
  if (rows.empty()) return std::nullopt;
  return std::string(rows.get(0, 0));
}
inline std::optional<std::int64_t> first_int(const db::Rows& rows) {
  if (rows.empty()) return std::nullopt;
  return rows.get_int(0, 0);
}

// A domain word as a parameter; NULL when absent.
template <typename E>
db::Param word_param(const std::optional<E>& value) {
  return value ? db::Param(std::string(word(*value))) : std::nullopt;
}

inline db::Param bool_param(const std::optional<bool>& value) {
  return value ? db::Param(*value ? "true" : "false") : std::nullopt;
}

}  // namespace dm::registry::store
