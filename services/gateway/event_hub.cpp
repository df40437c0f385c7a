#include "event_hub.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "dm/contract/subjects.hpp"
#include "dm/core/strings.hpp"
#include "dm/json/json.hpp"

namespace dm::gateway {
namespace {

struct Family {
  std::string_view name;
  std::string_view prefix;  // subject prefix (proto/README.md)
  bool needs_id;            // the whole family is too much to follow (every device event)
  bool dev_eui;             // the id is a DevEUI: 16 hex digits, subjects use lower case
  bool suffix;              // the id is followed by more tokens (dm.device.<dev_eui>.<event>)
};

constexpr std::array<Family, 7> kFamilies = {{
    {"devstate", contract::subject::kDeviceStatePrefix, false, true, false},
    {"flows", contract::subject::kFlowCompletedPrefix, false, false, false},
    {"functions", contract::subject::kFunctionRunPrefix, false, false, false},
    {"deliveries", contract::subject::kDeliveryPrefix, false, false, false},
    {"deadletters", contract::subject::kDeadLetterPrefix, false, false, false},
    {"definitions", contract::subject::kRegistryChangedPrefix, false, false, false},
    {"device", contract::subject::kDeviceEventPrefix, true, true, true},
}};

const Family* find_family(std::string_view name) {
  for (const auto& f : kFamilies) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Result<Topic> parse_topic(std::string_view entry) {
  const auto colon = entry.find(':');
  const auto name = entry.substr(0, colon);
  const auto* family = find_family(name);
  if (!family) {
    return make_error(Errc::invalid_argument, "unknown topic '" + std::string(name) +
                                                  "': devstate, flows, functions, deliveries, deadletters, "
                                                  "definitions or device (each may be narrowed as topic:id)");
  }
  Topic t{std::string(family->name), "", std::string(family->prefix)};
  if (colon == std::string_view::npos) {
    if (family->needs_id) return make_error(Errc::invalid_argument, "topic '" + t.family + "' needs an id");
    t.subject += ".>";
    return t;
  }
  // An id is one subject token; a DevEUI is taken in either case, subjects use lower case.
  const auto id = family->dev_eui ? lower(entry.substr(colon + 1)) : std::string(entry.substr(colon + 1));
  if (family->dev_eui ? !contract::subject::is_dev_eui(id) : !contract::subject::is_token(id)) {
    return make_error(Errc::invalid_argument,
                      "topic '" + t.family + "': " +
                          (family->dev_eui ? "the id must be a DevEUI (16 hexadecimal digits)"
                                           : "the id must be 1 to 128 letters, digits, '_' or '-'"));
  }
  t.id = id;
  t.subject += "." + t.id;
  if (family->suffix) t.subject += ".>";
  return t;
}

}  // namespace

Result<std::vector<Topic>> parse_topics(std::string_view list) {
  std::vector<Topic> topics;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    const auto entry = list.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;
    DM_ASSIGN_OR_RETURN(auto topic, parse_topic(entry));
    topics.push_back(std::move(topic));
  }
  if (topics.empty()) return make_error(Errc::invalid_argument, "name at least one topic");
  // A family followed whole swallows its narrowed topics; repeats go.
  std::vector<Topic> out;
  for (auto& t : topics) {
    const bool covered = std::any_of(topics.begin(), topics.end(), [&](const Topic& o) {
      return o.family == t.family && o.id.empty() && !t.id.empty();
    });
    const bool repeated = std::any_of(out.begin(), out.end(), [&](const Topic& o) { return o.subject == t.subject; });
    if (!covered && !repeated) out.push_back(std::move(t));
  }
  if (out.size() > kMaxTopicsPerStream) {
    return make_error(Errc::invalid_argument, "at most " + std::to_string(kMaxTopicsPerStream) + " topics per stream");
  }
  return out;
}

std::string sse_frame(std::string_view event, std::string_view subject, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + subject.size() + event.size() + 48);
  out.append("event: ").append(event).append("\ndata: {\"subject\":");
  out.append(json::Writer().string(subject).take()).append(",\"data\":");
  for (std::size_t i = 0; i < payload.size(); ++i) {
    const char c = payload[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < payload.size() && payload[i + 1] == '\n') ++i;
      out.append("\ndata: ");
    } else {
      out.push_back(c);
    }
  }
  out.append("}\n\n");
  return out;
}

EventHub::EventHub(EventLimits limits, Subscribe subscribe, metrics::Counter* dropped)
    : limits_(std::move(limits)), subscribe_(std::move(subscribe)), dropped_(dropped) {}

