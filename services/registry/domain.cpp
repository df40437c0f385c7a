#include "domain.hpp"

#include <cctype>

namespace dm::registry {
namespace {

struct KindNames {
  std::string_view plural, title, a_title;
};
// In the order of Kind.
constexpr std::array<KindNames, 6> kKindNames = {
    {{.plural = "devices", .title = "Device", .a_title = "A device"},
     {.plural = "labels", .title = "Label", .a_title = "A label"},
     {.plural = "functions", .title = "Function", .a_title = "A function"},
     {.plural = "integrations", .title = "Integration", .a_title = "An integration"},
     {.plural = "storages", .title = "Storage", .a_title = "A storage"},
     {.plural = "flows", .title = "Flow", .a_title = "A flow"}}};

const KindNames& names_of(Kind kind) { return kKindNames[static_cast<std::size_t>(kind)]; }

}  // namespace

std::string_view plural(Kind kind) { return names_of(kind).plural; }
std::string_view title(Kind kind) { return names_of(kind).title; }
std::string_view a_title(Kind kind) { return names_of(kind).a_title; }

bool is_node_kind(Kind kind) { return kind != Kind::flow; }
bool is_trigger_kind(Kind kind) { return kind == Kind::device || kind == Kind::label; }

std::optional<std::string> eui_digits(std::string_view text, std::string_view separators) {
  std::string out;
  for (char c : text) {
    if (separators.find(c) != std::string_view::npos) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace dm::registry
