// The sealing of stored secrets, without a stack: crypto, masking, and config handling.
#include "../secrets.cpp"  // NOLINT: a unit test of one translation unit, linked without the service

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

TEST_CASE("secrets: which headers are credentials") {
  using dm::registry::is_secret_header;
  for (const char* name :
       {"Authorization", "authorization", "Proxy-Authorization", "X-API-Key", "x-auth-token", "Cookie",
        "X-Client-Secret", "X-Access-Token", "X-Password", "Ocp-Apim-Subscription-Key", "APIKEY"}) {
    INFO(name);
    REQUIRE(is_secret_header(name));
  }
  for (const char* name : {"Content-Type", "Accept", "X-Request-Id", "User-Agent", "X-Tenant"}) {
    INFO(name);
    REQUIRE_FALSE(is_secret_header(name));
  }
}

TEST_CASE("secrets: URL passwords are found, replaced and masked") {
  using namespace dm::registry;
  REQUIRE(url_password("postgresql://user:pw@host:5432/db").value() == "pw");
  REQUIRE(url_password("postgresql://user:p%40ss@host/db?sslmode=require").value() == "p%40ss");
  REQUIRE(url_password("postgresql://user:a@b@host/db").value() == "a@b");
  REQUIRE_FALSE(url_password("postgresql://user@host/db").has_value());
  REQUIRE_FALSE(url_password("postgresql://host/db").has_value());
  REQUIRE_FALSE(url_password("postgresql://host/db?x=a:b@c").has_value());
  REQUIRE(mask_url_password("postgresql://user:pw@host/db") == "postgresql://user:********@host/db");
  REQUIRE(mask_url_password("postgresql://user@host/db") == "postgresql://user@host/db");
  REQUIRE(mask_url_password("postgresql://user:@host/db") == "postgresql://user:@host/db");
  REQUIRE(replace_url_password("postgresql://u:********@h/db", "pw") == "postgresql://u:pw@h/db");
}

TEST_CASE("secrets: configs are sealed for storage and masked for answers") {
  using namespace dm::registry;
  SecretBox box(kKey);
  auto plain = parse(R"({"host":"h","password":"hunter2","client_key":null,"headers":{"Authorization":"Bearer t"},)"
                     R"("empty":""})");
  std::vector<SecretField> secrets = {
      {{"password"}}, {{"client_key"}}, {{"headers", "Authorization"}}, {{"empty"}}, {{"absent"}}};
  std::vector<SecretProblem> problems;
  auto sealed = seal_config(plain, secrets, nullptr, box, problems);
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
    auto resealed = seal_config(again, secrets, &stored, box, problems);
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
    auto r = seal_config(masked, secrets, nullptr, box, problems);
    REQUIRE(r.ok());
    REQUIRE(problems.size() == 1);
    REQUIRE(problems[0].path == JsonPath{"password"});
  }
}

TEST_CASE("secrets: a URL is sealed whole and shown with its password masked") {
  using namespace dm::registry;
  SecretBox box(kKey);
  std::vector<SecretField> secrets = {{{"connection_url"}, true}};
  std::vector<SecretProblem> problems;
  auto plain = parse(R"({"connection_url":"postgresql://app:pa55@db.example:5432/metrics","table":"t"})");
  auto sealed = seal_config(plain, secrets, nullptr, box, problems);
  REQUIRE(sealed.ok());
  REQUIRE(sealed->stored.find("pa55") == std::string::npos);
  REQUIRE(sealed->stored.find("db.example") == std::string::npos);
  REQUIRE(sealed->shown.find("postgresql://app:********@db.example:5432/metrics") != std::string::npos);

  auto stored = parse(sealed->stored);
  auto moved = parse(R"({"connection_url":"postgresql://app:********@db2.example/metrics","table":"t"})");
  auto resealed = seal_config(moved, secrets, &stored, box, problems);
  REQUIRE(resealed.ok());
  REQUIRE(problems.empty());
  auto opened = parse(open_config(parse(resealed->stored), secrets, box).value());
  REQUIRE(std::string(opened["connection_url"].GetString()) == "postgresql://app:pa55@db2.example/metrics");

  auto no_previous = seal_config(moved, secrets, nullptr, box, problems);
  REQUIRE(no_previous.ok());
  REQUIRE(problems.size() == 1);
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
