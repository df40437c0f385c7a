// V8 behind Engine. Isolation model: each function gets its own context whose realm is
// frozen after set-up (no state can be parked on globals or prototypes), and each run calls
// a fresh instance of the compiled top-level code (no state survives in closures). Code
// generation from strings is off, WebAssembly is removed, and only JSON copies cross in.
#include "engine.hpp"

#include <libplatform/libplatform.h>
#include <v8.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "dm/core/log.hpp"
#include "dm/core/text.hpp"

namespace dm::function_runner {
namespace {

using Clock = std::chrono::steady_clock;

// Preferred entry points, in order (the original's decoder conventions).
const char* const kPreferred[] = {"decodeUplink", "processData", "process", "decoder"};

// Helpers for user code, then the lockdown that freezes everything reachable from the
// global object. Runs once per context, before any user code.
constexpr const char* kPrelude = R"js(
(function () {
  'use strict';
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  globalThis.base64ToBytes = function base64ToBytes(s) {
    s = String(s).replace(/[^A-Za-z0-9+/]/g, '');
    const out = [];
    let buf = 0, bits = 0;
    for (let i = 0; i < s.length; i++) {
      buf = ((buf << 6) | B64.indexOf(s[i])) & 0xffffff;
      bits += 6;
      if (bits >= 8) { bits -= 8; out.push((buf >> bits) & 255); }
    }
    return out;
  };
  globalThis.bytesToBase64 = function bytesToBase64(b) {
    let out = '', i = 0;
    for (; i + 2 < b.length; i += 3) {
      const n = ((b[i] & 255) << 16) | ((b[i + 1] & 255) << 8) | (b[i + 2] & 255);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    if (i < b.length) {
      const two = i + 1 < b.length;
      const n = ((b[i] & 255) << 16) | ((two ? b[i + 1] & 255 : 0) << 8);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (two ? B64[(n >> 6) & 63] : '=') + '=';
    }
    return out;
  };
  globalThis.bytesToHex = function bytesToHex(b) {
    let out = '';
    for (let i = 0; i < b.length; i++) out += ((b[i] & 255) | 256).toString(16).slice(1);
    return out;
  };
  globalThis.hexToBytes = function hexToBytes(h) {
    const out = [];
    h = String(h);
    for (let i = 0; i + 1 < h.length; i += 2) out.push(parseInt(h.substr(i, 2), 16));
    return out;
  };
  delete globalThis.WebAssembly;
  delete globalThis.SharedArrayBuffer;
  delete globalThis.Atomics;
  const seen = new Set();
  const stack = [globalThis];
  while (stack.length) {
    const o = stack.pop();
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
    seen.add(o);
    Object.freeze(o);
    stack.push(Object.getPrototypeOf(o));
    for (const k of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k);
      if (!d) continue;
      if ('value' in d) stack.push(d.value); else { stack.push(d.get); stack.push(d.set); }
    }
  }
})();
)js";

std::once_flag g_v8_once;
std::unique_ptr<v8::Platform> g_platform;

void init_v8() {
  std::call_once(g_v8_once, [] {
    // No code from strings anywhere; no wasm. Flags must precede initialisation.
    const char flags[] = "--disallow-code-generation-from-strings --no-expose-wasm";
    v8::V8::SetFlagsFromString(flags, sizeof(flags) - 1);
    g_platform = v8::platform::NewDefaultPlatform();
    v8::V8::InitializePlatform(g_platform.get());
    v8::V8::Initialize();
  });
}

// Caps ArrayBuffer memory (it lives outside the V8 heap, so the heap limit misses it):
// over the cap, allocation fails and user code sees a RangeError.
class CappedAllocator : public v8::ArrayBuffer::Allocator {
 public:
  explicit CappedAllocator(std::size_t cap) : cap_(cap) {}
  void* Allocate(std::size_t n) override { return reserve(n) ? std::calloc(n, 1) : nullptr; }
  void* AllocateUninitialized(std::size_t n) override { return reserve(n) ? std::malloc(n) : nullptr; }
  void Free(void* p, std::size_t n) override {
    std::free(p);
    used_ -= n;
  }

