// The dispatcher's pure parts: job parsing, retry classification and backoff, topics,
// and the outbound address guard (pacing_test.cpp: breaker, concurrency, hand-backs).
#include "model.hpp"

#include <catch2/catch.hpp>

#include "dm/http/outbound.hpp"

using namespace dm;
using namespace dm::dispatcher;

TEST_CASE("jobs parse and bad jobs are refused") {
  auto job = parse_job(
      R"({"job_id":"r1:n1","kind":"integration","target_id":"t","flow_id":"f","flow_run_id":"r1",)"
      R"("node_id":"n1","dev_eui":"0004a30b001c0530","message":{"a":1},"created_at":"2026-11-27T09:00:00Z"})");
  REQUIRE(job.ok());
  CHECK(job->job_id == "r1:n1");
  CHECK(job->message == R"({"a":1})");
  CHECK(job->kind == contract::JobKind::integration);
  CHECK(job->raw.find(R"("message":{"a":1})") != std::string::npos);  // kept as received
  // A whole job but for its id, kind and message (contract_test checks the rest of the schema).
  auto with = [](const std::string& id_kind_message) {
    return "{" + id_kind_message +
           R"(,"target_id":"t","flow_id":"f","flow_run_id":"r1","node_id":"n1","dev_eui":"0004a30b001c0530",)"
           R"("created_at":"2026-11-27T09:00:00Z"})";
  };
  CHECK(parse_job(with(R"("job_id":"x","kind":"storage","message":{})")).ok());
  CHECK_FALSE(parse_job("{}").ok());
  CHECK_FALSE(parse_job(with(R"("job_id":"x","kind":"other","message":{})")).ok());
  CHECK_FALSE(parse_job(with(R"("job_id":"x","kind":"storage","message":5)")).ok());
  CHECK_FALSE(parse_job("not json").ok());
  // A job id PostgreSQL could not store (NUL, control characters, invalid UTF-8) is refused.
  CHECK_FALSE(parse_job(with(R"("job_id":"a\u0000b","kind":"storage","message":{})")).ok());
  CHECK_FALSE(parse_job(with("\"job_id\":\"a\xff\",\"kind\":\"storage\",\"message\":{}")).ok());
  CHECK(parse_job(with(R"("job_id":"r1:n1 é","kind":"storage","message":{})")).ok());
}

TEST_CASE("durations read as people write them") {
  using std::chrono::milliseconds;
  CHECK(duration_text(std::chrono::minutes(15)) == "15m");
  CHECK(duration_text(std::chrono::seconds(90)) == "90s");
  CHECK(duration_text(std::chrono::hours(2)) == "2h");
  CHECK(duration_text(milliseconds(1500)) == "1500ms");
}

TEST_CASE("HTTP answers are delivered, transient or permanent") {
  auto classify = [](int status) {
    Outcome o;
    classify_http_status(status, o);
    return o;
  };
  CHECK(classify(200).delivered);
  CHECK(classify(204).delivered);
  CHECK_FALSE(classify(503).permanent);
  CHECK_FALSE(classify(429).permanent);
  CHECK_FALSE(classify(408).permanent);
  CHECK(classify(400).permanent);
  CHECK(classify(404).permanent);
  CHECK(classify(301).permanent);  // redirects are not followed
}

TEST_CASE("backoff grows, is capped, jitters and honours Retry-After") {
  using ms = std::chrono::milliseconds;
  CHECK(backoff_delay(1, ms(1000), ms(60000), std::nullopt, 0.5) == ms(1000));
  CHECK(backoff_delay(3, ms(1000), ms(60000), std::nullopt, 0.5) == ms(4000));
  CHECK(backoff_delay(20, ms(1000), ms(60000), std::nullopt, 0.5) == ms(60000));
  CHECK(backoff_delay(1, ms(1000), ms(60000), std::nullopt, 0.0) == ms(800));
  CHECK(backoff_delay(1, ms(1000), ms(60000), std::nullopt, 1.0) == ms(1200));
  CHECK(backoff_delay(1, ms(1000), ms(60000), ms(7000), 0.5) == ms(7000));
  CHECK(parse_retry_after("7", now()) == ms(7000));
  CHECK_FALSE(parse_retry_after("soon", now()).has_value());
}

