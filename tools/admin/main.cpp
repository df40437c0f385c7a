// dm-admin: creates the first admin account, as the original's
// `create_admin_user.py <email> <username> <password>` did.
//
//   dm-admin create-admin <email> <username> [<password>]
//
// Without <password> the password is read from the first line of standard input, so it
// does not appear in `ps` or the shell history. The database is the gateway's
// (GATEWAY_DATABASE_URL, else DATABASE_URL; a .env file is read as by the services); the
// gateway's migrations are applied first, so this works on a fresh database. Running it
// again for an existing email or username says so and changes nothing (exit status 0).
#include <iostream>
#include <string>

#include "crypto.hpp"
#include "dm/core/config.hpp"
#include "dm/db/migrations.hpp"
#include "store.hpp"

namespace dm::gateway {
const std::vector<dm::db::Migration>& migrations();  // generated from services/gateway/migrations
}

namespace {
int usage() {
  std::cerr << "usage: dm-admin create-admin <email> <username> [<password>]\n"
               "       (without <password>, the password is read from standard input)\n"
               "environment: GATEWAY_DATABASE_URL or DATABASE_URL\n";
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace dm;
  if (argc < 4 || argc > 5 || std::string(argv[1]) != "create-admin") return usage();
  std::string email = argv[2];
  std::string username = argv[3];
  std::string password;
  if (argc == 5) {
    password = argv[4];
  } else if (!std::getline(std::cin, password)) {
    std::cerr << "dm-admin: no password given on standard input\n";
    return 2;
  }
  if (password.size() < 10) {
    std::cerr << "dm-admin: the password must be at least 10 characters long\n";
    return 2;
  }
  if (email.find('@') == std::string::npos || username.size() < 3 || username.find('@') != std::string::npos) {
    std::cerr << "dm-admin: expected an email address and a username of at least 3 characters (without '@')\n";
    return 2;
  }

  Config config("GATEWAY");
  if (auto r = config.load_env_file(config.str("DM_ENV_FILE", ".env")); !r) {
    std::cerr << "dm-admin: " << r.error().message << "\n";
    return 1;
  }
  std::string url = config.str("DATABASE_URL", "");
  if (url.empty()) {
    std::cerr << "dm-admin: set GATEWAY_DATABASE_URL (or DATABASE_URL)\n";
    return 2;
  }
  auto pool = db::Pool::open({.url = url, .size = 1, .schema = "gateway", .application_name = "dm-admin"});
  if (!pool) {
    std::cerr << "dm-admin: " << pool.error().message << "\n";
    return 1;
  }
  if (auto m = db::migrate(**pool, "gateway", gateway::migrations()); !m) {
    std::cerr << "dm-admin: cannot prepare the database: " << m.error().message << "\n";
    return 1;
  }
  gateway::Store store(**pool);
  for (const auto& who : {email, username}) {
    auto existing = store.find_login(who);
    if (!existing) {
      std::cerr << "dm-admin: " << existing.error().message << "\n";
      return 1;
    }
    if (*existing) {
      std::cout << "A user with email or username '" << who << "' already exists; nothing changed.\n";
      return 0;
    }
  }
  auto doc = store.create_user(email, username, gateway::hash_password(password), gateway::Role::admin);
  if (!doc) {
    if (doc.error().code == Errc::conflict) {
      std::cout << "A user with this email or username already exists; nothing changed.\n";
      return 0;
    }
    std::cerr << "dm-admin: " << doc.error().message << "\n";
    return 1;
  }
  std::cout << "Created admin user " << username << " <" << email << ">\n";
  return 0;
}
