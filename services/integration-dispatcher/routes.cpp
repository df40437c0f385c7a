#include "routes.hpp"

#include <future>

#include "dm/api/query.hpp"
#include "dm/contract/subjects.hpp"
#include "dm/contract/words.hpp"
#include "dm/core/log.hpp"
#include "read_store.hpp"

namespace dm::dispatcher {
namespace {

// A page as the lists answer it: a JSON array, and the total in X-Total-Count.
http::Response list(std::string array, std::int64_t total) {
  auto res = http::Response::json(200, std::move(array));
  res.headers.set("X-Total-Count", std::to_string(total));
  return res;
}

http::Response db_error(const Error& e) {
  log::error("dispatcher query failed", {{"error", e.message}});
  return http::Response::error(e.code == Errc::unavailable ? 503 : 500, "Delivery records are unavailable");
}

http::Response not_found(const char* what) { return http::Response::error(404, std::string(what) + " not found"); }

http::Response history(RouteContext& ctx, const http::Request& req, std::optional<std::string> target) {
  if (target && !api::is_uuid(*target)) return not_found("Integration");
  api::QueryReader q(req);
  auto page = q.paging();
  const auto& words = contract::Words<contract::DeliveryStatus>::names;
  auto status = q.choice("status", std::vector<std::string>(words.begin(), words.end()));
  auto from = q.time("from");
  auto to = q.time("to");
  if (!q.ok()) return q.response();
  auto rows = history_page(ctx.db, target, status, from, to, page);
  if (!rows) return db_error(rows.error());
  return list(db::json_array(rows->rows), rows->total);
}

http::Response history_item(RouteContext& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  const auto& hid = req.params.at("history_id");
  if (!api::is_uuid(id) || !api::is_uuid(hid)) return not_found("Delivery");
  auto item = dispatcher::history_item(ctx.db, id, hid);
  if (!item) return db_error(item.error());
  if (!*item) return not_found("Delivery");
  return http::Response::json(200, std::move(**item));
}

// Republishes dead-lettered jobs and forgets them, in one transaction per job: a failed
// publish keeps the dead letter.
http::Response retry(RouteContext& ctx, const std::string& target, std::optional<std::string> one) {
  if (!api::is_uuid(target) || (one && !api::is_uuid(*one))) return not_found(one ? "Dead letter" : "Integration");
  auto ids = dead_letter_ids(ctx.db, target, one);
  if (!ids) return db_error(ids.error());
  if (one && ids->empty()) return not_found("Dead letter");
  std::int64_t retried = 0, failed = 0;
  for (const auto& dl : *ids) {
    auto r = requeue_dead_letter(ctx.db, dl, [&](const std::string& job) -> Result<void> {
      // A fresh message id: the original is still inside the stream's duplicate window, maybe.
      std::string msg_id = "retry:" + dl + ":" + std::to_string(unix_micros(now()));
      DM_TRY(ctx.nats.jetstream().publish(contract::subject::dispatch(target), job, msg_id, std::chrono::seconds(5)));
      return ok();
    });
    if (r && *r)
      ++retried;
    else if (!r) {
      ++failed;
      log::warn("dead letter retry failed", {{"dead_letter_id", dl}, {"error", r.error().message}});
    }
  }
  if (failed && !retried) return http::Response::error(503, "Dead letters could not be requeued; try again");
  json::Writer w;
  w.start_object().field("retried", retried).field("failed", failed).end_object();
  return http::Response::json(200, w.take());
}

// One dead letter as the API lists it: its columns, plus the job's message, dev_eui and
// flow_id read here rather than in SQL. The job is kept as json text, which may hold what
// PostgreSQL's text cannot (a \u0000 in a string): its json operators would refuse to read it.
std::string dead_letter_item(std::string_view columns_object, std::string_view job_text) {
  // A record PostgreSQL refused keeps a reduced job that is not one (see store.cpp): no fields.
  auto job = contract::decode_delivery_job(job_text);
  auto text = [&job](const std::string& s) {
    if (!job) return std::string("null");
    json::Writer w;
    w.string(s);
    return w.take();
  };
  std::string out(columns_object.substr(0, columns_object.rfind('}')));
  out += ",\"message\":" + (job ? job->message : std::string("null")) +
         ",\"dev_eui\":" + text(job ? job->dev_eui : "") + ",\"flow_id\":" + text(job ? job->flow_id : "");
  out += '}';
  return out;
}

http::Response dead_letters(RouteContext& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found("Integration");
  api::QueryReader q(req);
  auto page = q.paging();
  if (!q.ok()) return q.response();
  auto letters = dead_letter_page(ctx.db, id, page);
  if (!letters) return db_error(letters.error());
  std::string array = "[";
  for (const auto& l : letters->letters) {
    if (array.size() > 1) array += ',';
    array += dead_letter_item(l.columns, l.job);
  }
  return list(array + "]", letters->total);
}

// A job as a flow would queue it, for the test route.
Job sample_job(const std::string& target) {
  std::string id = "test:" + std::to_string(unix_micros(now()));
  Job job;
  job.job_id = id;
  job.kind = contract::JobKind::integration;
  job.target_id = target;
  job.flow_id = "test";
  job.flow_run_id = id;
  job.node_id = "test";
  job.dev_eui = "0000000000000000";
  job.message = R"({"test":true,"dev_eui":"0000000000000000","device_name":"test-device",)"
                R"("object":{"temperature":21.5}})";
  job.created_at = format_rfc3339(now());
  return job;
}

http::Response test(RouteContext& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found("Integration");
  ctx.targets.invalidate(id);  // test what is saved now
  auto target = ctx.targets.get(contract::JobKind::integration, id);
  if (!target) {
    if (target.error().code == Errc::not_found) return not_found("Integration");
    return http::Response::error(503, target.error().message);
  }
  const Job job = sample_job(id);
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto future = promise->get_future();
  ctx.attempter.attempt(**target, job, 1, [promise](Outcome o, bool) { promise->set_value(std::move(o)); });
  if (future.wait_for(std::chrono::seconds(70)) != std::future_status::ready) {
    return http::Response::error(504, "The integration did not answer in time");
  }
  auto o = future.get();
  json::Writer w;
  w.start_object()
      .field("delivered", o.delivered)
      .field("status",
             contract::to_string(o.delivered ? contract::DeliveryStatus::delivered : contract::DeliveryStatus::failed))
      .key("http_status");
  if (o.http_status)
    w.integer(*o.http_status);
  else
    w.null();
  w.field_or_null("error", o.error)
      .field("retryable", !o.delivered && !o.permanent)
      .field("duration_ms", o.duration_ms);
  w.key("request");
  if (o.request.empty())
    w.null();
  else
    w.raw(o.request);
  w.key("response");
  if (o.response.empty())
    w.null();
  else
    w.raw(o.response);
  w.end_object();
  return http::Response::json(200, w.take());
}

http::Response records(RouteContext& ctx, const http::Request& req) {
  const auto& id = req.params.at("id");
  if (!api::is_uuid(id)) return not_found("Storage");
  api::QueryReader q(req);
  auto page = q.paging();
  auto from = q.time("from");
  auto to = q.time("to");
  auto dev_eui = q.string("dev_eui", 16);
  if (!q.ok()) return q.response();
  auto rows = records_page(ctx.db, id, dev_eui, from, to, page);
  if (!rows) return db_error(rows.error());
  return list(db::json_array(rows->rows), rows->total);
}

}  // namespace

void add_history_routes(http::Router& router, RouteContext& ctx) {
  router.add_sync("GET", "/api/v1/integrations/history",
                  [&ctx](const http::Request& req) { return history(ctx, req, std::nullopt); });
  router.add_sync("GET", "/api/v1/integrations/{id}/history",
                  [&ctx](const http::Request& req) { return history(ctx, req, req.params.at("id")); });
  router.add_sync("GET", "/api/v1/integrations/{id}/history/{history_id}",
                  [&ctx](const http::Request& req) { return history_item(ctx, req); });
}

void add_dead_letter_routes(http::Router& router, RouteContext& ctx) {
  router.add_sync("GET", "/api/v1/integrations/{id}/dead-letters",
                  [&ctx](const http::Request& req) { return dead_letters(ctx, req); });
  router.add_sync("POST", "/api/v1/integrations/{id}/dead-letters/retry",
                  [&ctx](const http::Request& req) { return retry(ctx, req.params.at("id"), std::nullopt); });
  router.add_sync(
      "POST", "/api/v1/integrations/{id}/dead-letters/{dead_letter_id}/retry",
      [&ctx](const http::Request& req) { return retry(ctx, req.params.at("id"), req.params.at("dead_letter_id")); });
}

void add_test_route(http::Router& router, RouteContext& ctx) {
  router.add_sync("POST", "/api/v1/integrations/{id}/test",
                  [&ctx](const http::Request& req) { return test(ctx, req); });
}

void add_record_routes(http::Router& router, RouteContext& ctx) {
  router.add_sync("GET", "/api/v1/storages/{id}/records",
                  [&ctx](const http::Request& req) { return records(ctx, req); });
}

}  // namespace dm::dispatcher
