#include "routes.hpp"

namespace dm::gateway {

std::vector<RouteSpec> function_routes() {
  using A = Access;
  return {
      // Functions: definitions in the registry; runs and their history in the function-runner.
      {"GET",
       "/api/v1/functions",
       "registry",
       "functions",
       "List functions",
       A::viewer,
       nullptr,
       "Function[]",
       200,
       {kSkip, kLimit, kSort, kSearch, {"status", "string", "inactive, success or error (from the last run)"}}},
      {"POST", "/api/v1/functions", "registry", "functions", "Create a function (code at most 256 KiB)", A::editor,
       "FunctionCreate", "Function", 201},
      {"GET",
       "/api/v1/functions/history",
       "flow-orchestrator",
       "functions",
       "Run history of all functions",
       A::viewer,
       nullptr,
       "FunctionRun[]",
       200,
       {kSkip, kLimit, kStatus, kFrom, kTo}},
      {"GET", "/api/v1/functions/{id}", "registry", "functions", "Get a function", A::viewer, nullptr, "Function"},
      {"PUT", "/api/v1/functions/{id}", "registry", "functions",
       "Update a function (partial bodies accepted; version grows when the code changes)", A::editor, "FunctionUpdate",
       "Function"},
      {"PATCH", "/api/v1/functions/{id}", "registry", "functions", "Update some fields of a function", A::editor,
       "FunctionUpdate", "Function"},
      {"DELETE", "/api/v1/functions/{id}", "registry", "functions",
       "Delete a function (409 if an enabled flow uses it)", A::editor, nullptr, nullptr, 204},
      {"GET",
       "/api/v1/functions/{id}/history",
       "flow-orchestrator",
       "functions",
       "Run history of one function",
       A::viewer,
       nullptr,
       "FunctionRun[]",
       200,
       {kSkip, kLimit, kStatus, kFrom, kTo}},
      {"POST", "/api/v1/functions/test", "function-runner", "functions",
       "Run code (inline) on a sample input; touches no history or flow", A::editor, "FunctionTest",
       "FunctionTestResult"},
      {"POST", "/api/v1/functions/{id}/test", "function-runner", "functions",
       "Run a saved function on a sample input; touches no history or flow", A::editor, "FunctionTest",
       "FunctionTestResult"},
  };
}

}  // namespace dm::gateway