EventHub::~EventHub() {
  std::unordered_map<std::string, Subject> subjects;
  {
    std::lock_guard lock(mu_);
    // A stream the server never finished (its frame dies with the io_context later) must not
    // call back into a hub that is gone.
    for (auto& [id, c] : clients_) c.stream->on_end(nullptr);
    subjects.swap(subjects_);
    clients_.clear();
  }
  subjects.clear();  // unsubscribes, outside mu_: a delivery in progress may be waiting for it
}

EventHub::Refusal EventHub::refusal(const std::string& user, std::size_t new_subjects) const {
  if (clients_.size() >= limits_.max_connections) return Refusal::overall;
  if (auto it = per_user_.find(user); it != per_user_.end() && it->second >= limits_.max_per_user) {
    return Refusal::per_user;
  }
  if (subjects_.size() + new_subjects > limits_.max_subjects) return Refusal::subjects;
  return Refusal::none;
}

Result<EventHub::Opening> EventHub::open(const std::string& user, const std::vector<Topic>& topics, std::string first) {
  std::lock_guard subscribing(subscriptions_mu_);
  std::vector<const Topic*> fresh;  // subjects nobody follows yet
  {
    std::lock_guard lock(mu_);
    for (const auto& t : topics) {
      if (!subjects_.count(t.subject)) fresh.push_back(&t);
    }
    if (auto r = refusal(user, fresh.size()); r != Refusal::none) return Opening{nullptr, r};
  }
  // Subscribed without mu_ held: deliveries on other subjects go on meanwhile.
  std::vector<std::pair<const Topic*, Handle>> made;
  for (const auto* t : fresh) {
    const std::string pattern = t->subject;
    auto handle = subscribe_(pattern, [this, pattern](const std::string& subject, std::string_view payload) {
      deliver(pattern, subject, payload);
    });
    if (!handle) return handle.error();  // `made` unsubscribes on the way out
    made.emplace_back(t, std::move(*handle));
  }

  auto stream = std::make_shared<http::Stream>(limits_.stream);
  stream->write(std::move(first));
  std::lock_guard lock(mu_);
  const auto id = next_id_++;
  for (auto& [t, handle] : made) subjects_[t->subject] = Subject{t->family, std::move(handle), {}};
  Client client{user, stream, {}, false};
  for (const auto& t : topics) {
    subjects_[t.subject].clients.push_back(id);
    client.subjects.push_back(t.subject);
  }
  clients_.emplace(id, std::move(client));
  ++per_user_[user];
  // On a server thread once the response is over, never inside a delivery (which holds mu_).
  stream->on_end([this, id] { remove(id); });
  return Opening{stream, Refusal::none};
}

void EventHub::deliver(const std::string& pattern, const std::string& subject, std::string_view payload) {
  std::lock_guard lock(mu_);
  auto it = subjects_.find(pattern);
  if (it == subjects_.end() || it->second.clients.empty()) return;
  const auto frame = sse_frame(it->second.family, subject, payload);
  for (auto id : it->second.clients) {
    auto c = clients_.find(id);
    if (c == clients_.end() || c->second.dropped) continue;
    if (!c->second.stream->write(frame) && c->second.stream->overflowed()) {
      c->second.dropped = true;
      if (dropped_) dropped_->inc();
    }
  }
}

void EventHub::remove(std::uint64_t id) {
  std::lock_guard subscribing(subscriptions_mu_);
  std::vector<Handle> unused;
  {
    std::lock_guard lock(mu_);
    auto c = clients_.find(id);
    if (c == clients_.end()) return;
    for (const auto& pattern : c->second.subjects) {
      auto s = subjects_.find(pattern);
      if (s == subjects_.end()) continue;
      auto& ids = s->second.clients;
      ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
      if (ids.empty()) {
        unused.push_back(std::move(s->second.handle));
        subjects_.erase(s);
      }
    }
    if (auto u = per_user_.find(c->second.user); u != per_user_.end() && --u->second == 0) per_user_.erase(u);
    clients_.erase(c);
  }
  unused.clear();  // unsubscribes, outside mu_: a delivery in progress may be waiting for it
}

void EventHub::close_all() {
  std::vector<std::shared_ptr<http::Stream>> streams;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, c] : clients_) streams.push_back(c.stream);
  }
  for (auto& s : streams) s->close();
}

EventHub::Stats EventHub::stats() const {
  std::lock_guard lock(mu_);
  return {clients_.size(), subjects_.size()};
}

}  // namespace dm::gateway
