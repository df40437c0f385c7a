#include "routes.hpp"

namespace dm::gateway {

// Served by the gateway itself (service "gateway"): accounts, API keys, users.
std::vector<RouteSpec> auth_routes() {
  using A = Access;
  return {
      {"POST", "/api/v1/auth/register", "gateway", "auth",
       "Register an account (gets the default role): 202 whether or not the email and username were free, so that "
       "nobody learns which accounts exist; log in to use it. 403 when ALLOW_REGISTRATION=false; 429 after "
       "REGISTRATION_LIMIT attempts per address and hour",
       A::public_, "UserCreate", "RegistrationAccepted", 202},
      {"POST", "/api/v1/auth/login", "gateway", "auth",
       "Log in with username (or email) and password, as an OAuth2 form or JSON; 429 after 10 failures in 5 minutes",
       A::public_, "LoginRequest", "Token"},
      {"GET", "/api/v1/auth/me", "gateway", "auth", "The authenticated user", A::viewer, nullptr, "User"},
      {"POST", "/api/v1/auth/password", "gateway", "auth",
       "Change your password, given the current one: every token issued before stops working and the answer "
       "carries a fresh one; 403 for a wrong current password (counted as a failed login); API keys stay valid",
       A::viewer, "PasswordChange", "Token"},
      {"POST", "/api/v1/auth/api-keys", "gateway", "auth",
       "Create an API key (role no higher than yours); the key is shown only in this answer", A::viewer, "ApiKeyCreate",
       "ApiKeyCreated", 201},
      {"GET",
       "/api/v1/auth/api-keys",
       "gateway",
       "auth",
       "Your API keys (admins: everyone's), without secrets",
       A::viewer,
       nullptr,
       "ApiKey[]",
       200,
       {kSkip, kLimit, {"user_id", "string", "Admins: only this user's keys"}}},
      {"DELETE", "/api/v1/auth/api-keys/{id}", "gateway", "auth", "Revoke an API key (admins: anyone's)", A::viewer,
       nullptr, nullptr, 204},
      {"GET", "/api/v1/users", "gateway", "users", "List users", A::admin, nullptr, "User[]", 200, {kSkip, kLimit}},
      {"GET", "/api/v1/users/{id}", "gateway", "users", "Get a user", A::admin, nullptr, "User"},
      {"PATCH", "/api/v1/users/{id}", "gateway", "users",
       "Change a user's role or active state (takes effect on their next request)", A::admin, "UserUpdate", "User"},
      {"POST", "/api/v1/users/{id}/deactivate", "gateway", "users",
       "Deactivate a user: their tokens and API keys stop working at once", A::admin, nullptr, "User"},
  };
}

}  // namespace dm::gateway
