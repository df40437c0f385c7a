#include "history.hpp"

#include "dm/api/query.hpp"
#include "dm/core/log.hpp"
#include "dm/json/json.hpp"
#include "event.hpp"
#include "store.hpp"

namespace dm::ingest {

HistoryWriter::HistoryWriter(bus::Connection& nats, db::Pool& db, metrics::Registry& metrics, int batch,
                             std::chrono::milliseconds linger)
    : nats_(nats),
      db_(db),
      batch_(batch),
      linger_(linger),
      written_(metrics.counter("dm_ingest_history_rows_total", "History rows written.")),
      failed_(metrics.counter("dm_ingest_history_failures_total", "History batches that failed (retried).")) {}

HistoryWriter::~HistoryWriter() { stop(); }

Result<void> HistoryWriter::start() {
  thread_ = std::thread([this] { run(); });
  return ok();
}

void HistoryWriter::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void HistoryWriter::run() {
  std::unique_ptr<bus::PullConsumer> consumer;
  while (!stopping_) {
    if (!consumer) {
      auto c = nats_.jetstream().pull_subscribe(kStream, kHistoryConsumer, "");
      if (!c) {
        log::warn("history consumer not bound yet", {{"error", c.error().message}});
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      consumer = std::move(c).value();
    }
    auto msgs = consumer->fetch(batch_, std::chrono::milliseconds(500));
    if (!msgs) {
      if (msgs.error().code != Errc::timeout) std::this_thread::sleep_for(std::chrono::milliseconds(250));
      continue;
    }
    if (msgs->empty()) continue;
    write(*msgs);
    if (msgs->size() < static_cast<std::size_t>(batch_) && !stopping_) std::this_thread::sleep_for(linger_);
  }
}

void HistoryWriter::write(std::vector<bus::JsMessage>& batch) {
  std::vector<HistoryRow> rows;
  rows.reserve(batch.size());
  std::vector<bus::JsMessage*> good;
  for (auto& m : batch) {
    auto row = history_row(m.data(), m.stream_sequence());
    if (!row) {
      // Not a device event (someone published on our subjects): it can never be stored.
      log::error("history: dropping a message that is not a device event",
                 {{"subject", m.subject()}, {"error", row.error().message}});
      (void)m.term();
      continue;
    }
    rows.push_back(std::move(row).value());
    good.push_back(&m);
  }
  if (rows.empty()) return;
  auto inserted = insert_history(db_, rows);
  if (!inserted) {
    failed_.inc();
    log::warn("history batch not stored, will retry", {{"rows", rows.size()}, {"error", inserted.error().message}});
    for (auto* m : good) (void)m->nak(std::chrono::seconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return;
  }
  written_.inc(*inserted);
  // Committed: now the messages may go. A lost ack only means a redelivery that inserts nothing.
  for (auto* m : good) (void)m->ack();
}

namespace {

const std::vector<std::string> kTypes(std::begin(kEventTypes), std::end(kEventTypes));

http::Response history(db::Pool& db, const http::Request& req, std::optional<std::string> device_id) {
  api::QueryReader q(req);
  HistoryQuery hq;
  hq.page = q.paging(1000);
  hq.event_type = q.choice("event_type", kTypes);
  hq.from = q.time("from");
  hq.to = q.time("to");
  if (auto eui = q.string("dev_eui", 16)) {
    std::string e = *eui;
    for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
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
