#include "dm/db/batch.hpp"

#include <string_view>

namespace dm::db {

bool is_data_error(const Error& error) {
  // The pool translates SQLSTATEs into codes (db.hpp): class 22 and 23 become
  // invalid_argument or conflict, class 54 too_large; a NUL caught before sending is
  // invalid_argument as well. Nothing else carries those codes out of this library.
  return error.code == Errc::invalid_argument || error.code == Errc::conflict || error.code == Errc::too_large;
}

Isolation write_isolating(std::size_t count,
                          const std::function<Result<void>(std::size_t first, std::size_t last)>& write) {
  Isolation out;
  out.fate.assign(count, RowFate::pending);
  // Ranges still to write, last one first out: the rows go in their original order.
  std::vector<std::pair<std::size_t, std::size_t>> todo;
  if (count > 0) todo.emplace_back(0, count);
  while (!todo.empty()) {
    auto [first, last] = todo.back();
    todo.pop_back();
    auto done = write(first, last);
    if (done.ok()) {
      for (std::size_t i = first; i < last; ++i) out.fate[i] = RowFate::written;
      out.written += last - first;
      continue;
    }
    if (!is_data_error(done.error())) {
      out.outage = done.take_error();
      return out;  // this range and every range after it stay pending
    }
    if (last - first == 1) {
      out.fate[first] = RowFate::refused;
      out.refused.emplace(first, done.take_error());
      continue;
    }
    std::size_t middle = first + (last - first) / 2;
    todo.emplace_back(middle, last);
    todo.emplace_back(first, middle);
  }
  return out;
}

}  // namespace dm::db
