#include "history.hpp"

#include "dm/api/query.hpp"
#include "dm/contract/streams.hpp"
#include "dm/contract/words.hpp"
#include "dm/core/log.hpp"
#include "dm/core/strings.hpp"
#include "dm/core/thread_pool.hpp"
#include "dm/db/batch.hpp"
#include "dm/json/json.hpp"
#include "dm/service/message_parts.hpp"
#include "event.hpp"
#include "store.hpp"

namespace dm::ingest {

// One fetched message on its way into the history.
struct HistoryWriter::Item {
  service::MessagePart msg;
  std::optional<HistoryRow> row;       // empty: no device event, dead-lettered as it is
  std::optional<std::string> refused;  // why it cannot be stored: dead-letter it
};

HistoryWriter::HistoryWriter(bus::Connection& nats, db::Pool& db, service::DeadLetterBox& dead,
                             metrics::Registry& metrics, int batch, std::chrono::milliseconds linger)
    : nats_(nats),
      db_(db),
      dead_(dead),
      batch_(batch),
      linger_(linger),
      written_(metrics.counter("dm_ingest_history_rows_total", "History rows written.")),
      failed_(
          metrics.counter("dm_ingest_history_failures_total", "History writes that failed for an outage (retried).")),
      dead_lettered_(metrics.counter("dm_ingest_history_dead_letters_total",
                                     "Events that could not be stored in the history (dead-lettered).")) {}

HistoryWriter::~HistoryWriter() { stop(); }

Result<void> HistoryWriter::start() {
  thread_ = std::thread([this] {
    name_this_thread("history");
    run();
  });
  return ok();
}

void HistoryWriter::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void HistoryWriter::run() {
  std::unique_ptr<bus::PullConsumer> consumer;
  service::FetchSize fetch_size(batch_);  // about `batch_` events per fetch, in batches
  while (!stopping_) {
    if (!consumer) {
      auto c = nats_.jetstream().pull_subscribe(contract::kDeviceEventsStream, contract::kHistoryConsumer, "");
      if (!c) {
        log::warn("history consumer not bound yet", {{"error", c.error().message}});
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      consumer = std::move(c).value();
    }
    auto events = service::fetch_parts(*consumer, fetch_size, std::chrono::milliseconds(500), service::unpack_events);
    if (!events) {
      if (events.error().code != Errc::timeout) std::this_thread::sleep_for(std::chrono::milliseconds(250));
      continue;
    }
    if (events->empty()) continue;
    const auto fetched = events->size();
    write(*events);
    if (fetched < static_cast<std::size_t>(batch_) && !stopping_) std::this_thread::sleep_for(linger_);
  }
}

void HistoryWriter::write(std::vector<service::MessagePart>& batch) {
  std::vector<Item> items;
  items.reserve(batch.size());
  for (auto& m : batch) {
    auto row = history_row(m.data(), m.stream_sequence());
    Item item{std::move(m), std::nullopt, std::nullopt};
    if (row)
      item.row = std::move(row).value();
    else
      item.refused = "not a device event: " + row.error().message;  // someone published on our subjects
    items.push_back(std::move(item));
  }
  // Until everything is stored or buried: an outage keeps the batch in hand (no later event
  // overtakes it) and only stopping hands it back to the stream.
  while (!items.empty()) {
    if (store(items) && bury(items)) {
      outage_.recovered();
      return;
    }
    if (stopping_) {
      for (auto& item : items) (void)item.msg.nak();
      return;
    }
  }
}

bool HistoryWriter::store(std::vector<Item>& items) {
  std::vector<HistoryRow> rows;
  std::vector<Item*> owners;
  for (auto& item : items) {
    if (!item.row || item.refused) continue;
    rows.push_back(std::move(*item.row));  // moved back below unless it was stored
    owners.push_back(&item);
  }
  auto result = db::write_isolating(rows.size(), [&](std::size_t first, std::size_t last) -> Result<void> {
    auto stored = insert_history(db_, std::span<const HistoryRow>(rows).subspan(first, last - first));
    if (!stored) return stored.take_error();
    written_.inc(*stored);
    return ok();
  });
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Item& item = *owners[i];
    if (result.fate[i] == db::RowFate::written) {
      // Committed: now the message may go. A lost ack only means a redelivery that inserts nothing.
      (void)item.msg.ack();
      item.row.reset();
      continue;
    }
    item.row = std::move(rows[i]);
    if (result.fate[i] == db::RowFate::refused)
      item.refused = "refused by the database: " + result.refused.at(i).message;
  }
  std::erase_if(items, [](const Item& item) { return !item.row && !item.refused; });
  if (!result.outage) return true;
  failed_.inc();
  wait_out(items, outage_.failed(*result.outage));
  return false;
}

bool HistoryWriter::bury(std::vector<Item>& items) {
  std::vector<service::DeadLetter> letters;
  for (const auto& item : items) {
    std::string key =
        item.row ? item.row->event_type + ":" + item.row->dedup_id
                 : "seq:" + std::to_string(item.msg.stream_sequence()) + ":" + std::to_string(item.msg.index());
    letters.push_back({key, item.msg.name(), std::string(item.msg.data()), *item.refused, item.msg.delivered()});
  }
  auto added = dead_.add(letters);
  if (!added) {
    wait_out(items, outage_.failed(added.error()));
    return false;
  }
  dead_lettered_.inc(letters.size());
  for (auto& item : items) (void)item.msg.ack();  // kept as a dead letter: done with the stream
  items.clear();
  return true;
}

// Waits `delay` before the next try, keeping the messages in hand from being redelivered
// meanwhile (the consumer's ack wait is 30 s; an outage may last longer).
void HistoryWriter::wait_out(std::vector<Item>& items, std::chrono::milliseconds delay) {
  for (auto& item : items) (void)item.msg.in_progress();
  auto until = std::chrono::steady_clock::now() + delay;
  while (!stopping_ && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

Result<void> restore_history(db::Pool& db, const service::StoredDeadLetter& letter) {
  DM_ASSIGN_OR_RETURN(auto row, history_row(letter.payload, 0));
  DM_TRY(insert_history(db, std::span<const HistoryRow>(&row, 1)));
  return ok();
}

namespace {

const std::vector<std::string> kTypes(contract::Words<contract::EventType>::names.begin(),
                                      contract::Words<contract::EventType>::names.end());

http::Response history(db::Pool& db, const http::Request& req, std::optional<std::string> device_id) {
  api::QueryReader q(req);
  HistoryQuery hq;
  hq.page = q.paging(1000);
  hq.event_type = q.choice("event_type", kTypes);
  hq.from = q.time("from");
  hq.to = q.time("to");
  if (auto eui = q.string("dev_eui", 16)) {
    std::string e = *eui;
    e = lower(e);
    hq.dev_eui = e;
  }
  if (!q.ok()) return q.response();
  hq.device_id = std::move(device_id);
  auto res = query_history(db, hq);
  if (!res) {
    log::error("history query failed", {{"error", res.error().message}});
    return http::Response::from_error(
        res.error().code == Errc::unavailable ? res.error() : Error(Errc::internal, "history query failed"));
  }
  auto r = http::Response::json(200, std::move(res->first));
  r.headers.set("X-Total-Count", std::to_string(res->second));
  return r;
}

}  // namespace

void add_history_routes(http::Router& router, db::Pool& db, const Directory& directory) {
  router.add_sync("GET", "/api/v1/devices/history",
                  [&db](const http::Request& req) { return history(db, req, std::nullopt); });
  router.add_sync("GET", "/api/v1/devices/{id}/history", [&db](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (!api::is_uuid(id)) return http::Response::error(404, "Device not found");
    return history(db, req, id);
  });
  router.add_sync("GET", "/api/v1/ingest/unknown-devices", [&db, &directory](const http::Request& req) {
    api::QueryReader q(req);
    auto page = q.paging(1000);
    if (!q.ok()) return q.response();
    // Events stay as they were recorded; a dev_eui registered since then is no longer unknown.
    auto rows = query_unknown(db, page.skip + page.limit + 1000);
    if (!rows) return http::Response::from_error(Error(Errc::unavailable, "history store unavailable"));
    json::Writer w;
    w.start_array();
    std::int64_t index = 0, total = 0;
    for (std::size_t i = 0; i < rows->size(); ++i) {
      std::string eui(rows->get(i, 0));
      if (directory.find(eui)) continue;
      ++total;
      if (index++ < page.skip || total > page.skip + page.limit) continue;
      w.start_object().field("dev_eui", eui);
      auto ts = [&](int col) {
        auto t = parse_rfc3339(std::string(rows->get(i, col)));
        return t ? format_rfc3339(*t) : std::string(rows->get(i, col));
      };
      w.field("first_seen_at", ts(1)).field("last_seen_at", ts(2)).field("events", rows->get_int(i, 3));
      w.field_or_null("device_name", rows->opt(i, 4));
      w.end_object();
    }
    w.end_array();
    auto r = http::Response::json(200, w.take());
    r.headers.set("X-Total-Count", std::to_string(total));
    return r;
  });
}

}  // namespace dm::ingest
