#pragma once
// /docs: Swagger UI (assets from the npm package swagger-ui-dist, installed by
// tools/setup.sh) showing the OpenAPI document; /api/v1/openapi.json: the document.
#include <string>

#include "dm/http/router.hpp"

namespace dm::gateway {

// Loads the assets from `assets_dir` once; /docs answers 503 naming the fix when they are missing.
void add_docs_routes(http::Router& router, const std::string& assets_dir, std::string openapi_json);

}  // namespace dm::gateway
