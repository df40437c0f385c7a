#pragma once
// Identifiers for rows the services create in bulk (history entries).
#include <string>

#include "dm/core/time.hpp"

namespace dm {

// A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits, so ids made
// later sort after ids made earlier (within a millisecond, in any order). History tables use
// it as primary key: new keys land on the rightmost B-tree page instead of a random one, which
// keeps the index's working set small and PostgreSQL from writing a full page image to WAL
// for almost every insert after a checkpoint. The random bits come from a per-thread generator
// seeded from the operating system; they make ids unique, not secret.
std::string uuid_v7(SysTime at = now());

}  // namespace dm
