#pragma once
// HTTP(S) delivery on the asynchronous client (dm/http/async_client.hpp): keep-alive
// connections pooled per integration, going only to addresses the outbound guard approved;
// the request built from the integration and the job; the attempt described for history
// with secrets redacted. Thousands of attempts wait for their answers without a thread each.
#include <functional>
#include <string>

#include "dm/http/async_client.hpp"
#include "dm/http/outbound.hpp"
#include "model.hpp"

namespace dm::dispatcher {

class HttpSender {
 public:
  using Done = std::function<void(Outcome)>;

  // `max_in_flight`: the most attempts one integration may have in flight (its keep-alive
  // connections are kept for as many).
  explicit HttpSender(http::OutboundPolicy policy, std::size_t max_in_flight = 256)
      : policy_(std::move(policy)), client_(max_in_flight) {}
  // Sends once and calls `done` with the outcome (on the client's I/O thread), within the
  // integration's timeouts. `pool_key` groups connections (target id); a changed
  // `connection_key` (the integration was edited) drops the old ones.
  void send(const std::string& pool_key, const std::string& connection_key, const HttpTarget& target,
            const std::string& method, const std::string& url, const std::string& body, const http::Headers& headers,
            Done done);
  // An HTTP integration delivering `job`: JSON body (GET: the message as query parameters),
  // Idempotency-Key = job id.
  void deliver(const Target& target, const Job& job, int attempt, Done done);
  const http::OutboundPolicy& policy() const { return policy_; }
  std::size_t connections_opened() const { return client_.connections_opened(); }

 private:
  http::OutboundPolicy policy_;
  http::AsyncClient client_;
};

// Whether a header's value may appear in history and /test answers: harmless ones
// (http::is_harmless_header) and the dispatcher's own; every other value shows as "********".
bool shown_in_history(std::string_view header);

// {"method","url","headers","body"} as history keeps it: header values masked unless shown_in_history,
// the URL's credentials masked (http::mask_url), the body cut at 64 KiB; all valid UTF-8.
std::string describe_request(const std::string& method, const std::string& url, const http::Headers& headers,
                             std::string_view body);

}  // namespace dm::dispatcher
