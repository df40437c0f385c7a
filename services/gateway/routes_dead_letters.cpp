// Dead letters of the services that keep them (dm/service/dead_letters.hpp): the same five
// routes for each kind, each served by the service that owns that kind.
#include <deque>
#include <string>

#include "routes.hpp"

namespace dm::gateway {

std::vector<RouteSpec> dead_letter_routes() {
  struct Kind {
    const char* service;
    const char* kind;
    const char* what;  // for the summaries
  };
  static const Kind kKinds[] = {
      {"ingest", "device-events", "device events the history could not store"},
      {"flow-orchestrator", "uplinks", "uplinks whose flows could not run or be recorded"},
  };
  // RouteSpec keeps pointers: the texts live as long as the table (built once).
  static std::deque<std::string> texts;
  auto keep = [](std::string s) { return texts.emplace_back(std::move(s)).c_str(); };
  using A = Access;
  std::vector<RouteSpec> out;
  for (const auto& k : kKinds) {
    std::string base = std::string("/api/v1/dead-letters/") + k.kind;
    out.push_back({"GET",
                   keep(base),
                   k.service,
                   "dead-letters",
                   keep(std::string("Dead letters: ") + k.what),
                   A::viewer,
                   nullptr,
                   "StoredDeadLetter[]",
                   200,
                   {kSkip, kLimit}});
    out.push_back({"GET", keep(base + "/{id}"), k.service, "dead-letters",
                   "One dead letter with its payload (as text when it is UTF-8, always in base64)", A::viewer, nullptr,
                   "StoredDeadLetter"});
    out.push_back({"POST", keep(base + "/{id}/retry"), k.service, "dead-letters",
                   "Put one dead letter back into the pipeline (kept, with the new error, if it fails again)",
                   A::editor, nullptr, "DeadLetterRetry"});
    out.push_back({"POST", keep(base + "/retry"), k.service, "dead-letters",
                   "Retry the oldest 1000 dead letters of this kind", A::editor, nullptr, "DeadLetterRetry"});
    out.push_back({"DELETE", keep(base + "/{id}"), k.service, "dead-letters", "Discard one dead letter", A::editor,
                   nullptr, nullptr, 204});
  }
  return out;
}

}  // namespace dm::gateway
