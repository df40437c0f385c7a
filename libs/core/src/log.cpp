#include "dm/core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <mutex>

#include "dm/core/strings.hpp"
#include "dm/core/time.hpp"

namespace dm::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::string g_service = "dm";
std::mutex g_mutex;

void stderr_sink(std::string_view line) {
  // One write per line keeps lines whole when several threads log at once.
  (void)!::write(2, line.data(), line.size());
}
void (*g_sink)(std::string_view) = stderr_sink;

const char* level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

}  // namespace

void init(std::string service, Level level) {
  std::lock_guard lock(g_mutex);
  g_service = std::move(service);
  g_level = static_cast<int>(level);
}

Level parse_level(std::string_view text) {
  std::string s = lower(text);
  if (s == "debug" || s == "trace") return Level::debug;
  if (s == "warn" || s == "warning") return Level::warn;
  if (s == "error" || s == "critical") return Level::error;
  return Level::info;
}

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void set_sink(void (*sink)(std::string_view)) { g_sink = sink ? sink : stderr_sink; }

void append_escaped(std::string& out, std::string_view text) {
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(128 + msg.size());
  line += "{\"ts\":\"";
  line += format_rfc3339(now());
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"service\":\"";
  {
    std::lock_guard lock(g_mutex);
    append_escaped(line, g_service);
  }
  line += "\",\"msg\":\"";
  append_escaped(line, msg);
  line += '"';
  for (const auto& f : fields) {
    line += ",\"";
    append_escaped(line, f.key);
    line += "\":";
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::string_view>) {
            line += '"';
            append_escaped(line, v);
            line += '"';
          } else if constexpr (std::is_same_v<V, bool>) {
            line += v ? "true" : "false";
          } else {
            char buf[32];
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
            line.append(buf, ec == std::errc() ? end : buf);
          }
        },
        f.value);
  }
  line += "}\n";
  g_sink(line);
}

}  // namespace dm::log
