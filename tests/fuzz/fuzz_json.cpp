// json::parse on arbitrary bytes, with the defaults our own messages use, with the limits for
// text from outside (webhooks, REST bodies), and leaving a member out. Beyond not crashing:
// what parses serialises to text that parses again to the same text; the strict limits accept
// nothing the defaults refuse, and what they accept holds no NUL, no key twice and only UTF-8.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dm/json/json.hpp"
#include "fuzz_check.hpp"

namespace {

using dm::json::Limits;

// The document's own serialisation, parsed again with `limits`, gives the same text.
void round_trips(const dm::json::Document& doc, Limits limits) {
  std::string out = dm::json::to_string(doc);
  limits.max_bytes = out.size();
  auto again = dm::json::parse(out, limits);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(dm::json::to_string(*again) == out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static constexpr std::string_view kSkip[] = {"raw"};
  const Limits strict{.max_depth = 32, .refuse_duplicate_keys = true, .refuse_nul = true};

  auto loose = dm::json::parse(text);
  auto checked = dm::json::parse(text, strict);
  auto skipping = dm::json::parse(text, {.skip_members = kSkip, .refuse_nul = true});
  for (const auto* r : {&loose, &checked, &skipping})
    if (!r->ok()) FUZZ_CHECK(!r->error().message.empty() && r->error().code == dm::Errc::invalid_argument);

  if (loose) round_trips(*loose, {.max_depth = 64});
  if (checked) {
    FUZZ_CHECK(loose.ok());
    round_trips(*checked, strict);  // the strict limits hold for what they let through
  }
  if (skipping) {
    FUZZ_CHECK(loose.ok());
    FUZZ_CHECK(!skipping->IsObject() || dm::json::find(*skipping, "raw") == nullptr);
  }
  return 0;
}
