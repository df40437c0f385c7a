#pragma once
// Rendered answers of read routes (one document, or one page of a list with its total),
// kept in memory until anything in the registry changes. A rendered document costs a
// database round trip plus JSON rendering; a cached one costs a map lookup. Any committed
// write clears the cache of every replica (through `dm.registry.invalidate`), so answers
// are never older than one NATS hop after a write.
#include <cstdint>
#include <string>

#include "dm/core/read_cache.hpp"

namespace dm::registry {

struct CachedAnswer {
  std::string body;
  std::int64_t total = -1;  // X-Total-Count for lists, -1 for single documents
};

using DocCache = ReadCache<CachedAnswer>;

}  // namespace dm::registry
