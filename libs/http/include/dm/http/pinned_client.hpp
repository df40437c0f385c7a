#pragma once
// Keep-alive HTTP/HTTPS client for user-configured destinations (integrations, storages):
// a Client whose connections go only to addresses that resolve_checked() approved (the
// outbound guard), that never follows redirects (a 3xx is just an answer), and that keeps at
// most `max_response_body` bytes of a body (64 KiB unless set; `truncated` tells). One
// instance per thread; pool them per destination.
#include <memory>
#include <string_view>

#include "dm/http/client.hpp"
#include "dm/http/outbound.hpp"

namespace dm::http {

using PinnedClient = Client;
using PinnedResponse = ClientResponse;

Result<std::unique_ptr<Client>> make_pinned_client(std::string_view origin, ClientOptions options,
                                                   OutboundPolicy policy);

}  // namespace dm::http