 private:
  bool reserve(std::size_t n) {
    if (used_ + n > cap_) return false;
    used_ += n;
    return true;
  }
  std::size_t cap_;
  std::atomic<std::size_t> used_{0};
};

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }
bool is_ident_char(char c) { return is_ident_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

}  // namespace

std::vector<std::string> entry_candidates(std::string_view code) {
  std::vector<std::string> declared;
  const std::string_view kw = "function";
  for (std::size_t pos = code.find(kw); pos != std::string_view::npos; pos = code.find(kw, pos + 1)) {
    if (pos > 0 && is_ident_char(code[pos - 1])) continue;
    std::size_t i = pos + kw.size();
    if (i < code.size() && is_ident_char(code[i])) continue;
    while (i < code.size() && (std::isspace(static_cast<unsigned char>(code[i])) || code[i] == '*')) ++i;
    std::size_t start = i;
    if (i >= code.size() || !is_ident_start(code[i])) continue;
    while (i < code.size() && is_ident_char(code[i])) ++i;
    declared.emplace_back(code.substr(start, i - start));
  }
  std::vector<std::string> out(std::begin(kPreferred), std::end(kPreferred));
  for (auto it = declared.rbegin(); it != declared.rend(); ++it) {
    bool dup = false;
    for (const auto& o : out) dup = dup || o == *it;
    if (!dup) out.push_back(*it);
  }
  return out;
}

struct Engine::Impl {
  struct Fn {
    v8::Global<v8::Context> context;
    v8::Global<v8::Function> factory;
    std::list<std::string>::iterator lru;
  };

  EngineLimits limits;
  std::unique_ptr<CappedAllocator> allocator;
  v8::Isolate* isolate = nullptr;
  std::unordered_map<std::string, Fn> fns;
  std::list<std::string> lru;  // front = most recently used

  // Console output of the current run.
  std::string logs;
  std::size_t log_count = 0;
  bool log_truncated = false;
  std::atomic<bool> heap_exceeded{false};

  // Watchdog: one thread for the engine's life. It sleeps until the armed run's deadline (or,
  // with nothing armed, until a run is armed) instead of polling: back-to-back runs move the
  // deadline later, so under load it wakes about once per timeout, and an idle worker not at
  // all. arm() wakes it only when the new deadline is earlier than the one it sleeps until.
  std::mutex wd_mutex;
  std::condition_variable wd_cv;
  Clock::time_point deadline{};
  Clock::time_point wake_at = Clock::time_point::max();
  bool armed = false;
  bool fired = false;
  bool stopping = false;
  std::thread watchdog;

  void arm(std::chrono::milliseconds timeout) {
    if (!limits.watchdog) return;
    std::lock_guard lock(wd_mutex);
    deadline = Clock::now() + timeout;
    armed = true;
    fired = false;
    if (deadline < wake_at) wd_cv.notify_one();
  }
  // True when the watchdog terminated the run (its termination is cancelled here).
  bool disarm() {
    if (!limits.watchdog) return false;
    bool f;
    {
      std::lock_guard lock(wd_mutex);
      armed = false;
      f = fired;
      fired = false;
    }
    return f;
  }
  void watch() {
    std::unique_lock lock(wd_mutex);
    while (!stopping) {
      if (!armed || fired) {
        wake_at = Clock::time_point::max();
        wd_cv.wait(lock);
      } else if (Clock::now() >= deadline) {
        fired = true;
        isolate->TerminateExecution();
      } else {
        wake_at = deadline;
        wd_cv.wait_until(lock, deadline);
      }
    }
  }

  static std::size_t near_heap_limit(void* data, std::size_t current, std::size_t /*initial*/) {
    auto* self = static_cast<Impl*>(data);
    self->heap_exceeded = true;
    self->isolate->TerminateExecution();
    return current + (32u << 20);  // room to unwind the terminated run
  }

