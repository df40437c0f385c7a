#include "routes.hpp"

namespace dm::gateway {

std::vector<RouteSpec> flow_routes() {
  using A = Access;
  return {
      // Flows: definitions in the registry; runs, history and simulation in the orchestrator.
      {"GET",
       "/api/v1/flows",
       "registry",
       "flows",
       "List flows",
       A::viewer,
       nullptr,
       "Flow[]",
       200,
       {kSkip, kLimit, kSort, kSearch, {"enabled", "boolean", "Only enabled (true) or disabled (false) flows"}}},
      {"POST", "/api/v1/flows", "registry", "flows",
       "Create a flow (the graph is validated; 422 names the bad node or edge)", A::editor, "FlowCreate", "Flow", 201},
      {"GET",
       "/api/v1/flows/history",
       "flow-orchestrator",
       "flows",
       "Run history of all flows",
       A::viewer,
       nullptr,
       "FlowRun[]",
       200,
       {kSkip, kLimit, kStatus, kFrom, kTo}},
      {"GET", "/api/v1/flows/{id}", "registry", "flows", "Get a flow", A::viewer, nullptr, "Flow"},
      {"PUT", "/api/v1/flows/{id}", "registry", "flows", "Update a flow (partial bodies accepted)", A::editor,
       "FlowUpdate", "Flow"},
      {"PATCH", "/api/v1/flows/{id}", "registry", "flows", "Update some fields of a flow", A::editor, "FlowUpdate",
       "Flow"},
      {"DELETE", "/api/v1/flows/{id}", "registry", "flows", "Delete a flow", A::editor, nullptr, nullptr, 204},
      {"GET",
       "/api/v1/flows/{id}/history",
       "flow-orchestrator",
       "flows",
       "Run history of one flow",
       A::viewer,
       nullptr,
       "FlowRun[]",
       200,
       {kSkip, kLimit, kStatus, kFrom, kTo}},
      {"GET", "/api/v1/flows/{id}/history/{history_id}", "flow-orchestrator", "flows",
       "One run of a flow, with the path it took", A::viewer, nullptr, "FlowRun"},
      {"POST", "/api/v1/flows/{id}/simulate", "flow-orchestrator", "flows",
       "Run a sample uplink through a flow, enabled or not: functions run (no history), integrations and storages "
       "are not called (shown as skipped with the message they would get); nothing is recorded",
       A::editor, "FlowSimulation", "FlowSimulationResult"},
      // Search across every kind of definition.
      {"GET",
       "/api/v1/search",
       "registry",
       "search",
       "Search devices, labels, functions, flows, integrations and storages",
       A::viewer,
       nullptr,
       "SearchResults",
       200,
       {{"query", "string", "Text to look for (required, 1 to 200 characters)"},
        {"limit", "integer", "Results per kind (default 10, at most 50)"},
        {"resource_types", "string",
         "Comma-separated kinds to search (devices, labels, functions, flows, integrations, storages); default all"}}},
  };
}

}  // namespace dm::gateway
