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
#include <memory>
#include <optional>
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
struct NewAdmin {
  std::string email, username, password;
};

// From the arguments and, without a password among them, standard input; nullopt (said on
// stderr) for anything unusable.
std::optional<NewAdmin> read_arguments(int argc, char** argv) {
  if (argc < 4 || argc > 5 || std::string(argv[1]) != "create-admin") {
    usage();
    return std::nullopt;
  }
  NewAdmin a{argv[2], argv[3], {}};
  if (argc == 5) {
    a.password = argv[4];
  } else if (!std::getline(std::cin, a.password)) {
    std::cerr << "dm-admin: no password given on standard input\n";
    return std::nullopt;
  }
  if (a.password.size() < 10) {
    std::cerr << "dm-admin: the password must be at least 10 characters long\n";
    return std::nullopt;
  }
  if (a.email.find('@') == std::string::npos || a.username.size() < 3 || a.username.find('@') != std::string::npos) {
    std::cerr << "dm-admin: expected an email address and a username of at least 3 characters (without '@')\n";
    return std::nullopt;
  }
  return a;
}

// The gateway's database with its migrations applied. 0, or the exit status (said on stderr).
int open_database(std::unique_ptr<dm::db::Pool>& pool) {
  using namespace dm;
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
  auto opened = db::Pool::open({.url = url, .size = 1, .schema = "gateway", .application_name = "dm-admin"});
  if (!opened) {
    std::cerr << "dm-admin: " << opened.error().message << "\n";
    return 1;
  }
  pool = std::move(opened).value();
  if (auto m = db::migrate(*pool, "gateway", gateway::migrations()); !m) {
    std::cerr << "dm-admin: cannot prepare the database: " << m.error().message << "\n";
    return 1;
  }
  return 0;
}

// Creates the account unless its email or username is taken (then nothing changes, and
// that is no failure). The exit status.
int create_admin(dm::db::Pool& pool, const NewAdmin& a) {
  using namespace dm;
  gateway::Store store(pool);
  for (const auto& who : {a.email, a.username}) {
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
  auto doc = store.create_user(a.email, a.username, gateway::hash_password(a.password), gateway::Role::admin);
  if (!doc) {
    if (doc.error().code == Errc::conflict) {
      std::cout << "A user with this email or username already exists; nothing changed.\n";
      return 0;
    }
    std::cerr << "dm-admin: " << doc.error().message << "\n";
    return 1;
  }
  std::cout << "Created admin user " << a.username << " <" << a.email << ">\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto admin = read_arguments(argc, argv);
  if (!admin) return 2;
  std::unique_ptr<dm::db::Pool> pool;
  if (int status = open_database(pool); status != 0) return status;
  return create_admin(*pool, *admin);
}
