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

// Frees `msg` on this thread. natsMsg_Destroy hands every message to nats.c's garbage
// collector thread and wakes it when it sleeps, which at a few hundred messages a second is
// a wake-up (two context switches) per message in every service. The collector only defers
// the free, so we skip it: a message's first member is nats.c's GC item {next, freeCb}, and
// with freeCb cleared natsMsg_Destroy frees at once. The layout is checked once against the
// library (a fresh message must carry natsMsg_free there); if it ever differs, messages go
// to the collector as before.
void destroy_nats_msg(natsMsg* msg);
// Whether the layout check passed (destroy_nats_msg frees on the caller's thread).
bool frees_inline();

struct NatsMsgDeleter {
  void operator()(natsMsg* msg) const { destroy_nats_msg(msg); }
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
