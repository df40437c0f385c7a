#pragma once
// What a fuzz target asserts about the code under test beyond "does not crash": a broken
// invariant aborts with a message, which libFuzzer records as a crash with its input and the
// replay test (fuzz_replay_<name>) reports as a failure.
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                     \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)
