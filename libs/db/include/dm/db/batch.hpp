#pragma once
// Writing a batch of rows when one bad row must not hold up the others.
//
// A batch writer (history rows, storage records) sends many rows in one statement or
// transaction, and PostgreSQL refuses the whole statement for one row it cannot take (a
// byte sequence that is not UTF-8, a NUL, a value out of range, a constraint). Retrying such
// a batch can never succeed, so it would jam the writer and everything behind it. An outage
// (connection lost, server shutting down, a timeout) is the opposite case: the same rows
// will go in once the server is back, and must be retried, not discarded.
//
// write_isolating() tells the two apart and bisects a refused batch until the refused rows
// are alone, committing every other row on the way.
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "dm/core/result.hpp"

namespace dm::db {

// True when the server refused the rows themselves, so that the same rows can never be
// written: bad data (SQLSTATE class 22), a constraint (class 23: unique, foreign key,
// not null, check), a value over a server limit (class 54), or a NUL byte refused before
// sending. Everything else — connection problems (08, 57P0x), too many connections (53),
// timeouts, and errors the rows cannot have caused (permissions, missing tables) — is an
// outage to retry.
bool is_data_error(const Error& error);

enum class RowFate {
  written,  // committed
  refused,  // refused for its data: permanent, dead-letter it
  pending,  // not written because of an outage: retry it
};

struct Isolation {
  std::vector<RowFate> fate;             // one per row
  std::map<std::size_t, Error> refused;  // row index → why the server refused it
  std::optional<Error> outage;           // why the pending rows were not written
  std::size_t written = 0;
};

// Writes rows [0, count) by calling write(first, last) for a range; write commits that range
// or fails as a whole (one statement or one transaction). On a data error the range is split
// in halves until the offending rows are isolated: k bad rows in n cost about 2·k·log2(n)
// extra statements, and a batch without bad rows costs exactly one. The first outage stops
// the writing: rows of ranges not yet committed stay pending (ranges committed before it
// stay written, so `write` must be safe to repeat for them — idempotent keys).
Isolation write_isolating(std::size_t count,
                          const std::function<Result<void>(std::size_t first, std::size_t last)>& write);

}  // namespace dm::db
