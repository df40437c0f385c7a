#pragma once
// Conversions between natsMsg and our value types.
#include <nats/nats.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dm/bus/message.hpp"
#include "dm/core/result.hpp"

namespace dm::bus {

struct NatsMsgDeleter {
  void operator()(natsMsg* msg) const { natsMsg_Destroy(msg); }
};
using NatsMsgPtr = std::unique_ptr<natsMsg, NatsMsgDeleter>;

// An outgoing message; `reply` empty = none.
Result<NatsMsgPtr> make_nats_msg(std::string_view subject, std::string_view reply, std::string_view data,
                                 const Headers& headers);

// Copies subject, reply, payload and headers out of `msg` (which stays owned by the caller).
Message to_message(natsMsg* msg);

std::optional<std::string> header_of(natsMsg* msg, std::string_view key);

// "<prefix>.<nuid>.": a reply subject family of our own under this connection's inbox prefix
// (the one its NATS user may subscribe to); callers append a token and subscribe to "…*".
Result<std::string> unique_inbox(std::string_view prefix);

}  // namespace dm::bus
