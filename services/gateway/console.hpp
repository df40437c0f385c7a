#pragma once
// The operator's console at / : the static bundle web/ builds (tools/setup.sh runs esbuild into
// web/dist), served from the API's origin so the browser needs no CORS and no second server.
//
// - GET /               index.html, Cache-Control: no-cache with an ETag (a new build is seen
//                       on the next load), and a Content-Security-Policy that allows scripts
//                       from this origin only;
// - GET /assets/{file}  the hashed files index.html names, immutable for a year; the build's
//                       gzip copy when the client accepts it.
// The bundle is read into memory, and read again when index.html changes on disk (a rebuild
// needs no restart). Without one, / answers 503 with a page saying how to build it.
#include <string>

#include "dm/http/router.hpp"

namespace dm::gateway {

void add_console_routes(http::Router& router, const std::string& dist_dir);

}  // namespace dm::gateway
