#pragma once
// HTTP messages as plain values, shared by the server, the router and the client.
// Nothing here knows about sockets: handlers and tests build and inspect these freely.
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dm/core/result.hpp"

namespace dm::http {

class Stream;  // dm/http/stream.hpp

// Header fields in arrival order (order matters for repeated fields such as Set-Cookie);
// names compare case-insensitively as RFC 9110 requires.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<Field> fields);

  // The first field with this name.
  std::optional<std::string> get(std::string_view name) const;
  bool contains(std::string_view name) const;
  // Replaces every field with this name by one (kept at the first one's position).
  void set(std::string name, std::string value);
  // Appends, keeping earlier fields of the same name.
  void add(std::string name, std::string value);
  // Removes every field with this name; returns how many were removed.
  std::size_t remove(std::string_view name);

  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

// ASCII case-insensitive comparison (header names, schemes, tokens).
bool iequals(std::string_view a, std::string_view b);

struct Request {
  std::string method;                        // "GET"
  std::string target;                        // raw "/api/v1/devices?skip=0"
  std::string path;                          // decoded path "/api/v1/devices"
  std::string query_string;                  // "skip=0"
  std::map<std::string, std::string> query;  // decoded (+ and %XX); last value wins
  Headers headers;
  std::string body;
  std::map<std::string, std::string> params;  // path parameters filled by the router
  std::string route;  // the matched pattern, filled by the router (metrics labels); empty on 404/405
  std::string remote_address;
  // The service that sent this request over RPC (known from the NATS subject it came on,
  // which only that service may publish to); empty for a request on an HTTP port.
  std::string caller;

  std::optional<std::string> header(std::string_view name) const { return headers.get(name); }
  std::optional<std::string> query_param(const std::string& name) const;
  std::optional<std::string> param(const std::string& name) const;
};

// Splits request.target into path (percent-decoded), query_string and query. The server
// calls it; tests building a Request by hand call it too.
void parse_target(Request& request);

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Set: the body is this stream instead of `body`, written until it closes (dm/http/stream.hpp).
  std::shared_ptr<Stream> body_stream;

  static Response json(int status, std::string body);  // Content-Type: application/json
  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static Response error(int status, std::string_view detail);  // {"detail": "..."} as FastAPI
  static Response from_error(const dm::Error& e);              // status from errc_http_status, detail = message
  static Response empty(int status = 204);
  static Response streaming(std::shared_ptr<Stream> stream, std::string content_type);
};

// Call exactly once, from ANY thread: the server posts the response back to the connection.
// Later calls are ignored; a Reply dropped without being called answers 500.
using Reply = std::function<void(Response)>;
// Async handlers copy what they need from the request before returning.
using Handler = std::function<void(const Request&, Reply)>;
using SyncHandler = std::function<Response(const Request&)>;

// Percent-decoding. `plus_as_space` is for query strings (application/x-www-form-urlencoded);
// malformed escapes are kept literally rather than rejected, as browsers do.
std::string percent_decode(std::string_view text, bool plus_as_space = false);
// Encodes everything except RFC 3986 unreserved characters: safe in a path segment or query value.
std::string percent_encode(std::string_view text);
// "a=1&b=x+y" → {a: "1", b: "x y"}; the last value of a repeated key wins.
std::map<std::string, std::string> parse_query(std::string_view query_string);

// Reason phrase for a status code ("Not Found"); "Unknown" for codes we don't name.
std::string_view reason_phrase(int status);

}  // namespace dm::http
