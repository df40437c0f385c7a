#include "http_sender.hpp"

#include <chrono>

#include "dm/core/text.hpp"
#include "dm/http/secrets.hpp"

namespace dm::dispatcher {
namespace {

// The body kept in history, as valid UTF-8 whatever the remote end sent: the documents are
// json columns, and one invalid byte (or a cut inside a character) would make PostgreSQL refuse
// the whole history row.
void body_field(json::Writer& w, std::string_view body) {
  w.field("body", to_valid_utf8(body, kMaxKeptBody));
  if (body.size() > kMaxKeptBody) w.field("body_truncated", true);
}

// Header values are masked unless the header is known to be harmless (dm/http/secrets.hpp):
// a signature or token may come under any name, in a request or in an answer.
void headers_field(json::Writer& w, const http::Headers& headers) {
  w.key("headers").start_object();
  for (const auto& [k, v] : headers) {
    w.field(to_valid_utf8(k, 256), shown_in_history(k) ? to_valid_utf8(v, 8192) : std::string(http::kSecretMask));
  }
  w.end_object();
}

std::string describe_response(const http::ClientResponse& r) {
  json::Writer w;
  w.start_object().field("status", r.status);
  headers_field(w, r.headers);
  body_field(w, r.body);
  if (r.truncated && r.body.size() <= kMaxKeptBody) w.field("body_truncated", true);
  w.end_object();
  return w.take();
}

}  // namespace

bool shown_in_history(std::string_view header) {
  // The two the dispatcher sets itself carry a job id and an attempt number, never a secret
  // (a configured header of the same name is replaced).
  return http::is_harmless_header(header) || http::iequals(header, "Idempotency-Key") ||
         http::iequals(header, "X-Dm-Attempt");
}

std::string describe_request(const std::string& method, const std::string& url, const http::Headers& headers,
                             std::string_view body) {
  json::Writer w;
  // A URL's credentials (userinfo, credential-like query values) are masked like headers.
  w.start_object().field("method", method).field("url", to_valid_utf8(http::mask_url(url)));
  headers_field(w, headers);
  body_field(w, body);
  w.end_object();
  return w.take();
}

void HttpSender::send(const std::string& pool_key, const std::string& connection_key, const HttpTarget& target,
                      const std::string& method, const std::string& url, const std::string& body,
                      const http::Headers& headers, Done done) {
  auto started = std::chrono::steady_clock::now();
  auto request = describe_request(method, url, headers, body);
  http::ClientOptions options;
  options.connect_timeout = std::min(target.timeout, std::chrono::milliseconds(10000));
  options.request_timeout = target.timeout;
  options.verify_tls = target.verify_tls;
  options.ca_cert_pem = target.ca_cert;
  options.max_response_body = kMaxKeptBody;
  options.outbound = policy_;  // connect only to approved addresses; redirects are never followed
  options.truncate_body = true;
  client_.request(
      pool_key, connection_key, options, method, url, body, headers,
      [started, request = std::move(request), done = std::move(done)](Result<http::ClientResponse> r) mutable {
        Outcome out;
        out.request = std::move(request);
        out.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        if (!r) {
          out.error = r.error().message;
          // Bad URLs, bad CA PEMs, refused destinations and failed certificate checks are
          // permanent; the rest (refused connections, timeouts, resets) is transient.
          out.permanent = r.error().code == Errc::forbidden || r.error().code == Errc::invalid_argument;
          return done(std::move(out));
        }
        classify_http_status(r->status, out);
        if (auto ra = r->headers.get("Retry-After"); ra && (r->status == 429 || r->status == 503)) {
          out.retry_after = parse_retry_after(*ra, now());
        }
        out.response = describe_response(*r);
        done(std::move(out));
      });
}

void HttpSender::deliver(const Target& target, const Job& job, int attempt, Done done) {
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
  send(target.id, target.connection_key, h, h.method, url, body, headers, std::move(done));
}

}  // namespace dm::dispatcher