  template <int Level>
  static void console_call(const v8::FunctionCallbackInfo<v8::Value>& info) {
    static constexpr const char* kLevels[] = {"debug", "info", "warn", "error"};
    auto* self = static_cast<Impl*>(info.Data().As<v8::External>()->Value());
    self->append_log(info, kLevels[Level]);
  }

  void append_log(const v8::FunctionCallbackInfo<v8::Value>& info, std::string_view level) {
    if (log_truncated) return;
    const ResultCaps& caps = limits.caps;
    v8::Isolate* iso = info.GetIsolate();
    v8::Local<v8::Context> ctx = iso->GetCurrentContext();
    std::string message;
    for (int i = 0; i < info.Length() && message.size() <= caps.log_entry_bytes; ++i) {
      if (i) message += ' ';
      v8::Local<v8::Value> v = info[i];
      v8::Local<v8::String> s;
      if (v->IsString())
        s = v.As<v8::String>();
      else if (v->IsObject() && !v->IsFunction()) {
        if (!v8::JSON::Stringify(ctx, v).ToLocal(&s)) return;  // threw: the exception propagates
      } else if (!v->ToString(ctx).ToLocal(&s))
        return;
      message += utf8_of(s);
    }
    if (message.size() > caps.log_entry_bytes) message = truncate_utf8(message, caps.log_entry_bytes);
    std::string entry = log_entry(level, message);
    // The caps cover the JSON as sent (escapes included); past them, one note says so.
    if (log_count >= caps.log_entries || logs.size() + entry.size() + 1 > caps.log_bytes) {
      log_truncated = true;
      entry = log_entry("warn", "(console output truncated: at most " + std::to_string(caps.log_entries) +
                                    " entries and " + std::to_string(caps.log_bytes / 1024) + " KiB per run)");
    }
    logs += logs.size() > 1 ? "," : "";
    logs += entry;
    ++log_count;
  }

