#pragma once
// The gateway's table of public routes: which service owns each one, the role it needs,
// and what the OpenAPI document says about it. The router and the OpenAPI document are
// both built from this one table, so they cannot drift apart.
#include <string>
#include <vector>

namespace dm::gateway {

enum class Access { public_, viewer, editor, admin };

struct QueryParam {
  const char* name;
  const char* type;  // "string" | "integer" | "boolean"
  const char* description;
};

struct RouteSpec {
  const char* method;
  const char* path;     // "/api/v1/devices/{id}"
  const char* service;  // owner: "registry", "ingest", ... or "gateway" for local routes
  const char* tag;      // OpenAPI grouping
  const char* summary;
  Access access;
  const char* request_schema = nullptr;   // components/schemas name of the JSON body
  const char* response_schema = nullptr;  // schema of the success body ("X[]" for a list)
  int success_status = 200;
  std::vector<QueryParam> query = {};
  const char* response_content_type = nullptr;  // of the success body; nullptr: application/json
};

// Common query parameters of list endpoints.
inline const QueryParam kSkip{"skip", "integer", "Items to skip (default 0)"};
inline const QueryParam kLimit{"limit", "integer", "Items to return (default 100, at most 1000)"};
inline const QueryParam kSort{"sort", "string", "Field to sort by; prefix with - for descending"};
inline const QueryParam kSearch{"search", "string", "Text to look for in names and descriptions"};
inline const QueryParam kEventType{"event_type", "string",
                                   "Only events of this type (up, join, status, ack, txack, log, location)"};
inline const QueryParam kStatus{"status", "string", "Only items with this status"};
inline const QueryParam kFrom{"from", "string", "Only items at or after this RFC 3339 time"};
inline const QueryParam kTo{"to", "string", "Only items before this RFC 3339 time"};

const std::vector<RouteSpec>& route_table();

// The table in parts, one per resource family (routes_<family>.cpp).
std::vector<RouteSpec> device_routes();
std::vector<RouteSpec> function_routes();     // functions
std::vector<RouteSpec> integration_routes();  // integrations and storages
std::vector<RouteSpec> flow_routes();         // flows and search
std::vector<RouteSpec> auth_routes();         // accounts, API keys, users (served by the gateway)
std::vector<RouteSpec> dead_letter_routes();  // /api/v1/dead-letters/<kind> of each service that keeps them
std::vector<RouteSpec> event_routes();        // the console's live events (served by the gateway)
const char* access_name(Access a);

}  // namespace dm::gateway
