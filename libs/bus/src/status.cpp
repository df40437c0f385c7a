#include "status.hpp"

#include <string>

namespace dm::bus {
namespace {

Errc errc_of(natsStatus status) {
  switch (status) {
    case NATS_TIMEOUT:
      return Errc::timeout;
    // Everything that means "the bus is not there right now": callers retry later.
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_NO_SERVER:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_DRAINING:
    case NATS_INSUFFICIENT_BUFFER:  // the reconnect buffer is full
      return Errc::unavailable;
    case NATS_CONNECTION_AUTH_FAILED:
      return Errc::unauthorized;
    case NATS_NOT_PERMITTED:
      return Errc::forbidden;
    case NATS_INVALID_SUBJECT:
    case NATS_INVALID_ARG:
      return Errc::invalid_argument;
    case NATS_MAX_PAYLOAD:
      return Errc::too_large;
    default:
      return Errc::internal;
  }
}

Errc errc_of_js(jsErrCode code) {
  switch (code) {
    case JSStreamNotFoundErr:
    case JSConsumerNotFoundErr:
    case JSNoMessageFoundErr:
      return Errc::not_found;
    case JSStreamNameExistErr:
    case JSConsumerNameExistErr:
    case JSConsumerExistingActiveErr:
    case JSStreamWrongLastSequenceErr:
      return Errc::conflict;
    case JSStreamMessageExceedsMaximumErr:
      return Errc::too_large;
    // "maximum messages/bytes exceeded" with DiscardNew arrives as a store failure: the
    // stream is full, which a caller treats like any other temporarily missing capacity.
    case JSStreamStoreFailedErr:
    case JSInsufficientResourcesErr:
    case JSNotEnabledErr:
      return Errc::unavailable;
    default:
      return Errc::internal;
  }
}

std::string describe(natsStatus status, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (last == status && detail != nullptr && *detail != '\0' && msg.find(detail) == std::string::npos) {
    msg += " (";
    msg += detail;
    msg += ")";
  }
  return msg;
}

Errc errc_of(natsStatus status, jsErrCode code) { return code == 0 ? errc_of(status) : errc_of_js(code); }

}  // namespace

Error nats_error(natsStatus status, std::string_view what) { return Error(errc_of(status), describe(status, what)); }

Error js_error(natsStatus status, jsErrCode code, std::string_view what) {
  if (code == 0) return nats_error(status, what);
  return Error(errc_of_js(code), describe(status, what) + " [err_code " + std::to_string(code) + "]");
}

Error js_error_text(natsStatus status, jsErrCode code, std::string_view text, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += text.empty() ? std::string_view(natsStatus_GetText(status)) : text;
  if (code != 0) msg += " [err_code " + std::to_string(code) + "]";
  return Error(errc_of(status, code), std::move(msg));
}

}  // namespace dm::bus