  static std::string log_entry(std::string_view level, std::string_view message) {
    std::string entry = R"({"level":")";
    entry += level;
    entry += R"(","message":")";
    log::append_escaped(entry, message);
    entry += "\"}";
    return entry;
  }

  v8::Local<v8::String> str(std::string_view s) {
    // ASCII (the usual JSON) skips UTF-8 decoding.
    bool ascii = true;
    for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii)
      return v8::String::NewFromOneByte(isolate, reinterpret_cast<const std::uint8_t*>(s.data()),
                                        v8::NewStringType::kNormal, static_cast<int>(s.size()))
          .ToLocalChecked();
    return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal, static_cast<int>(s.size()))
        .ToLocalChecked();
  }
  // A string's UTF-8 text; a one-byte string that is pure ASCII is copied as is.
  std::string utf8_of(v8::Local<v8::String> s) {
    if (s->IsOneByte()) {
      std::string out(static_cast<std::size_t>(s->Length()), '\0');
      s->WriteOneByte(isolate, reinterpret_cast<std::uint8_t*>(out.data()), 0, s->Length(),
                      v8::String::NO_NULL_TERMINATION);
      bool ascii = true;
      for (char c : out) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
      if (ascii) return out;
    }
    // One pass: write into a buffer sized for the worst case instead of measuring first.
    std::string out(static_cast<std::size_t>(s->Length()) * 3, '\0');
    int written = s->WriteUtf8(isolate, out.data(), static_cast<int>(out.size()), nullptr,
                               v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
    out.resize(static_cast<std::size_t>(written));
    return out;
  }
  // A value's text as valid UTF-8: lone surrogates (legal in JS strings) become U+FFFD rather
  // than bytes PostgreSQL and JSON parsers refuse (v8::String::Utf8Value keeps them).
  std::string utf8(v8::Local<v8::Value> v) {
    v8::Local<v8::String> s;
    if (v.IsEmpty() || !v->ToString(isolate->GetCurrentContext()).ToLocal(&s)) return {};
    return utf8_of(s);
  }

  // A context with console and helpers, realm frozen. Empty on failure.
  v8::Local<v8::Context> new_context() {
    v8::EscapableHandleScope scope(isolate);
    v8::Local<v8::Context> ctx = v8::Context::New(isolate);
    ctx->AllowCodeGenerationFromStrings(false);
    v8::Context::Scope cs(ctx);
    v8::Local<v8::Object> console = v8::Object::New(isolate);
    const std::pair<const char*, v8::FunctionCallback> methods[] = {{"log", console_call<1>},
                                                                    {"debug", console_call<0>},
                                                                    {"info", console_call<1>},
                                                                    {"warn", console_call<2>},
                                                                    {"error", console_call<3>}};
    for (const auto& [name, cb] : methods) {
      auto fn = v8::Function::New(ctx, cb, v8::External::New(isolate, this)).ToLocalChecked();
      fn->SetName(str(name));
      if (console->Set(ctx, str(name), fn).IsNothing()) return {};
    }
    if (ctx->Global()->Set(ctx, str("console"), console).IsNothing()) return {};
    v8::TryCatch tc(isolate);
    v8::Local<v8::Script> prelude;
    if (!v8::Script::Compile(ctx, str(kPrelude)).ToLocal(&prelude) || prelude->Run(ctx).IsEmpty()) {
      log::error("prelude failed", {{"error", utf8(tc.Exception())}});
      return {};
    }
    return scope.Escape(ctx);
  }

  // Compiles `code` as the body of a factory returning the entry function.
  v8::MaybeLocal<v8::Function> compile_in(v8::Local<v8::Context> ctx, std::string_view code, RunResult& out) {
    std::string body(code);
    body += "\n;return (";
    for (const auto& name : entry_candidates(code)) body += "typeof " + name + " === 'function' ? " + name + " : ";
    body += "undefined);";
    v8::TryCatch tc(isolate);
    v8::ScriptOrigin origin(isolate, str("function.js"));
    v8::ScriptCompiler::Source source(str(body), origin);
    v8::Local<v8::Function> factory;
    if (!v8::ScriptCompiler::CompileFunction(ctx, &source).ToLocal(&factory)) {
      out = RunResult::failure(tc.HasCaught() ? utf8(tc.Exception()) : "compilation failed");
      v8::Local<v8::Message> m = tc.Message();
      if (!m.IsEmpty()) {
        out.line = m->GetLineNumber(ctx).FromMaybe(0);
        out.column = m->GetStartColumn(ctx).FromMaybe(-1) + 1;
        out.error_message += " (line " + std::to_string(out.line) + ", column " + std::to_string(out.column) + ")";
      }
      return {};
    }
    out.status = "success";
    return factory;
  }

  void touch(Fn& fn, const std::string& key) {
    lru.erase(fn.lru);
    lru.push_front(key);
    fn.lru = lru.begin();
  }

  // Failure of a run from its TryCatch: timeout, memory, or what the code threw.
  void fill_error(v8::Local<v8::Context> ctx, v8::TryCatch& tc, bool fired, std::chrono::milliseconds timeout,
                  RunResult& r) {
    r.has_error = true;
    r.output.clear();
    if (heap_exceeded) {
      r.status = "error";
      r.error_message = "memory limit exceeded (" + std::to_string(limits.heap_bytes >> 20) + " MB)";
    } else if (fired || tc.HasTerminated()) {
      r.status = "timeout";
      r.error_message = "timed out after " + std::to_string(timeout.count()) + " ms";
    } else if (tc.HasCaught()) {
      r.status = "error";
      r.error_message = utf8(tc.Exception());
      v8::Local<v8::Value> stack;
      if (tc.StackTrace(ctx).ToLocal(&stack) && stack->IsString()) r.error_stack = utf8(stack);
    }
  }

  // Calls the loaded function on `input` and `params`. False when it threw, was stopped, or
  // its answer is refused: `r` then says why, or fill_error will.
  bool call(v8::Local<v8::Context> ctx, Fn& fn, v8::TryCatch& tc, std::string_view input, std::string_view params,
            RunResult& r) {
    v8::Local<v8::Value> in, pa, entry, result;
    if (!v8::JSON::Parse(ctx, str(input)).ToLocal(&in)) return false;
    if (params == "{}")
      pa = v8::Object::New(isolate);
    else if (!v8::JSON::Parse(ctx, str(params)).ToLocal(&pa))
      return false;
    if (!fn.factory.Get(isolate)->Call(ctx, v8::Undefined(isolate), 0, nullptr).ToLocal(&entry)) return false;
    if (!entry->IsFunction()) {
      r = RunResult::failure(
          "no function to call: declare decodeUplink, processData, process, decoder, or one function");
      return false;
    }
    v8::Local<v8::Value> args[] = {in, pa};
    if (!entry.As<v8::Function>()->Call(ctx, v8::Undefined(isolate), 2, args).ToLocal(&result)) return false;
    if (result->IsPromise() && !settle(tc, result, r)) return false;
    return take_output(ctx, result, r);
  }

  // A returned promise must settle in the microtasks that follow the call: there is nothing
  // else to wait for. `result` becomes its value.
  bool settle(v8::TryCatch& tc, v8::Local<v8::Value>& result, RunResult& r) {
    isolate->PerformMicrotaskCheckpoint();
    auto p = result.As<v8::Promise>();
    if (tc.HasCaught() || tc.HasTerminated()) return false;
    if (p->State() == v8::Promise::kRejected) {
      r = RunResult::failure(utf8(p->Result()));
      return false;
    }
    if (p->State() == v8::Promise::kPending) {
      r = RunResult::failure("the returned promise did not settle (there are no timers or I/O here)");
      return false;
    }
    result = p->Result();
    return true;
  }

  // The function's answer as JSON text within the output cap (anything but an object is
  // wrapped as {"data": ...}); null, undefined and false filter the message out.
  bool take_output(v8::Local<v8::Context> ctx, v8::Local<v8::Value> result, RunResult& r) {
    if (result->IsNullOrUndefined() || result->IsFalse()) {
      r.status = "filtered";
      return true;
    }
    if (!result->IsObject() || result->IsArray() || result->IsFunction()) {
      v8::Local<v8::Object> wrap = v8::Object::New(isolate);
      if (wrap->Set(ctx, str("data"), result).IsNothing()) return false;
      result = wrap;
    }
    v8::Local<v8::String> json;
    if (!v8::JSON::Stringify(ctx, result).ToLocal(&json)) return false;
    // UTF-16 length is a lower bound of the UTF-8 size: refuse early without converting.
    const std::size_t cap = limits.caps.output_bytes;
    if (static_cast<std::size_t>(json->Length()) <= cap) r.output = utf8_of(json);
    if (r.output.empty() || r.output.size() > cap) {
      auto size = r.output.empty() ? static_cast<std::size_t>(json->Utf8Length(isolate)) : r.output.size();
      r = output_too_large(size, limits.caps);
      return false;
    }
    r.status = "success";
    return true;
  }

  // After a run that the watchdog or the heap limit stopped: the timeout is reported, the
  // termination cancelled and what a heap bomb left behind collected, so the isolate serves
  // the next run.
  void recover(bool ok, std::chrono::milliseconds timeout, RunResult& r) {
    const bool fired = disarm();
    if (fired || heap_exceeded) {
      if (!ok && !heap_exceeded) {  // the watchdog stopped it: report a timeout whatever V8 said
        r = RunResult::failure("timed out after " + std::to_string(timeout.count()) + " ms");
        r.status = "timeout";
      }
      isolate->CancelTerminateExecution();
    }
    if (heap_exceeded) {
      // Restore the configured limit, then collect what the bomb left behind.
      isolate->RemoveNearHeapLimitCallback(&Impl::near_heap_limit, limits.heap_bytes);
      isolate->AddNearHeapLimitCallback(&Impl::near_heap_limit, this);
      isolate->LowMemoryNotification();
      heap_exceeded = false;
    }
  }
};

