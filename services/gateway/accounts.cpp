// /api/v1/auth/register, /auth/login, /auth/me, /auth/password, and the helpers the gateway's
// own routes share.
#include <algorithm>
#include <cctype>

#include "auth_context.hpp"
#include "crypto.hpp"
#include "dm/api/body.hpp"
#include "dm/core/log.hpp"
#include "dm/core/strings.hpp"
#include "token.hpp"

namespace dm::gateway {
namespace {
constexpr std::size_t kMinPassword = 10;
// Bounded so that nobody can make us hash megabytes.
constexpr std::size_t kMaxPassword = 1024;
// Requests waiting for a worker beyond which the gateway's own routes answer 503.
constexpr std::size_t kMaxQueued = 256;

// Unknown users are checked against this hash, so they cost the same time as known ones.
const std::string& dummy_hash() {
  static const std::string kHash = hash_password(random_bytes(16));
  return kHash;
}

bool valid_email(std::string_view e) {
  auto at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) return false;
  auto domain = e.substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.')
    return false;
  return std::none_of(e.begin(), e.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)) || c < 32; });
}

bool valid_username(std::string_view u) {
  return std::all_of(u.begin(), u.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

http::Response bad_login() {
  auto r = http::Response::error(401, "Incorrect username or password");
  r.headers.set("WWW-Authenticate", "Bearer");
  return r;
}

// The rules every new password follows (registration, change): 10 to 1024 characters.
void check_new_password(api::BodyReader& r, const char* field, const std::optional<std::string>& password) {
  if (password && password->size() < kMinPassword) {
    r.add_error(field, "String should have at least 10 characters", "string_too_short");
  }
}

struct LoginInput {
  std::string username;
  std::string password;
};

// FastAPI's OAuth2PasswordRequestForm (form fields), or the same fields as JSON.
std::variant<LoginInput, http::Response> read_login(const http::Request& req) {
  auto type = lower(req.header("Content-Type").value_or(""));
  LoginInput in;
  std::vector<api::FieldError> errors;
  if (type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    auto form = http::parse_query(req.body);
    for (const char* f : {"username", "password"}) {
      auto it = form.find(f);
      if (it == form.end() || it->second.empty())
        errors.push_back({{"body", f}, "Field required", "missing"});
      else
        (std::string_view(f) == "username" ? in.username : in.password) = it->second;
    }
    if (!errors.empty()) return api::validation_error(errors);
  } else {
    auto body = api::parse_body(req, 64 << 10);
    if (body.error) return *body.error;
    api::BodyReader r(body.doc);
    auto user = r.present("username") || !r.present("email")
                    ? r.string("username", {.required = true, .min = 1, .max = 254})
                    : r.string("email", {.required = true, .min = 1, .max = 254});
    auto pass = r.string("password", {.required = true, .min = 1, .max = kMaxPassword});
    if (!r.ok()) return r.response();
    in.username = *user;
    in.password = *pass;
  }
  if (in.username.size() > 254 || in.password.size() > kMaxPassword) {
    return api::validation_error({"body", "password"}, "Value is too long", "string_too_long");
  }
  return in;
}

// The login answer: a fresh access token carrying the user's credential version.
http::Response token_answer(AuthContext& ctx, const std::string& user_id, const UserState& state) {
  auto iat =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  Claims c{user_id,
           state.role,
           base64url_encode(random_bytes(16)),
           iat,
           iat + ctx.settings.token_lifetime.count(),
           state.credential_version};
  json::Writer w;
  w.start_object()
      .field("access_token", issue_token(ctx.settings.secret_key, c))
      .field("token_type", "bearer")
      .field("expires_in", static_cast<std::int64_t>(ctx.settings.token_lifetime.count()))
      .end_object();
  auto r = http::Response::json(200, w.take());
  r.headers.set("Cache-Control", "no-store");
  return r;
}

http::Response login(AuthContext& ctx, const http::Request& req) {
  auto read = read_login(req);
  if (auto* bad = std::get_if<http::Response>(&read)) return std::move(*bad);
  auto& in = std::get<LoginInput>(read);
  std::string address = client_address(req, ctx.settings.trusted_proxies);
  auto row = ctx.store.find_login(in.username);
  if (!row) return store_failure(row.error());
  std::string account = *row ? "id:" + (*row)->id : "name:" + lower(in.username);
  auto now = LoginThrottle::Clock::now();
  if (auto wait = ctx.throttle.blocked(account, address, now)) {
    return too_many("Too many failed login attempts; try again later", *wait);
  }
  bool good = verify_password(in.password, *row ? (*row)->password_hash : dummy_hash());
  if (!good || !*row || !(*row)->is_active) {
    ctx.throttle.failed(account, address, now);
    ctx.failures.spend(address, now);
    log::info("login failed", {{"address", address}});
    return bad_login();
  }
  ctx.throttle.succeeded(account);
  auto state = ctx.store.user_state((*row)->id);
  if (!state) return store_failure(state.error());
  if (!*state) return bad_login();
  return token_answer(ctx, (*row)->id, **state);
}

// Registration answers the same whether or not the email or username was free (202, one body,
// after the same password hashing), so it tells nobody which accounts exist; and it is
// limited per address, so nobody can create accounts (or probe) in bulk.
http::Response register_user(AuthContext& ctx, const http::Request& req) {
  if (!ctx.settings.allow_registration) return http::Response::error(403, "Registration is closed");
  auto body = api::parse_body(req, 64 << 10);
  if (body.error) return *body.error;
  api::BodyReader r(body.doc);
  auto email = r.string("email", {.required = true, .min = 3, .max = 254});
  auto username = r.string("username", {.required = true, .min = 3, .max = 50});
  auto password = r.string("password", {.required = true, .max = kMaxPassword});
  if (email && !valid_email(*email)) r.add_error("email", "value is not a valid email address");
  if (username && !valid_username(*username)) {
    r.add_error("username", "may contain only letters, digits, '_', '-' and '.'");
  }
  check_new_password(r, "password", password);
  if (!r.ok()) return r.response();
  std::string address = client_address(req, ctx.settings.trusted_proxies);
  auto now = AddressBudget::Clock::now();
  if (auto wait = ctx.registrations.blocked(address, now)) {
    return too_many("Too many registrations from this address; try again later", *wait);
  }
  ctx.registrations.spend(address, now);
  auto doc = ctx.store.create_user(*email, *username, hash_password(*password), ctx.settings.default_role);
  if (!doc && doc.error().code != Errc::conflict) return store_failure(doc.error());
  log::info("registration", {{"address", address}, {"created", doc.ok()}});
  return http::Response::json(
      202, R"({"detail":"If this email and username were free, the account has been created: log in with it"})");
}

struct PasswordChange {
  std::string current;
  std::string next;
};

std::variant<PasswordChange, http::Response> read_password_change(const http::Request& req) {
  auto body = api::parse_body(req, 64 << 10);
  if (body.error) return *body.error;
  api::BodyReader r(body.doc);
  r.forbid_unknown({"current_password", "new_password"});
  auto current = r.string("current_password", {.required = true, .min = 1, .max = kMaxPassword});
  auto next = r.string("new_password", {.required = true, .max = kMaxPassword});
  check_new_password(r, "new_password", next);
  if (current && next && *current == *next) {
    r.add_error("new_password", "The new password must differ from the current one");
  }
  if (!r.ok()) return r.response();
  return PasswordChange{*current, *next};
}

// POST /api/v1/auth/password: the caller's own password, given the current one. Wrong
// guesses count as failed logins of the account and against the address's failure budget,
// so a stolen token cannot be turned into the password by trying. Every token issued before
// stops working; the answer carries a fresh one.
http::Response change_password(AuthContext& ctx, const http::Request& req) {
  auto read = read_password_change(req);
  if (auto* bad = std::get_if<http::Response>(&read)) return std::move(*bad);
  auto& in = std::get<PasswordChange>(read);
  auto caller = caller_of(req);
  std::string address = client_address(req, ctx.settings.trusted_proxies);
  std::string account = "id:" + caller.user_id;
  auto now = LoginThrottle::Clock::now();
  if (auto wait = ctx.throttle.blocked(account, address, now)) {
    return too_many("Too many failed attempts; try again later", *wait);
  }
  auto row = ctx.store.login_row(caller.user_id);
  if (!row) return store_failure(row.error());
  if (!*row || !verify_password(in.current, (*row)->password_hash)) {
    ctx.throttle.failed(account, address, now);
    ctx.failures.spend(address, now);
    log::info("password change refused", {{"address", address}});
    return http::Response::error(403, "The current password is incorrect");
  }
  ctx.throttle.succeeded(account);
  auto state = ctx.store.change_password(caller.user_id, hash_password(in.next), (*row)->password_hash);
  if (!state) return store_failure(state.error());
  if (!*state) return http::Response::error(409, "The password was changed meanwhile; try again");
  ctx.changed();  // every replica drops its cached state: old tokens fail from the next request
  return token_answer(ctx, caller.user_id, **state);
}

}  // namespace

http::Response store_failure(const Error& e) {
  if (e.code == Errc::unavailable || e.code == Errc::timeout) {
    return http::Response::error(503, "The database is unavailable");
  }
  log::error("gateway store error", {{"error", e.message}});
  return http::Response::error(500, "Internal Server Error");
}

std::string client_address(const http::Request& req, const std::vector<std::string>& trusted_proxies) {
  if (std::find(trusted_proxies.begin(), trusted_proxies.end(), req.remote_address) == trusted_proxies.end()) {
    return address_key(req.remote_address);
  }
  auto xff = req.header("X-Forwarded-For");
  if (!xff) return address_key(req.remote_address);
  // The last hop is the one our proxy added; earlier ones are the client's word.
  std::string_view v = *xff;
  auto comma = v.rfind(',');
  if (comma != std::string_view::npos) v.remove_prefix(comma + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return address_key(v.empty() ? req.remote_address : std::string(v));
}

void add_blocking(http::Router& router, AuthContext& ctx, const char* method, const char* path,
                  std::function<http::Response(const http::Request&)> handler) {
  auto h = std::make_shared<std::function<http::Response(const http::Request&)>>(std::move(handler));
  router.add(method, path, [&ctx, h](const http::Request& req, const http::Reply& reply) {
    // A flood of logins (~0.2 s of CPU each) must not queue for minutes or block this
    // HTTP thread on a full queue: refuse early instead.
    if (ctx.work.queued() > kMaxQueued) {
      auto busy = http::Response::error(503, "Too many requests in progress; try again shortly");
      busy.headers.set("Retry-After", "1");
      return reply(std::move(busy));
    }
    auto copy = std::make_shared<http::Request>(req);
    bool queued = ctx.work.submit([h, copy, reply]() mutable { reply((*h)(*copy)); });
    if (!queued) reply(http::Response::error(503, "Shutting down"));
  });
}

void add_account_routes(http::Router& router, AuthContext& ctx) {
  add_blocking(router, ctx, "POST", "/api/v1/auth/register",
               [&ctx](const http::Request& req) { return register_user(ctx, req); });
  add_blocking(router, ctx, "POST", "/api/v1/auth/login", [&ctx](const http::Request& req) { return login(ctx, req); });
  add_blocking(router, ctx, "POST", "/api/v1/auth/password",
               [&ctx](const http::Request& req) { return change_password(ctx, req); });
  add_blocking(router, ctx, "GET", "/api/v1/auth/me", [&ctx](const http::Request& req) {
    auto doc = ctx.store.user_doc(caller_of(req).user_id);
    if (!doc) return store_failure(doc.error());
    if (!*doc) return http::Response::error(404, "User not found");
    return http::Response::json(200, std::move(**doc));
  });
}

}  // namespace dm::gateway
