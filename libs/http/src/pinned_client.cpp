#include "dm/http/pinned_client.hpp"

namespace dm::http {

Result<std::unique_ptr<Client>> make_pinned_client(std::string_view origin, ClientOptions options,
                                                   OutboundPolicy policy) {
  if (options.max_response_body == ClientOptions{}.max_response_body) options.max_response_body = 64 << 10;
  options.outbound = std::move(policy);
  options.truncate_body = true;
  return Client::create(origin, std::move(options));
}

}  // namespace dm::http
