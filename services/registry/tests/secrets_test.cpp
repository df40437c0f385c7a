// The sealing of stored secrets, without a stack: crypto, masking, and config handling.
#include "secrets.hpp"

#include <catch2/catch.hpp>

using dm::registry::kMask;
using dm::registry::SecretBox;
using dm::registry::SecretField;
using dm::registry::SecretProblem;

namespace {
const char* kKey = "test-secret-key-0123456789abcdef0123456789abcdef";

dm::json::Document parse(std::string_view text) {
  auto doc = dm::json::parse(text);
  REQUIRE(doc.ok());
  return std::move(doc).value();
}
}  // namespace

TEST_CASE("secrets: seal and open round trip with a fresh nonce each time") {
  SecretBox box(kKey);
  for (std::string text : {std::string(), std::string("p"), std::string("s3cr3t ünïcode"), std::string(100000, 'x')}) {
    auto a = box.seal(text);
    auto b = box.seal(text);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(SecretBox::is_sealed(*a));
    REQUIRE(*a != *b);
    if (text.size() > 5) REQUIRE(a->find(text) == std::string::npos);
    REQUIRE(box.open(*a).value() == text);
    REQUIRE(box.open(*b).value() == text);
  }
}

TEST_CASE("secrets: the format and key derivation are pinned by an independent implementation") {
  // Made with Python's `cryptography`: HKDF-SHA256(key, salt "dm-registry", info "secrets-v1"),
  // AES-256-GCM, nonce 00..0b. If this fails, secrets stored by earlier builds become unreadable.
  SecretBox box(kKey);
  auto opened = box.open("enc:v1:AAECAwQFBgcICQoLU+MhI/zojwPucLp1LySgl8U1OHm55PeX9vNn+MHBfQ==");
  REQUIRE(opened.ok());
  REQUIRE(*opened == "s3cr3t-password");
}

