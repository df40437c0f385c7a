// The sandbox in-process: limits, isolation, calling convention. The crash cases (one huge
// allocation) need a worker process: see pool_test.cpp.
#include "engine.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "dm/core/text.hpp"

using namespace dm::function_runner;
using namespace std::chrono_literals;

namespace {
const char* kExample = R"(function processTemperature(data) {
  if (data.data.temperature) {
    data.data.temperatureF = (data.data.temperature * 9) / 5 + 32;
  }
  return data;
})";

RunResult run_code(Engine& e, const std::string& code, const std::string& input = "{}",
                   std::chrono::milliseconds timeout = 100ms, const std::string& params = "{}") {
  static int n = 0;
  std::string key = "k" + std::to_string(++n);
  auto loaded = e.load(key, code);
  if (loaded.has_error) return loaded;
  return e.run(key, input, params, timeout);
}
}  // namespace

TEST_CASE("the example function converts the temperature") {
  Engine e;
  auto r = run_code(e, kExample, R"({"data":{"temperature":20}})");
  INFO(r.error_message);
  CHECK(r.status == "success");
  CHECK(r.output == R"({"data":{"temperature":20,"temperatureF":68}})");
}

TEST_CASE("entry point preference, parameters, wrapping and filtering") {
  Engine e;
  CHECK(run_code(e, "function helper(){return 1}\nfunction decodeUplink(m, p){ return {v: p.k, h: helper()}; }", "{}",
                 100ms, R"({"k":5})")
            .output == R"({"v":5,"h":1})");
  CHECK(run_code(e, "function a(){ return {a:1} }\nfunction b(){ return {b:1} }").output == R"({"b":1})");
  CHECK(run_code(e, "function f(){ return 42 }").output == R"({"data":42})");
  CHECK(run_code(e, "function f(){ return [1,2] }").output == R"({"data":[1,2]})");
  CHECK(run_code(e, "function f(){ return null }").status == "filtered");
  CHECK(run_code(e, "function f(){ }").status == "filtered");
  CHECK(run_code(e, "const process = (m) => ({x: 1});").output == R"({"x":1})");
  CHECK(run_code(e, "async function f(m){ return {y: 2} }").output == R"({"y":2})");
  auto none = run_code(e, "var x = 1;");
  CHECK(none.status == "error");
  CHECK(none.error_message.find("no function") != std::string::npos);
}

TEST_CASE("console output is captured and bounded") {
  Engine e;
  auto r = run_code(e, "function f(m){ console.log('hi', 1, {a:2}); console.warn('w'); return m; }");
  CHECK(r.logs == R"([{"level":"info","message":"hi 1 {\"a\":2}"},{"level":"warn","message":"w"}])");
  auto big = run_code(e, "function f(m){ for (let i = 0; i < 100000; i++) console.log('xxxxxxxxxxxxxxxx'); return m; }",
                      "{}", 2000ms);
  CHECK(big.status == "success");
  CHECK(big.logs.size() < 80 * 1024);
  CHECK(big.logs.find("truncated") != std::string::npos);
}

TEST_CASE("base64 helpers") {
  Engine e;
  auto r = run_code(
      e,
      "function f(m){ return {b: base64ToBytes('AQID/w=='), s: bytesToBase64([1,2,3,255]), h: bytesToHex([1,171])}; }");
  CHECK(r.output == R"({"b":[1,2,3,255],"s":"AQID/w==","h":"01ab"})");
}

TEST_CASE("an infinite loop is stopped at its timeout and the next run succeeds") {
  // Bounds with room for a loaded machine (a timed test is no benchmark): what matters is that
  // the watchdog ends the loop at this run's deadline, not at a later one or never.
  Engine e;
  REQUIRE_FALSE(e.load("loop", "function f(m){ if (m.loop) { for(;;){} } return {ok: true}; }").has_error);
  auto start = std::chrono::steady_clock::now();
  auto r = e.run("loop", R"({"loop":true})", "{}", 100ms);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.status == "timeout");
  CHECK(took < 600ms);
  CHECK(took >= 100ms);
  auto next = e.run("loop", "{}", "{}", 100ms);
  CHECK(next.status == "success");
  CHECK(next.output == R"({"ok":true})");
}

