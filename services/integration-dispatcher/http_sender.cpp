#include "http_sender.hpp"

#include <chrono>

namespace dm::dispatcher {
namespace {

constexpr std::size_t kMaxKept = 64 << 10;

void body_field(json::Writer& w, std::string_view body) {
  bool cut = body.size() > kMaxKept;
  w.field("body", body.substr(0, kMaxKept));
  if (cut) w.field("body_truncated", true);
}

std::string describe_response(const http::PinnedResponse& r) {
  json::Writer w;
  w.start_object().field("status", r.status).key("headers").start_object();
  for (const auto& [k, v] : r.headers)
    w.field(k, is_secret_header(k) || http::iequals(k, "set-cookie") ? "********" : v);
  w.end_object();
  body_field(w, r.body);
  if (r.truncated) w.field("body_truncated", true);
  w.end_object();
  return w.take();
}

}  // namespace

std::string describe_request(const std::string& method, const std::string& url, const http::Headers& headers,
                             std::string_view body) {
  json::Writer w;
  w.start_object().field("method", method).field("url", url).key("headers").start_object();
  for (const auto& [k, v] : headers) w.field(k, is_secret_header(k) ? "********" : v);
  w.end_object();
  body_field(w, body);
  w.end_object();
  return w.take();
}

Result<std::unique_ptr<http::PinnedClient>> HttpSender::acquire(const std::string& pool_key,
                                                                const std::string& connection_key,
                                                                const HttpTarget& target, const std::string& origin) {
  {
    std::lock_guard lock(mutex_);
    auto& pool = pools_[pool_key];
    if (pool.connection_key != connection_key) {  // the integration changed: old connections go
      pool.idle.clear();
      pool.connection_key = connection_key;
    }
    if (!pool.idle.empty()) {
      auto c = std::move(pool.idle.back());
      pool.idle.pop_back();
      return c;
    }
  }
  http::ClientOptions options;
  options.connect_timeout = std::min(target.timeout, std::chrono::milliseconds(10000));
  options.request_timeout = target.timeout;
  options.verify_tls = target.verify_tls;
  options.ca_cert_pem = target.ca_cert;
  options.max_response_body = kMaxKept;
  return http::make_pinned_client(origin, options, policy_);
}

void HttpSender::release(const std::string& pool_key, const std::string& connection_key,
                         std::unique_ptr<http::PinnedClient> c) {
  std::lock_guard lock(mutex_);
  auto& pool = pools_[pool_key];
  if (pool.connection_key != connection_key || pool.idle.size() >= 64) {
    closed_connections_ += c->connections_opened();
    return;
  }
  pool.idle.push_back(std::move(c));
}

std::size_t HttpSender::connections_opened() const {
  std::lock_guard lock(mutex_);
  std::size_t n = closed_connections_;
  for (const auto& [k, p] : pools_) {
    for (const auto& c : p.idle) n += c->connections_opened();
  }
  return n;
}

Outcome HttpSender::send(const std::string& pool_key, const std::string& connection_key, const HttpTarget& target,
                         const std::string& method, const std::string& url, const std::string& body,
                         http::Headers headers) {
  Outcome out;
  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  };
  out.request = describe_request(method, url, headers, body);
  auto parsed = http::parse_url(url);
  if (!parsed) {
    out.permanent = true;
    out.error = "invalid url: " + parsed.error().message;
    return out;
  }
  std::string host = parsed->host.find(':') != std::string::npos ? "[" + parsed->host + "]" : parsed->host;
  std::string origin = parsed->scheme + "://" + host + ":" + std::to_string(parsed->port);
  auto client = acquire(pool_key, connection_key, target, origin);
  if (!client) {
    out.permanent = true;  // a bad CA PEM does not fix itself
    out.error = client.error().message;
    out.duration_ms = elapsed();
    return out;
  }
  auto r = (*client)->request(method, parsed->target, body, headers);
  out.duration_ms = elapsed();
  if (!r) {
    out.error = r.error().message;
    // Refused destinations and failed certificate checks are permanent; the rest is transient.
    out.permanent = r.error().code == Errc::forbidden || r.error().code == Errc::invalid_argument;
    return out;  // the client is dropped: its connection is in an unknown state
  }
  classify_http_status(r->status, out);
  if (auto ra = r->headers.get("Retry-After"); ra && (r->status == 429 || r->status == 503)) {
    out.retry_after = parse_retry_after(*ra, now());
  }
  out.response = describe_response(*r);
  release(pool_key, connection_key, std::move(client).value());
  return out;
}

Outcome HttpSender::deliver(const Target& target, const Job& job, int attempt) {
  const auto& h = std::get<HttpTarget>(target.spec);
  http::Headers headers;
  for (const auto& [k, v] : h.headers) headers.set(k, v);
  headers.set("Idempotency-Key", job.job_id);
  headers.set("X-Dm-Attempt", std::to_string(attempt));
  std::string url = h.url, body;
  if (h.method == "GET") {
    auto doc = json::parse(job.message);
    if (doc) url = query_from_message(url, *doc);
  } else {
    body = job.message;
    if (!headers.contains("Content-Type")) headers.set("Content-Type", "application/json");
  }
  return send(target.id, target.connection_key, h, h.method, url, body, std::move(headers));
}

}  // namespace dm::dispatcher
