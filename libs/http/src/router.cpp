#include "dm/http/router.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <set>

#include "dm/core/log.hpp"

namespace dm::http {

namespace {

// Ranked so that a smaller kind is more specific: literal beats {param} beats {rest:path}.
enum class Kind { literal = 0, param = 1, rest = 2 };

struct Segment {
  Kind kind;
  std::string text;  // the literal, or the parameter's name
};

struct Entry {
  std::string method;
  std::string pattern;
  std::vector<Segment> segments;
  Handler handler;
};

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// "/a/b/" and "/a/b" are the same path; "/" stays "/".
std::string_view strip_trailing_slash(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  path = strip_trailing_slash(path);
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::vector<Segment> compile(std::string_view pattern) {
  std::vector<Segment> out;
  for (auto part : split_path(pattern)) {
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      std::string_view inner = part.substr(1, part.size() - 2);
      auto colon = inner.find(':');
      std::string_view name = inner.substr(0, colon);
      std::string_view convertor = colon == std::string_view::npos ? std::string_view() : inner.substr(colon + 1);
      // Other Starlette convertors (int, uuid) would only narrow the match; handlers validate.
      out.push_back({convertor == "path" ? Kind::rest : Kind::param, std::string(name)});
    } else {
      out.push_back({Kind::literal, std::string(part)});
    }
  }
  return out;
}

bool match(const Entry& e, const std::vector<std::string>& segs, std::map<std::string, std::string>& params) {
  params.clear();
  for (std::size_t i = 0; i < e.segments.size(); ++i) {
    const Segment& s = e.segments[i];
    if (s.kind == Kind::rest) {
      std::string rest;
      for (std::size_t j = i; j < segs.size(); ++j) {
        if (j > i) rest.push_back('/');
        rest += segs[j];
      }
      params[s.text] = std::move(rest);
      return true;
    }
    if (i >= segs.size()) return false;
    if (s.kind == Kind::literal) {
      if (s.text != segs[i]) return false;
    } else {
      if (segs[i].empty()) return false;  // a parameter is never empty (as Starlette's [^/]+)
      params[s.text] = segs[i];
    }
  }
  return e.segments.size() == segs.size();
}

// True when a is more specific than b: the first position where their kinds differ decides.
bool more_specific(const Entry& a, const Entry& b) {
  std::size_t n = std::min(a.segments.size(), b.segments.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a.segments[i].kind != b.segments[i].kind) return a.segments[i].kind < b.segments[i].kind;
  }
  return a.segments.size() > b.segments.size();
}

// Segments of the raw path are decoded one by one so an encoded '/' stays inside its segment.
std::vector<std::string> path_segments(const Request& request) {
  std::string_view raw = request.target;
  bool encoded = !raw.empty() && raw.front() == '/';
  // A hand-built request or an absolute-form target: use the path, decoded already.
  raw = encoded ? raw.substr(0, raw.find_first_of("?#")) : std::string_view(request.path);
  std::vector<std::string> segs;
  for (auto s : split_path(raw)) segs.push_back(encoded ? percent_decode(s) : std::string(s));
  return segs;
}

// The most specific route for the method (HEAD falls back to GET), and every method the
// path has a route for (for 405's Allow).
struct Match {
  const Entry* entry = nullptr;
  std::map<std::string, std::string> params;
  std::set<std::string> allowed;
};

Match find_route(const std::vector<Entry>& entries, const std::string& method, const std::vector<std::string>& segs) {
  Match best, best_get;
  std::map<std::string, std::string> params;
  for (const auto& e : entries) {
    if (!match(e, segs, params)) continue;
    best.allowed.insert(e.method);
    if (e.method == method) {
      if (!best.entry || more_specific(e, *best.entry)) {
        best.entry = &e;
        best.params = params;
      }
    } else if (method == "HEAD" && e.method == "GET") {
      if (!best_get.entry || more_specific(e, *best_get.entry)) {
        best_get.entry = &e;
        best_get.params = params;
      }
    }
  }
  if (!best.entry && best_get.entry) {
    best.entry = best_get.entry;
    best.params = std::move(best_get.params);
  }
  return best;
}

// The route's handler with its parameters set on the request; 404 or 405 without one.
Handler terminal_for(Match& found, Request& request) {
  if (found.entry) {
    request.params = std::move(found.params);
    request.route = found.entry->pattern;
    return [best = found.entry](const Request& r, Reply rep) { best->handler(r, std::move(rep)); };
  }
  request.params.clear();
  request.route.clear();
  if (found.allowed.empty()) return [](const Request&, Reply rep) { rep(Response::error(404, "Not Found")); };
  auto& allowed = found.allowed;
  if (allowed.count("GET")) allowed.insert("HEAD");
  std::string allow;
  for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  return [allow](const Request&, Reply rep) {
    Response r = Response::error(405, "Method Not Allowed");
    r.headers.set("Allow", allow);
    rep(std::move(r));
  };
}

}  // namespace

struct Router::Impl {
  std::vector<Entry> entries;
  std::vector<Middleware> middleware;
};

Router::Router() : impl_(std::make_unique<Impl>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::add(std::string method, std::string pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') pattern.insert(pattern.begin(), '/');
  auto segments = compile(pattern);
  impl_->entries.push_back({upper(std::move(method)), std::move(pattern), std::move(segments), std::move(handler)});
}

void Router::add_sync(std::string method, std::string pattern, SyncHandler handler) {
  add(std::move(method), std::move(pattern),
      [h = std::move(handler)](const Request& request, Reply reply) { reply(h(request)); });
}

std::vector<Route> Router::routes() const {
  std::vector<Route> out;
  out.reserve(impl_->entries.size());
  for (const auto& e : impl_->entries) out.push_back({e.method, e.pattern});
  return out;
}

void Router::use(Middleware m) { impl_->middleware.push_back(std::move(m)); }

void Router::dispatch(Request& request, Reply reply) const {
  // Exactly once even if a handler replies and then throws, or middleware misbehaves.
  auto done = std::make_shared<std::atomic<bool>>(false);
  Reply once = [done, reply = std::move(reply)](Response r) {
    if (!done->exchange(true)) reply(std::move(r));
  };

  Match found = find_route(impl_->entries, request.method, path_segments(request));
  Handler chain = terminal_for(found, request);
  for (auto it = impl_->middleware.rbegin(); it != impl_->middleware.rend(); ++it) {
    chain = [m = &*it, next = std::move(chain)](const Request& r, Reply rep) { (*m)(r, std::move(rep), next); };
  }

  try {
    chain(request, once);
  } catch (const std::exception& e) {
    log::error("http handler threw", {{"method", request.method}, {"path", request.path}, {"error", e.what()}});
    once(Response::error(500, "Internal Server Error"));
  } catch (...) {
    log::error("http handler threw", {{"method", request.method}, {"path", request.path}});
    once(Response::error(500, "Internal Server Error"));
  }
}

}  // namespace dm::http