TEST_CASE("a short timeout right after runs with a long one is still kept") {
  // The watchdog sleeps until the deadline it knows; a later run with an earlier deadline must
  // wake it, or the loop below would run until the 5 s deadline of the runs before it.
  Engine e;
  REQUIRE_FALSE(e.load("loop2", "function f(m){ if (m.loop) { for(;;){} } return {ok: true}; }").has_error);
  for (int i = 0; i < 3; ++i) REQUIRE(e.run("loop2", "{}", "{}", 5000ms).status == "success");
  auto start = std::chrono::steady_clock::now();
  auto r = e.run("loop2", R"({"loop":true})", "{}", 100ms);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.status == "timeout");
  CHECK(took < 600ms);
  // And an engine left idle still stops the next loop in time.
  std::this_thread::sleep_for(50ms);
  start = std::chrono::steady_clock::now();
  CHECK(e.run("loop2", R"({"loop":true})", "{}", 100ms).status == "timeout");
  CHECK(std::chrono::steady_clock::now() - start < 600ms);
}

TEST_CASE("a gradual heap bomb is stopped and the engine stays usable") {
  Engine e;
  // Grows by ~1 MB a step so the limit is reached quickly even on a loaded machine.
  auto r =
      run_code(e, "function f(){ const a = []; for(;;) a.push(new Array(131072).fill(Math.random())); }", "{}", 5000ms);
  CHECK(r.status == "error");
  CHECK(r.error_message.find("memory") != std::string::npos);
  CHECK(run_code(e, kExample, R"({"data":{"temperature":0}})").status == "success");
}

TEST_CASE("ArrayBuffers are capped") {
  Engine e;
  auto r = run_code(e, "function f(){ return {n: new ArrayBuffer(1024*1024*1024).byteLength}; }");
  CHECK(r.status == "error");
}

TEST_CASE("escape probes find no host object") {
  Engine e;
  auto ctor = run_code(e, "function f(){ return {p: String(this.constructor.constructor('return process')())}; }");
  CHECK(ctor.status == "error");
  auto ctor2 = run_code(e, "function f(){ return {p: String(f.constructor('return 1')())}; }");
  CHECK(ctor2.status == "error");
  auto ev = run_code(e, "function f(){ return {p: eval('1+1')}; }");
  CHECK(ev.status == "error");
  auto keys = run_code(e, "function f(){ return {k: Object.getOwnPropertyNames(globalThis)}; }");
  REQUIRE(keys.status == "success");
  for (const char* bad :
       {"\"process\"", "\"require\"", "\"module\"", "\"WebAssembly\"", "\"setTimeout\"", "\"Buffer\""})
    CHECK(keys.output.find(bad) == std::string::npos);
  auto req = run_code(e, "function f(){ return {t: typeof require + typeof process + typeof setTimeout}; }");
  CHECK(req.output == R"({"t":"undefinedundefinedundefined"})");
  auto imp = run_code(e, "async function f(){ const m = await import('fs'); return {m: typeof m}; }");
  CHECK(imp.status == "error");
  auto pst = run_code(
      e,
      "function f(){ try { Error.prepareStackTrace = (e, s) => s.map(c => typeof c.getThis()); } catch (x) {}\n"
      "  const st = new Error('x').stack; return {st: typeof st, set: typeof Error.prepareStackTrace}; }");
  CHECK(pst.output == R"({"st":"string","set":"undefined"})");
}

TEST_CASE("no state leaks between runs or between functions") {
  Engine e;
  REQUIRE_FALSE(e.load("a",
                       "let n = 0; function f(){ n++; try { globalThis.leak = n; } catch (x) {} "
                       "try { Array.prototype.bad = 1; } catch (x) {} return {n: n}; }")
                    .has_error);
  CHECK(e.run("a", "{}", "{}", 100ms).output == R"({"n":1})");
  CHECK(e.run("a", "{}", "{}", 100ms).output == R"({"n":1})");
  REQUIRE_FALSE(e.load("b", "function g(){ return {leak: typeof leak, bad: typeof [].bad}; }").has_error);
  CHECK(e.run("b", "{}", "{}", 100ms).output == R"({"leak":"undefined","bad":"undefined"})");
}

TEST_CASE("syntax errors carry line and column") {
  Engine e;
  auto r = e.compile("function f(m) {\n  return m +;\n}");
  CHECK(r.has_error);
  CHECK(r.line == 2);
  CHECK(r.column == 13);
  CHECK(r.error_message.find("SyntaxError") != std::string::npos);
  CHECK_FALSE(e.compile(kExample).has_error);
}

