#include "console.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "dm/core/log.hpp"

namespace dm::gateway {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Scripts and styles from this origin only (the bundle has no inline script). Inline styles stay
// allowed: React Flow and CodeMirror set element styles and inject their own style sheets.
constexpr const char* kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";
// A bundle is a few MB; this only guards against pointing CONSOLE_DIR at the wrong folder.
constexpr std::uintmax_t kMaxBundleBytes = 64u << 20;

constexpr const char* kNotBuilt = R"html(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Device Manager console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The console is not built</h1>
<p>Run <code>tools/setup.sh</code> (or <code>tools/start</code>): it installs the console's npm packages and
builds <code>web/</code> into <code>web/dist</code>. The gateway picks the build up without a restart;
<code>CONSOLE_DIR</code> says where it looks.</p>
<p>The REST API is at <a href="/api/v1/openapi.json">/api/v1</a>, documented at <a href="/docs">/docs</a>.</p>
</body>
</html>
)html";

struct Asset {
  std::string body;
  std::string gzip;  // empty: no compressed copy
  std::string content_type;
};

struct Bundle {
  std::string index;
  std::string etag;
  fs::file_time_type index_time;
  std::map<std::string, Asset, std::less<>> assets;
};

const char* content_type_of(const std::string& ext) {
  static const std::map<std::string, const char*> kTypes = {
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".woff2", "font/woff2"},
      {".json", "application/json"},
  };
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? nullptr : it->second;
}

// Names the build writes: letters, digits, '.', '_' and '-', not starting with a dot.
bool plain_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string etag_of(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: a change detector, not a secret
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  std::ostringstream out;
  out << '"' << std::hex << h << '"';
  return out.str();
}

std::shared_ptr<const Bundle> load(const fs::path& dir) {
  std::error_code ec;
  auto bundle = std::make_shared<Bundle>();
  bundle->index_time = fs::last_write_time(dir / "index.html", ec);
  auto index = read_file(dir / "index.html");
  if (ec || !index) return nullptr;
  bundle->index = std::move(*index);
  bundle->etag = etag_of(bundle->index);
  std::uintmax_t total = bundle->index.size();
  for (const auto& entry : fs::directory_iterator(dir / "assets", ec)) {
    const auto name = entry.path().filename().string();
    const char* type = content_type_of(entry.path().extension().string());
    if (!entry.is_regular_file(ec) || !plain_name(name) || !type) continue;
    total += entry.file_size(ec);
    if (total > kMaxBundleBytes) {
      log::warn("console bundle too large; files left out", {{"dir", dir.string()}});
      break;
    }
    auto body = read_file(entry.path());
    if (!body) continue;
    auto gzip = read_file(entry.path().string() + ".gz");
    bundle->assets[name] = Asset{std::move(*body), gzip.value_or(""), type};
  }
  return bundle;
}

// Accept-Encoding names gzip without q=0.
bool accepts_gzip(const http::Request& req) {
  auto header = req.header("Accept-Encoding");
  if (!header) return false;
  std::stringstream ss(*header);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::string token = item.substr(0, item.find(';'));
    token.erase(std::remove_if(token.begin(), token.end(), [](unsigned char c) { return std::isspace(c); }),
                token.end());
    if (!http::iequals(token, "gzip")) continue;
    // "gzip;q=0" (or 0.0, 0.000) refuses it; any other weight accepts it.
    auto q = item.find("q=");
    if (q == std::string::npos) return true;
    auto weight = item.substr(q + 2);
    return weight.find_first_not_of("0. ") != std::string::npos;
  }
  return false;
}

// The current bundle, read again when index.html changed on disk (looked at once a second).
class Console {
 public:
  explicit Console(std::string dir) : dir_(std::move(dir)) {
    bundle_ = load(dir_);
    checked_ = Clock::now();
    if (!bundle_) log::warn("console bundle not found: / explains how to build it", {{"dir", dir_}});
  }

  std::shared_ptr<const Bundle> current() {
    std::lock_guard lock(mu_);
    if (Clock::now() - checked_ < std::chrono::seconds(1)) return bundle_;
    checked_ = Clock::now();
    std::error_code ec;
    auto time = fs::last_write_time(fs::path(dir_) / "index.html", ec);
    if (!ec && (!bundle_ || time != bundle_->index_time)) {
      if (auto fresh = load(dir_)) {
        bundle_ = std::move(fresh);
        log::info("console bundle loaded",
                  {{"dir", dir_}, {"assets", static_cast<std::int64_t>(bundle_->assets.size())}});
      }
    }
    return bundle_;
  }

 private:
  std::string dir_;
  std::mutex mu_;
  std::shared_ptr<const Bundle> bundle_;
  Clock::time_point checked_;
};

void set_common_headers(http::Response& res) {
  res.headers.set("X-Content-Type-Options", "nosniff");
  res.headers.set("Referrer-Policy", "no-referrer");
}

http::Response serve_index(const Bundle* bundle, const http::Request& req) {
  if (!bundle) {
    auto res = http::Response::text(503, kNotBuilt, "text/html; charset=utf-8");
    res.headers.set("Cache-Control", "no-store");
    return res;
  }
  http::Response res = req.header("If-None-Match") == bundle->etag
                           ? http::Response::empty(304)
                           : http::Response::text(200, bundle->index, "text/html; charset=utf-8");
  res.headers.set("Cache-Control", "no-cache");
  res.headers.set("ETag", bundle->etag);
  res.headers.set("Content-Security-Policy", kPolicy);
  res.headers.set("X-Frame-Options", "DENY");
  set_common_headers(res);
  return res;
}

http::Response serve_asset(const Bundle* bundle, const http::Request& req) {
  const Asset* asset = nullptr;
  if (bundle) {
    auto it = bundle->assets.find(req.params.at("file"));
    if (it != bundle->assets.end()) asset = &it->second;
  }
  if (!asset) return http::Response::error(404, "Not Found");
  const bool gzip = !asset->gzip.empty() && accepts_gzip(req);
  auto res = http::Response::text(200, gzip ? asset->gzip : asset->body, asset->content_type);
  if (gzip) res.headers.set("Content-Encoding", "gzip");
  res.headers.set("Vary", "Accept-Encoding");
  // The name carries a hash of the content: a new build has new names.
  res.headers.set("Cache-Control", "public, max-age=31536000, immutable");
  set_common_headers(res);
  return res;
}

}  // namespace

void add_console_routes(http::Router& router, const std::string& dist_dir) {
  auto console = std::make_shared<Console>(dist_dir);
  router.add_sync("GET", "/", [console](const http::Request& req) {
    auto bundle = console->current();
    return serve_index(bundle.get(), req);
  });
  router.add_sync("GET", "/assets/{file}", [console](const http::Request& req) {
    auto bundle = console->current();
    return serve_asset(bundle.get(), req);
  });
}

}  // namespace dm::gateway