Engine::Engine(EngineLimits limits) : impl_(std::make_unique<Impl>()) {
  init_v8();
  impl_->limits = limits;
  impl_->allocator = std::make_unique<CappedAllocator>(limits.heap_bytes);
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = impl_->allocator.get();
  params.constraints.ConfigureDefaultsFromHeapSize(0, limits.heap_bytes);
  impl_->isolate = v8::Isolate::New(params);
  impl_->isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  impl_->isolate->AddNearHeapLimitCallback(&Impl::near_heap_limit, impl_.get());
  impl_->logs = "[";
  impl_->watchdog = std::thread([this] { impl_->watch(); });
}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->wd_mutex);
    impl_->stopping = true;
    impl_->wd_cv.notify_one();
  }
  impl_->watchdog.join();
  impl_->fns.clear();
  impl_->isolate->Dispose();
}

RunResult Engine::compile(std::string_view code) {
  auto* iso = impl_->isolate;
  v8::Isolate::Scope is(iso);
  v8::HandleScope hs(iso);
  v8::Local<v8::Context> ctx = v8::Context::New(iso);
  ctx->AllowCodeGenerationFromStrings(false);
  v8::Context::Scope cs(ctx);
  RunResult r;
  (void)impl_->compile_in(ctx, code, r);
  cap_result(r, impl_->limits.caps);
  return r;
}

