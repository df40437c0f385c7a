#pragma once
// Dead letters: items a service accepted but can never process as they are (the database
// refuses their data, they exhausted their redeliveries, they are unreadable). They leave the
// pipeline, so they cannot hold up what follows them, and land where an operator sees them:
//   - the service's own table `dead_letters` (migration in each service that uses it),
//   - `GET /api/v1/dead-letters/<kind>` (list, one, retry one or all, discard) on the REST API,
//   - the tap `dm.deadletter.<kind>` (proto/schemas/dead-letter.schema.json), one per item.
// The payload is kept byte for byte (bytea), whatever it holds: the bytes that made the
// database refuse a row must not make the dead letter refused too.
#include <functional>
#include <string>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/contract/words.hpp"
#include "dm/core/result.hpp"
#include "dm/db/db.hpp"
#include "dm/http/router.hpp"

namespace dm::service {

struct DeadLetter {
  std::string key;      // what names the item to an operator (dedup id, run id); unique per kind
  std::string subject;  // the NATS subject it came on, if it came on one
  std::string payload;  // the item as received
  std::string error;    // why it left the pipeline
  int attempts = 1;
};

// A dead letter as stored, handed to the retry callback.
struct StoredDeadLetter {
  std::string id;
  std::string key;
  std::string subject;
  std::string payload;
  int attempts = 0;
};

class DeadLetterBox {
 public:
  // `kind`: what the box holds, also its REST path and the tap's last token.
  DeadLetterBox(db::Pool& db, bus::Connection& nats, contract::DeadLetterKind kind);
  // The kind by its word ("device-events", "uplinks"); a word that names no kind is a bug
  // (std::invalid_argument at start-up).
  DeadLetterBox(db::Pool& db, bus::Connection& nats, std::string_view kind);

  // Stores the letters in one statement (a letter already there for its key is updated) and
  // then announces each on the tap dm.deadletter.<kind> (contract::DeadLetterEvent). An error
  // is an outage: nothing was stored, the caller keeps the items and tries again later.
  Result<void> add(const std::vector<DeadLetter>& letters);

  // Puts one dead letter back into the pipeline. ok → the dead letter is deleted; an error
  // keeps it (with the new error when the item was refused again).
  using Retry = std::function<Result<void>(const StoredDeadLetter&)>;
  // GET    /api/v1/dead-letters/<kind>                 list (skip, limit), newest first
  // GET    /api/v1/dead-letters/<kind>/{id}            one, with its payload
  // POST   /api/v1/dead-letters/<kind>/{id}/retry      retry one
  // POST   /api/v1/dead-letters/<kind>/retry           retry all (at most 1000 per call)
  // DELETE /api/v1/dead-letters/<kind>/{id}            discard one
  void add_routes(http::Router& router, const Retry& retry);

  const std::string& kind() const { return kind_; }

 private:
  db::Pool& db_;
  bus::Connection& nats_;
  std::string kind_;  // its word
  contract::DeadLetterKind event_kind_;
};

}  // namespace dm::service