TEST_CASE("secrets: tampered, foreign or malformed values are errors, never crashes") {
  SecretBox box(kKey);
  SecretBox other("another-secret-key-0123456789abcdef0123456789");
  auto sealed = box.seal("hunter2").value();
  REQUIRE_FALSE(other.open(sealed).ok());
  REQUIRE(other.open(sealed).error().code == dm::Errc::internal);

  std::string flipped = sealed;
  char& c = flipped[flipped.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  REQUIRE_FALSE(box.open(flipped).ok());

  for (const char* bad : {"", "hunter2", "enc:v1:", "enc:v1:abc", "enc:v1:!!!!", "enc:v1:AAAA", "enc:v2:AAAA",
                          "enc:v1:AAECAwQFBgcICQoL"}) {
    INFO(bad);
    REQUIRE_FALSE(box.open(bad).ok());
  }
  REQUIRE_FALSE(box.open(sealed.substr(0, sealed.size() - 4)).ok());

  SecretBox no_key("");
  REQUIRE_FALSE(no_key.seal("x").ok());
  REQUIRE_FALSE(no_key.open(sealed).ok());
}

TEST_CASE("secrets: configs are sealed for storage and masked for answers") {
  using namespace dm::registry;
  SecretBox box(kKey);
  auto plain = parse(R"({"host":"h","password":"hunter2","client_key":null,"headers":{"Authorization":"Bearer t"},)"
                     R"("empty":""})");
  std::vector<SecretField> secrets = {
      {{"password"}}, {{"client_key"}}, {{"headers", "Authorization"}}, {{"empty"}}, {{"absent"}}};
  std::vector<SecretProblem> problems;
  auto sealed = seal_config(plain, secrets, nullptr, false, box, problems);
  REQUIRE(sealed.ok());
  REQUIRE(problems.empty());
  REQUIRE(sealed->stored.find("hunter2") == std::string::npos);
  REQUIRE(sealed->stored.find("Bearer") == std::string::npos);
  auto shown = parse(sealed->shown);
  REQUIRE(std::string(shown["password"].GetString()) == kMask);
  REQUIRE(std::string(shown["headers"]["Authorization"].GetString()) == kMask);
  REQUIRE(shown["client_key"].IsNull());
  REQUIRE(std::string(shown["empty"].GetString()).empty());
  REQUIRE(std::string(shown["host"].GetString()) == "h");

  auto stored = parse(sealed->stored);
  auto opened = open_config(stored, secrets, box);
  REQUIRE(opened.ok());
  auto back = parse(*opened);
  REQUIRE(std::string(back["password"].GetString()) == "hunter2");
  REQUIRE(std::string(back["headers"]["Authorization"].GetString()) == "Bearer t");

  SECTION("the mask keeps the stored ciphertext as it was") {
    auto again = parse(R"({"host":"h2","password":"********","headers":{"Authorization":"Bearer new"}})");
    auto resealed = seal_config(again, secrets, &stored, true, box, problems);
    REQUIRE(resealed.ok());
    REQUIRE(problems.empty());
    auto now = parse(resealed->stored);
    REQUIRE(std::string(now["password"].GetString()) == stored["password"].GetString());
    REQUIRE(std::string(now["headers"]["Authorization"].GetString()) != stored["headers"]["Authorization"].GetString());
    auto reopened = parse(open_config(now, secrets, box).value());
    REQUIRE(std::string(reopened["password"].GetString()) == "hunter2");
    REQUIRE(std::string(reopened["headers"]["Authorization"].GetString()) == "Bearer new");
  }

  SECTION("the mask without a stored secret is the client's mistake") {
    auto masked = parse(R"({"password":"********"})");
    auto r = seal_config(masked, secrets, nullptr, false, box, problems);
    REQUIRE(r.ok());
    REQUIRE(problems.size() == 1);
    REQUIRE(problems[0].path == JsonPath{"password"});
  }

  SECTION("a new destination keeps nothing: every masked secret is named") {
    auto moved = parse(R"({"host":"h2","password":"********","headers":{"Authorization":"********"}})");
    auto r = seal_config(moved, secrets, &stored, false, box, problems);
    REQUIRE(r.ok());
    REQUIRE(problems.size() == 2);
    REQUIRE(problems[0].path == JsonPath{"password"});
    REQUIRE(problems[1].path == JsonPath{"headers", "Authorization"});
    REQUIRE(problems[1].message.find("destination changed") != std::string::npos);
    // Sent in clear, the same secrets are fine for the new destination.
    problems.clear();
    auto clear = parse(R"({"host":"h2","password":"other","headers":{"Authorization":"Bearer other"}})");
    REQUIRE(seal_config(clear, secrets, &stored, false, box, problems).ok());
    REQUIRE(problems.empty());
  }
}

TEST_CASE("secrets: a URL is sealed whole and shown with its password masked") {
  using namespace dm::registry;
  SecretBox box(kKey);
  std::vector<SecretField> secrets = {{{"connection_url"}, true}};
  std::vector<SecretProblem> problems;
  auto plain = parse(R"({"connection_url":"postgresql://app:pa55@db.example:5432/metrics","table":"t"})");
  auto sealed = seal_config(plain, secrets, nullptr, false, box, problems);
  REQUIRE(sealed.ok());
  REQUIRE(sealed->stored.find("pa55") == std::string::npos);
  REQUIRE(sealed->stored.find("db.example") == std::string::npos);
  REQUIRE(sealed->shown.find("postgresql://app:********@db.example:5432/metrics") != std::string::npos);
  auto stored = parse(sealed->stored);

  SECTION("sent back as shown: the very same ciphertext") {
    auto same = parse(sealed->shown);
    auto again = seal_config(same, secrets, &stored, true, box, problems);
    REQUIRE(again.ok());
    REQUIRE(problems.empty());
    REQUIRE(parse(again->stored)["connection_url"] == stored["connection_url"]);
  }

  SECTION("a masked password is restored only for the same destination") {
    auto moved = parse(R"({"connection_url":"postgresql://app:********@db2.example/metrics","table":"t"})");
    auto kept = seal_config(moved, secrets, &stored, true, box, problems);
    REQUIRE(kept.ok());
    REQUIRE(problems.empty());
    auto opened = parse(open_config(parse(kept->stored), secrets, box).value());
    REQUIRE(std::string(opened["connection_url"].GetString()) == "postgresql://app:pa55@db2.example/metrics");

    auto refused = seal_config(moved, secrets, &stored, false, box, problems);
    REQUIRE(refused.ok());
    REQUIRE(problems.size() == 1);
    REQUIRE(problems[0].path == JsonPath{"connection_url"});
  }

  SECTION("no stored URL: the mask is a mistake") {
    auto moved = parse(R"({"connection_url":"postgresql://app:********@db2.example/metrics","table":"t"})");
    REQUIRE(seal_config(moved, secrets, nullptr, false, box, problems).ok());
    REQUIRE(problems.size() == 1);
    REQUIRE(problems[0].message.find("none is stored for the password") != std::string::npos);
  }

  SECTION("a URL without credentials stays readable, at rest too") {
    auto open = parse(R"({"connection_url":"https://example.com/in?x=1","table":"t"})");
    auto r = seal_config(open, secrets, nullptr, false, box, problems);
    REQUIRE(r.ok());
    REQUIRE(r->stored.find("https://example.com/in?x=1") != std::string::npos);
    REQUIRE(r->shown.find("https://example.com/in?x=1") != std::string::npos);
  }
}

TEST_CASE("secrets: rows stored under the old rule are sealed and masked anew, once") {
  using namespace dm::registry;
  SecretBox box(kKey);
  // Stored before every header value was a secret: X-Hub-Signature and the URL's token in clear,
  // Authorization already sealed.
  auto sealed_auth = box.seal("Bearer t").value();
  auto legacy = parse(R"({"url":"https://example.com/in?token=abc","headers":{"Authorization":")" + sealed_auth +
                      R"(","X-Hub-Signature":"sha1=deadbeef","Content-Type":"application/json"}})");
  std::vector<SecretField> secrets = {
      {{"url"}, true}, {{"headers", "Authorization"}}, {{"headers", "X-Hub-Signature"}}};
  auto r = reseal_config(legacy, secrets, box);
  REQUIRE(r.ok());
  REQUIRE(r->stored.find("deadbeef") == std::string::npos);
  REQUIRE(r->stored.find("abc") == std::string::npos);
  REQUIRE(r->stored.find(sealed_auth) != std::string::npos);  // already sealed: kept as it was
  auto shown = parse(r->shown);
  REQUIRE(std::string(shown["url"].GetString()) == "https://example.com/in?token=********");
  REQUIRE(std::string(shown["headers"]["X-Hub-Signature"].GetString()) == kMask);
  REQUIRE(std::string(shown["headers"]["Authorization"].GetString()) == kMask);
  REQUIRE(std::string(shown["headers"]["Content-Type"].GetString()) == "application/json");
  auto opened = parse(open_config(parse(r->stored), secrets, box).value());
  REQUIRE(std::string(opened["headers"]["X-Hub-Signature"].GetString()) == "sha1=deadbeef");
  REQUIRE(std::string(opened["url"].GetString()) == "https://example.com/in?token=abc");
  // Again: nothing left to do, the same documents.
  auto twice = reseal_config(parse(r->stored), secrets, box);
  REQUIRE(twice.ok());
  REQUIRE(twice->stored == r->stored);
  REQUIRE(twice->shown == r->shown);
}

TEST_CASE("secrets: only secret paths are opened") {
  using namespace dm::registry;
  SecretBox box(kKey);
  auto config = parse(R"({"topic":"enc:v1:not-ours","password":null})");
  auto opened = open_config(config, {{{"password"}}}, box);
  REQUIRE(opened.ok());
  REQUIRE(opened->find("enc:v1:not-ours") != std::string::npos);
  auto broken = parse(R"({"password":"enc:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})");
  REQUIRE_FALSE(open_config(broken, {{{"password"}}}, box).ok());
}