bool Engine::has(const std::string& key) const { return impl_->fns.count(key) != 0; }

void Engine::drop(const std::string& key) {
  auto it = impl_->fns.find(key);
  if (it == impl_->fns.end()) return;
  impl_->lru.erase(it->second.lru);
  impl_->fns.erase(it);
}

RunResult Engine::load(const std::string& key, std::string_view code) {
  auto& im = *impl_;
  drop(key);
  v8::Isolate::Scope is(im.isolate);
  v8::HandleScope hs(im.isolate);
  v8::Local<v8::Context> ctx = im.new_context();
  if (ctx.IsEmpty()) return RunResult::failure("sandbox set-up failed");
  v8::Context::Scope cs(ctx);
  RunResult r;
  v8::Local<v8::Function> factory;
  if (!im.compile_in(ctx, code, r).ToLocal(&factory)) {
    cap_result(r, im.limits.caps);
    return r;
  }
  while (im.fns.size() >= im.limits.max_functions && !im.lru.empty()) drop(im.lru.back());
  im.lru.push_front(key);
  Impl::Fn fn;
  fn.context.Reset(im.isolate, ctx);
  fn.factory.Reset(im.isolate, factory);
  fn.lru = im.lru.begin();
  im.fns.emplace(key, std::move(fn));
  return r;
}

RunResult Engine::run(const std::string& key, std::string_view input, std::string_view params,
                      std::chrono::milliseconds timeout) {
  auto& im = *impl_;
  auto it = im.fns.find(key);
  if (it == im.fns.end()) return RunResult::failure("function not loaded");
  im.touch(it->second, key);
  v8::Isolate* iso = im.isolate;
  v8::Isolate::Scope is(iso);
  v8::HandleScope hs(iso);
  v8::Local<v8::Context> ctx = it->second.context.Get(iso);
  v8::Context::Scope cs(ctx);
  v8::TryCatch tc(iso);
  im.logs.resize(1);  // "["
  im.log_count = 0;
  im.log_truncated = false;
  im.heap_exceeded = false;

  RunResult r;
  const auto start = Clock::now();
  im.arm(timeout);
  const bool ok = im.call(ctx, it->second, tc, input, params, r);
  if (!ok && !r.has_error) im.fill_error(ctx, tc, false, timeout, r);
  im.recover(ok, timeout, r);
  r.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  im.logs += ']';
  r.logs = im.logs;
  cap_result(r, im.limits.caps);
  return r;
}

}  // namespace dm::function_runner
