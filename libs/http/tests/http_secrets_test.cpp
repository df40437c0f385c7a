// The shared rule for secrets in destinations (dm/http/secrets.hpp): which headers are harmless,
// which URL parts are credentials, masking, and restoring masked parts from a stored URL.
#include <catch2/catch.hpp>

#include "dm/http/secrets.hpp"

using namespace dm::http;

TEST_CASE("secrets: header values are secrets unless the header is known to be harmless") {
  for (const char* name : {"Content-Type", "content-type", "Accept", "Accept-Encoding", "Content-Encoding",
                           "User-Agent", "Cache-Control", "X-Request-Id", "X-Correlation-Id"}) {
    INFO(name);
    CHECK(is_harmless_header(name));
  }
  // The attack's headers, and names that say nothing about their value.
  for (const char* name : {"Authorization", "Authentication", "X-Hub-Signature", "X-Hub-Signature-256", "Cookie",
                           "X-API-Key", "X-Tenant", "X-Custom", "Content-Type-Secret", "Accept2", ""}) {
    INFO(name);
    CHECK_FALSE(is_harmless_header(name));
  }
}

TEST_CASE("secrets: credential-like parameter names") {
  for (const char* name : {"token",
                           "access_token",
                           "API_KEY",
                           "apikey",
                           "key",
                           "secret",
                           "client_secret",
                           "password",
                           "passwd",
                           "pwd",
                           "sig",
                           "signature",
                           "X-Amz-Signature",
                           "X-Amz-Credential",
                           "auth",
                           "authToken",
                           "session_id",
                           "jwt",
                           "private",
                           "p",
                           "pw",
                           "code"}) {
    INFO(name);
    CHECK(is_credential_name(name));
  }
  for (const char* name : {"db", "u", "user", "page", "limit", "format", "precision", "org", "bucket", "q", ""}) {
    INFO(name);
    CHECK_FALSE(is_credential_name(name));
  }
}

TEST_CASE("secrets: URLs are masked in their userinfo and credential-like query values only") {
  struct Case {
    const char* url;
    const char* masked;
  };
  const Case cases[] = {
      {"https://example.com/hook", "https://example.com/hook"},
      {"https://example.com/hook?token=abc&x=1", "https://example.com/hook?token=********&x=1"},
      {"https://example.com/in?a=1&Api-Key=k1&sig=s2#frag",
       "https://example.com/in?a=1&Api-Key=********&sig=********#frag"},
      {"https://example.com/in?%74oken=abc", "https://example.com/in?%74oken=********"},
      {"https://example.com/in?token=&token", "https://example.com/in?token=&token"},
      {"http://influx:8086/write?db=x&u=writer&p=pa55", "http://influx:8086/write?db=x&u=writer&p=********"},
      {"postgresql://user:pw@host:5432/db", "postgresql://user:********@host:5432/db"},
      {"postgresql://user:a@b@host/db", "postgresql://user:********@host/db"},
      {"postgresql://user@host/db?password=x&sslmode=require",
       "postgresql://********@host/db?password=********&sslmode=require"},
      {"postgresql://user:@host/db", "postgresql://user:@host/db"},
      {"https://ghp_token123@github.example/x", "https://********@github.example/x"},
      {"postgresql://host/db?x=a:b@c", "postgresql://host/db?x=a:b@c"},
  };
  for (const auto& c : cases) {
    INFO(c.url);
    CHECK(mask_url(c.url) == c.masked);
    CHECK(url_has_secrets(c.url) == (std::string(c.url) != c.masked));
  }
  auto parts = url_secrets("postgresql://u:pw@h/db?password=x");
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].part == "password");
  CHECK(parts[1].part == "query parameter 'password'");
}

TEST_CASE("secrets: masked URL parts take their values from the stored URL") {
  auto back = unmask_url("https://example.com/v2?token=********&x=2", "https://example.com/v1?x=1&token=abc");
  REQUIRE(back.ok());
  CHECK(*back == "https://example.com/v2?token=abc&x=2");
  // New values stay new; only masks are restored.
  CHECK(unmask_url("postgresql://u:new@h/db", "postgresql://u:old@h/db").value() == "postgresql://u:new@h/db");
  CHECK(unmask_url("postgresql://u:********@h2/db", "postgresql://u:old@h/db").value() == "postgresql://u:old@h2/db");
  auto missing = unmask_url("https://example.com/?token=********&key=********", "https://example.com/?token=a");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("query parameter 'key'") != std::string::npos);
  CHECK(missing.error().message.find("'token'") == std::string::npos);
  CHECK_FALSE(unmask_url("postgresql://u:********@h/db", "postgresql://u@h/db").ok());
}
