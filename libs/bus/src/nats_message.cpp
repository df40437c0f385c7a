#include "nats_message.hpp"

#include <dlfcn.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "status.hpp"

namespace dm::bus {
namespace {

// nats.c's natsGCItem (src/gc.h), the first member of its natsMsg.
struct GcItem {
  void* next;
  void (*free_cb)(void*);
};

}  // namespace

bool frees_inline() {
  static const bool kKnown = [] {
    void* free_fn = dlsym(RTLD_DEFAULT, "natsMsg_free");
    natsMsg* probe = nullptr;
    // nats_Open starts the collector that natsMsg_Destroy may hand the probe to (a no-op when
    // a connection opened the library already).
    if (free_fn == nullptr || nats_Open(-1) != NATS_OK ||
        natsMsg_Create(&probe, "probe", nullptr, nullptr, 0) != NATS_OK)
      return false;
    GcItem item{};
    std::memcpy(&item, probe, sizeof item);
    natsMsg_Destroy(probe);
    return item.next == nullptr && reinterpret_cast<void*>(item.free_cb) == free_fn;
  }();
  return kKnown;
}

void destroy_nats_msg(natsMsg* msg) {
  if (msg == nullptr) return;
  if (frees_inline()) {
    GcItem item{};
    std::memcpy(&item, msg, sizeof item);
    item.free_cb = nullptr;
    std::memcpy(static_cast<void*>(msg), &item, sizeof item);
  }
  natsMsg_Destroy(msg);
}

std::optional<std::string> Message::header(std::string_view key) const {
  for (const auto& h : headers) {
    if (h.key == key) return h.value;
  }
  return std::nullopt;
}

Result<NatsMsgPtr> make_nats_msg(std::string_view subject, std::string_view reply, std::string_view data,
                                 const Headers& headers) {
  if (data.size() > static_cast<std::size_t>(INT_MAX)) return Error(Errc::too_large, "nats: payload over 2 GiB");
  // nats.c wants NUL-terminated subjects; string_view gives no such promise.
  const std::string subj(subject);
  const std::string rep(reply);
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subj.c_str(), rep.empty() ? nullptr : rep.c_str(), data.data(),
                                static_cast<int>(data.size()));
  if (s != NATS_OK) return nats_error(s, "nats: create message for '" + subj + "'");
  NatsMsgPtr msg(raw);
  for (const auto& h : headers) {
    s = natsMsgHeader_Add(msg.get(), h.key.c_str(), h.value.c_str());
    if (s != NATS_OK) return nats_error(s, "nats: header '" + h.key + "'");
  }
  return msg;
}

namespace {

Headers headers_of(natsMsg* msg) {
  Headers out;
  const char** keys = nullptr;
  int key_count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &key_count) != NATS_OK) return out;  // NATS_NOT_FOUND: none
  for (int i = 0; i < key_count; ++i) {
    const char** values = nullptr;
    int value_count = 0;
    if (natsMsgHeader_Values(msg, keys[i], &values, &value_count) != NATS_OK) continue;
    for (int j = 0; j < value_count; ++j) out.push_back({keys[i], values[j]});
    std::free(static_cast<void*>(values));  // the array is ours, the strings stay the message's
  }
  std::free(static_cast<void*>(keys));
  return out;
}

}  // namespace

Message to_message(natsMsg* msg) {
  Message out;
  out.subject = natsMsg_GetSubject(msg);
  if (const char* reply = natsMsg_GetReply(msg)) out.reply = reply;
  const char* data = natsMsg_GetData(msg);
  const int len = natsMsg_GetDataLength(msg);
  if (data != nullptr && len > 0) out.data.assign(data, static_cast<std::size_t>(len));
  out.headers = headers_of(msg);
  return out;
}

std::optional<std::string> header_of(natsMsg* msg, std::string_view key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, std::string(key).c_str(), &value) != NATS_OK || value == nullptr) return std::nullopt;
  return std::string(value);
}

Result<std::string> unique_inbox(std::string_view prefix) {
  // natsInbox_Create gives "_INBOX.<nuid>": the unique token goes under the given prefix.
  natsInbox* inbox = nullptr;
  if (natsStatus s = natsInbox_Create(&inbox); s != NATS_OK) return nats_error(s, "nats: create inbox");
  std::string_view made(inbox);
  std::string out = std::string(prefix) + std::string(made.substr(made.rfind('.'))) + ".";
  natsInbox_Destroy(inbox);
  return out;
}

}  // namespace dm::bus
