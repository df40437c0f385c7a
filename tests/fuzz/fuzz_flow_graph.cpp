// The registry's flow graph rules on arbitrary bodies, read as the REST API reads them
// (api::parse_body's limits). Beyond not crashing: every problem is located under "body";
// an accepted graph keeps the limits and its own rules (unique node ids, edges between its
// nodes, lowercase UUIDs), and its normalised form (what the orchestrator gets) is clean JSON.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "dm/json/json.hpp"
#include "flow_graph.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace dm;

bool lowercase_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : std::string_view("0123456789abcdef").find(s[i]) == std::string_view::npos) return false;
  }
  return true;
}

void check_accepted(const registry::FlowGraph& g) {
  FUZZ_CHECK(g.nodes.size() <= registry::kMaxNodes && g.edges.size() <= registry::kMaxEdges);
  std::set<std::string> ids;
  for (const auto& n : g.nodes) {
    FUZZ_CHECK(!n.id.empty() && ids.insert(n.id).second);
    FUZZ_CHECK(registry::is_node_type(n.type) && lowercase_uuid(n.entity_id));
  }
  for (const auto& e : g.edges)
    FUZZ_CHECK(ids.count(e.source) == 1 && ids.count(e.target) == 1 && e.source != e.target);
  json::Writer w;
  w.start_object();
  registry::write_normalised(w, g);
  w.end_object();
  std::string out = w.take();
  FUZZ_CHECK(
      json::parse(out, {.max_bytes = out.size(), .max_depth = 128, .refuse_duplicate_keys = true, .refuse_nul = true})
          .ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = json::parse(text, {.max_depth = 64, .refuse_duplicate_keys = true, .refuse_nul = true});
  if (!doc || !doc->IsObject()) return 0;
  static const json::Value kEmptyList(rapidjson::kArrayType);
  const json::Value* nodes = json::find(*doc, "nodes");
  const json::Value* edges = json::find(*doc, "edges");
  auto checked = registry::check_graph(nodes ? *nodes : kEmptyList, edges ? *edges : kEmptyList);
  for (const auto& e : checked.errors) FUZZ_CHECK(!e.loc.empty() && e.loc[0] == "body" && !e.msg.empty());
  if (checked.errors.empty()) check_accepted(checked.graph);
  return 0;
}
