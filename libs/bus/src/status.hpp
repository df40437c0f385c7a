#pragma once
// natsStatus / jsErrCode → dm::Error, in one place so every call site agrees.
#include <nats/nats.h>

#include <string_view>

#include "dm/core/result.hpp"

namespace dm::bus {

// `what` names the failed operation. The thread's last nats error text is appended when it
// belongs to `status`, so call this right after the failing nats function.
Error nats_error(natsStatus status, std::string_view what);

// A JetStream API failure: the server's error code, when there is one, decides the Errc.
Error js_error(natsStatus status, jsErrCode code, std::string_view what);

// A failure reported with its own text, as in the async publish ack handler.
Error js_error_text(natsStatus status, jsErrCode code, std::string_view text, std::string_view what);

inline Result<void> check(natsStatus status, std::string_view what) {
  if (status == NATS_OK) return ok();
  return nats_error(status, what);
}

}  // namespace dm::bus
