#pragma once
// HTTP(S) delivery: a pool of keep-alive pinned clients per integration (connections go only
// to addresses the outbound guard approved), the request built from the integration and the
// job, the attempt described for history with secrets redacted.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dm/http/outbound.hpp"
#include "dm/http/pinned_client.hpp"
#include "model.hpp"

namespace dm::dispatcher {

class HttpSender {
 public:
  explicit HttpSender(http::OutboundPolicy policy) : policy_(std::move(policy)) {}
  // Blocks for at most the integration's timeouts. `pool_key` groups connections (target id).
  Outcome send(const std::string& pool_key, const std::string& connection_key, const HttpTarget& target,
               const std::string& method, const std::string& url, const std::string& body, http::Headers headers);
  // An HTTP integration delivering `job`: JSON body (GET: the message as query parameters),
  // Idempotency-Key = job id.
  Outcome deliver(const Target& target, const Job& job, int attempt);
  const http::OutboundPolicy& policy() const { return policy_; }
  std::size_t connections_opened() const;

 private:
  struct Pool {
    std::string connection_key;
    std::vector<std::unique_ptr<http::PinnedClient>> idle;
  };
  Result<std::unique_ptr<http::PinnedClient>> acquire(const std::string& pool_key, const std::string& connection_key,
                                                      const HttpTarget& target, const std::string& origin);
  void release(const std::string& pool_key, const std::string& connection_key, std::unique_ptr<http::PinnedClient> c);

  http::OutboundPolicy policy_;
  mutable std::mutex mutex_;
  std::map<std::string, Pool> pools_;
  std::size_t closed_connections_ = 0;
};

// {"method","url","headers","body"} with secret header values replaced by "********" and the
// body cut at 64 KiB.
std::string describe_request(const std::string& method, const std::string& url, const http::Headers& headers,
                             std::string_view body);

}  // namespace dm::dispatcher
