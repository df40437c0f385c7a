#pragma once
// SQL-building helpers shared by the library's sources (not part of the public API).
#include <string>
#include <string_view>

namespace dm::db {

// "schema.table" -> "schema"."table": each dot-separated part quoted on its own, so
// callers can pass qualified names to copy_in/insert_rows.
std::string quote_qualified(std::string_view name);

}  // namespace dm::db
