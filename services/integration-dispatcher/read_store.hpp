#pragma once
// The SQL behind the dispatcher's REST routes (routes.cpp parses and renders): delivery history,
// dead letters and their requeueing, internal storage records. The delivery path's rows are
// store.hpp's.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dm/api/query.hpp"
#include "dm/db/db.hpp"

namespace dm::dispatcher {

using Opt = std::optional<std::string>;

// One page of a list: each row's JSON object (as text, in column 0), and how many rows match
// in all.
struct Page {
  db::Rows rows;
  std::int64_t total = 0;
};

// Deliveries to integrations, newest first; every filter may be absent.
Result<Page> history_page(db::Pool& db, const Opt& target, const Opt& status, const Opt& from, const Opt& to,
                          const api::Paging& page);
// One delivery with its request, response and every attempt of its job; nullopt: none such.
Result<std::optional<std::string>> history_item(db::Pool& db, const std::string& target, const std::string& id);

// A dead letter as stored: its columns as a JSON object, and the job as json text (read in
// C++: PostgreSQL's json operators refuse a \u0000 the json column keeps).
struct StoredLetter {
  std::string columns;
  std::string job;
};
struct LetterPage {
  std::vector<StoredLetter> letters;
  std::int64_t total = 0;
};
Result<LetterPage> dead_letter_page(db::Pool& db, const std::string& target, const api::Paging& page);
// The ids of the target's dead letters (or of the one named), oldest first.
Result<std::vector<std::string>> dead_letter_ids(db::Pool& db, const std::string& target, const Opt& one);
// Takes a dead letter out and hands its job to `requeue` in the
// same transaction: a failed requeue keeps the dead letter. False: it was taken meanwhile.
Result<bool> requeue_dead_letter(db::Pool& db, const std::string& id,
                                 const std::function<Result<void>(const std::string& job)>& requeue);

// An internal storage's records, newest first.
Result<Page> records_page(db::Pool& db, const std::string& storage, const Opt& dev_eui, const Opt& from, const Opt& to,
                          const api::Paging& page);

}  // namespace dm::dispatcher
