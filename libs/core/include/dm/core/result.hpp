#pragma once
// One error type for the whole project: a Result<T> holds either a value or an Error.
// Foreign errors (error_code, natsStatus, PGresult, V8 exceptions) are translated into
// Error at the edge of the library that meets them; the data path never throws.
#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace dm {

enum class Errc {
  invalid_argument,  // bad input from outside (400/422)
  not_found,         // unknown id (404)
  conflict,          // duplicate or in use (409)
  unauthorized,      // missing or bad credentials (401)
  forbidden,         // authenticated but not allowed (403)
  too_large,         // body or value over a limit (413)
  unavailable,       // a dependency (NATS, PostgreSQL, a target) cannot be reached (503)
  timeout,           // a deadline passed (504)
  internal,          // a bug or an unexpected state (500)
};

std::string_view errc_name(Errc code);
int errc_http_status(Errc code);

struct Error {
  Errc code = Errc::internal;
  std::string message;

  Error() = default;
  Error(Errc c, std::string m) : code(c), message(std::move(m)) {}
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& take_error() {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

  T value_or(T fallback) const { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  Error&& take_error() {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> ok() { return {}; }

inline Error make_error(Errc code, std::string message) { return Error(code, std::move(message)); }

}  // namespace dm

// Propagates an error from an expression of type Result<...>, like Rust's `?`.
#define DM_TRY(expr)                                              \
  do {                                                            \
    auto dm_try_result_ = (expr);                                 \
    if (!dm_try_result_.ok()) return dm_try_result_.take_error(); \
  } while (0)

#define DM_CONCAT_INNER(a, b) a##b
#define DM_CONCAT(a, b) DM_CONCAT_INNER(a, b)
// DM_ASSIGN_OR_RETURN(auto x, expr): binds the value of expr or returns its error.
#define DM_ASSIGN_OR_RETURN(decl, expr)                                                     \
  auto DM_CONCAT(dm_res_, __LINE__) = (expr);                                               \
  if (!DM_CONCAT(dm_res_, __LINE__).ok()) return DM_CONCAT(dm_res_, __LINE__).take_error(); \
  decl = std::move(DM_CONCAT(dm_res_, __LINE__)).value()
