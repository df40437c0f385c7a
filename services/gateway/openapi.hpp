#pragma once
// The OpenAPI 3 document, built from the route table (so it lists exactly what the
// gateway routes) and the resource schemas in openapi/components.json.
#include <string>

namespace dm::gateway {

// Serialised once at start-up; `server_url` is written into "servers".
std::string build_openapi(const std::string& server_url);

}  // namespace dm::gateway
