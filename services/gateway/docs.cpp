#include "docs.hpp"

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "dm/core/log.hpp"

namespace dm::gateway {
namespace {

constexpr const char* kPage = R"html(<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Device Manager API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
)html";

// Kept out of the page so a Content-Security-Policy without 'unsafe-inline' works.
constexpr const char* kInit = R"js(window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true
});
)js";

struct Asset {
  std::string body;
  std::string content_type;
};

}  // namespace

void add_docs_routes(http::Router& router, const std::string& assets_dir, std::string openapi_json) {
  auto assets = std::make_shared<std::map<std::string, Asset>>();
  for (const auto& [name, type] :
       std::map<std::string, std::string>{{"swagger-ui.css", "text/css; charset=utf-8"},
                                          {"swagger-ui-bundle.js", "application/javascript; charset=utf-8"},
                                          {"favicon-32x32.png", "image/png"}}) {
    std::ifstream f(assets_dir + "/" + name, std::ios::binary);
    if (!f) continue;
    std::stringstream ss;
    ss << f.rdbuf();
    (*assets)[name] = {ss.str(), type};
  }
  (*assets)["init.js"] = {kInit, "application/javascript; charset=utf-8"};
  bool complete = assets->count("swagger-ui-bundle.js") && assets->count("swagger-ui.css");
  if (!complete) log::warn("Swagger UI assets not found; /docs is unavailable", {{"dir", assets_dir}});

  auto doc = std::make_shared<const std::string>(std::move(openapi_json));
  auto serve_doc = [doc](const http::Request&) { return http::Response::json(200, *doc); };
  router.add_sync("GET", "/api/v1/openapi.json", serve_doc);
  router.add_sync("GET", "/openapi.json", serve_doc);
  router.add_sync("GET", "/docs", [complete](const http::Request&) {
    if (!complete) return http::Response::error(503, "API documentation assets are not installed: run tools/setup.sh");
    return http::Response::text(200, kPage, "text/html; charset=utf-8");
  });
  router.add_sync("GET", "/docs/assets/{file}", [assets](const http::Request& req) {
    auto it = assets->find(req.params.at("file"));
    if (it == assets->end()) return http::Response::error(404, "Not Found");
    auto res = http::Response::text(200, it->second.body, it->second.content_type);
    res.headers.set("Cache-Control", "public, max-age=86400");
    return res;
  });
}

}  // namespace dm::gateway