TEST_CASE("topic templates expand without adding levels") {
  Job job;
  job.dev_eui = "0004a30b001c0530";
  job.flow_id = "f1";
  job.message = R"({"deviceInfo":{"deviceName":"a/b+c"}})";
  CHECK(expand_topic("dm/{dev_eui}/{device_name}/{flow_id}", job) == "dm/0004a30b001c0530/a_b_c/f1");
}

TEST_CASE("GET sends the message as query parameters") {
  auto doc = json::parse(R"({"t":21.5,"name":"a b","ok":true,"n":null})");
  REQUIRE(doc.ok());
  CHECK(query_from_message("/in", *doc) == "/in?t=21.5&name=a%20b&ok=true");
  CHECK(query_from_message("/in?x=1", *doc) == "/in?x=1&t=21.5&name=a%20b&ok=true");
}

TEST_CASE("outbound guard refuses special addresses in every spelling") {
  http::OutboundPolicy none;
  for (const char* url : {"http://127.0.0.1/",       "http://127.1/",
                          "http://0x7f000001/",      "http://2130706433/",
                          "http://[::1]/",           "http://[::ffff:127.0.0.1]/",
                          "http://[::ffff:7f00:1]/", "http://169.254.169.254/latest/meta-data",
                          "http://10.1.2.3/",        "http://172.16.0.1/",
                          "http://172.31.255.255/",  "http://192.168.1.1/",
                          "http://0.0.0.0/",         "http://[::]/",
                          "http://224.0.0.1/",       "http://[fe80::1]/",
                          "http://[fd00::1]/",       "http://[64:ff9b::a00:1]/",
                          "http://[2002:7f00:1::]/", "http://localhost/"}) {
    INFO(url);
    auto r = http::check_outbound_url(none, url);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::forbidden);
  }
  CHECK_FALSE(http::check_outbound_url(none, "file:///etc/passwd").ok());
  CHECK(http::check_outbound_url(none, "gopher://x/").error().code == Errc::invalid_argument);
  CHECK(http::check_outbound_url(none, "http://93.184.216.34/").ok());
  CHECK(http::check_outbound_url(none, "http://172.32.0.1/").ok());

  auto allow = http::OutboundPolicy::parse("127.0.0.1, 10.0.0.0/8, internal.example");
  REQUIRE(allow.ok());
  CHECK(http::check_outbound_url(*allow, "http://127.0.0.1:9000/").ok());
  CHECK(http::check_outbound_url(*allow, "http://[::ffff:127.0.0.1]/").ok());
  CHECK(http::check_outbound_url(*allow, "http://10.9.9.9/").ok());
  CHECK_FALSE(http::check_outbound_url(*allow, "http://127.0.0.2/").ok());
  CHECK_FALSE(http::check_outbound_url(*allow, "http://192.168.0.1/").ok());
  CHECK_FALSE(http::OutboundPolicy::parse("10.0.0.0/99").ok());
  CHECK_FALSE(http::OutboundPolicy::parse("bad host!").ok());
}

TEST_CASE("a PostgreSQL storage connects to the address the guard approved, keeping its name for TLS") {
  auto v4 = http::parse_ip("93.184.216.34").value();
  auto v6 = http::parse_ip("2001:db8::1").value();
  const std::string url = "postgresql://user:pw@db.example:6432/readings?sslmode=verify-full";
  REQUIRE(http::postgres_target(url).ok());
  auto pinned = pinned_postgres_url(url, v4);
  CHECK(pinned == url + "&hostaddr=93.184.216.34");  // host db.example and sslmode stay as they were
  CHECK(pinned_postgres_url("postgresql://user@db.example/readings", v6) ==
        "postgresql://user@db.example/readings?hostaddr=2001%3Adb8%3A%3A1");
  // A URL cannot bring a hostaddr (or a host or port parameter) of its own: only the guard's goes in.
  CHECK_FALSE(http::postgres_target(url + "&hostaddr=127.0.0.1").ok());
  CHECK_FALSE(http::postgres_target("postgresql://db.example/x?host=127.0.0.1").ok());
}
