#pragma once
// One function run as recorded in `function_runs`, and the same row as a JSON document: the
// payload of its dead letter when PostgreSQL refuses it, from which a retry inserts it again.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dm/core/result.hpp"

namespace dm::function_runner {

struct HistoryRow {
  std::string run_id, function_id;
  std::int64_t version = 0;
  std::optional<std::string> flow_id, flow_run_id, node_id, dev_eui;
  bool replay = false;
  std::string status, input;
  std::optional<std::string> output, error;  // JSON texts
  std::string logs = "[]";
  double duration_ms = 0;
  std::string at;  // RFC 3339
};

// {"run_id", ..., "input": {...}, "output": {...}|null, "logs": [...], "error": {...}|null,
//  "duration_ms", "created_at"}: the documents are embedded as they are, byte for byte.
std::string row_json(const HistoryRow& row);
// The row back from row_json's document (invalid_argument when it is not one).
Result<HistoryRow> row_from_json(std::string_view text);

}  // namespace dm::function_runner