TEST_CASE("an output over the cap is an error naming its size") {
  Engine e;
  auto r = run_code(e, "function f(){ return {s: 'x'.repeat(2 * 1024 * 1024)}; }", "{}", 3000ms);
  CHECK(r.status == "error");
  CHECK(r.output.empty());
  INFO(r.error_message);
  CHECK(r.error_message.find("2097160 bytes") != std::string::npos);  // {"s":"xx…x"}
  CHECK(r.error_message.find("limit of 262144 bytes") != std::string::npos);
  // The cap comes from the configuration (RUNNER_MAX_OUTPUT_BYTES reaches the worker).
  EngineLimits small;
  small.caps.output_bytes = 100;
  Engine tight(small);
  CHECK(run_code(tight, "function f(){ return {s: 'x'.repeat(80)}; }").status == "success");
  CHECK(run_code(tight, "function f(){ return {s: 'x'.repeat(100)}; }").status == "error");
}

TEST_CASE("error messages, stacks and console output are capped with a note") {
  Engine e;
  const ResultCaps caps;
  auto thrown = run_code(e, "function f(){ throw new Error('x'.repeat(10 * 1024 * 1024)); }", "{}", 3000ms);
  CHECK(thrown.status == "error");
  CHECK(thrown.error_message.size() < caps.error_bytes + 64);
  CHECK(thrown.error_message.find("[cut ") != std::string::npos);
  CHECK(thrown.error_stack.size() < caps.stack_bytes + 64);

  auto entry = run_code(e, "function f(m){ console.log('y'.repeat(100000)); return m; }", "{}", 2000ms);
  CHECK(entry.status == "success");
  CHECK(entry.logs.size() < caps.log_entry_bytes + 200);
  CHECK(entry.logs.find("[cut ") != std::string::npos);

  auto many = run_code(e, "function f(m){ for (let i = 0; i < 1000; i++) console.log(i); return m; }", "{}", 2000ms);
  CHECK(many.status == "success");
  std::size_t entries = 0;
  for (std::size_t at = many.logs.find("\"level\""); at != std::string::npos; at = many.logs.find("\"level\"", at + 1))
    ++entries;
  CHECK(entries == caps.log_entries + 1);  // the last one is the note
  CHECK(many.logs.find("console output truncated") != std::string::npos);
}

TEST_CASE("text from user code is valid UTF-8 even with lone surrogates") {
  Engine e;
  auto r = run_code(e, "function f(){ console.log('a\\uD800b'); throw new Error('c\\uDC00d'); }");
  CHECK(r.status == "error");
  CHECK(dm::valid_utf8(r.logs));
  CHECK(dm::valid_utf8(r.error_message));
  CHECK(dm::valid_utf8(r.error_stack));
  CHECK(r.logs.find("a\xEF\xBF\xBD"
                    "b") != std::string::npos);  // U+FFFD
}

TEST_CASE("cap_result enforces the caps on what a worker sends back") {
  ResultCaps caps;
  caps.output_bytes = 10;
  RunResult big;
  big.status = "success";
  big.output = R"({"s":"0123456789"})";
  big.duration_ms = 1.5;
  cap_result(big, caps);
  CHECK(big.status == "error");
  CHECK(big.output.empty());
  CHECK(big.error_message.find("18 bytes") != std::string::npos);
  CHECK(big.duration_ms == 1.5);
  RunResult fine;
  fine.status = "success";
  fine.output = "{}";
  cap_result(fine, caps);
  CHECK(fine.status == "success");
  CHECK(fine.output == "{}");
}

TEST_CASE("thrown errors carry message and stack") {
  Engine e;
  auto r = run_code(e, "function f(m){\n  throw new TypeError('bad ' + m.x);\n}", R"({"x":"input"})");
  CHECK(r.status == "error");
  CHECK(r.error_message == "TypeError: bad input");
  CHECK(r.error_stack.find("function.js:2") != std::string::npos);
}

TEST_CASE("entry candidates") {
  auto c = entry_candidates("function a(){ function inner(){} }\nfunction* gen(){}\nconst functionx = 1;");
  REQUIRE(c.size() == 7);
  CHECK(c[4] == "gen");
  CHECK(c[5] == "inner");
  CHECK(c[6] == "a");
}
