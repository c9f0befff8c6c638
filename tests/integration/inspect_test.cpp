// `ordo inspect` and `ordo audit` against real processes: a running node
// over HTTP (--url) and the same node's storage after kill -9 (--data,
// read-only).

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <string>
#include <vector>

#include "tests/integration/server_fixture.hpp"
#include "tests/support/process.hpp"

using namespace ordo;
using namespace ordo::test;

BOOST_AUTO_TEST_SUITE(inspect_command)

BOOST_AUTO_TEST_CASE(reads_a_running_node_and_its_storage_after_a_kill) {
  temp_dir dir;
  auto db = dir.path() + "/db";
  auto server = std::make_unique<server_process>(
    ORDO_BINARY,
    std::vector<std::string>{"--data", db, "--http", "127.0.0.1:0",
                             "--admin-token", admin_token, "--payment-secret",
                             payment_secret},
    dir.path() + "/ordo.log");
  http_client c{server->port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 10).status, 200u);
  auto created = create_order(c, "k1", "u1", "A", 2);
  BOOST_REQUIRE_EQUAL(created.status, 201u);
  std::string id = created.json["order_id"];
  BOOST_REQUIRE_EQUAL(cancel(c, id).status, 200u);

  auto url = "http://127.0.0.1:" + std::to_string(server->port());
  auto live
    = run_to_exit(ORDO_BINARY, {"inspect", "--url", url, "--admin-token",
                                admin_token, "order", id});
  BOOST_REQUIRE_MESSAGE(live.exit_code == 0, live.output);
  auto j = nlohmann::json::parse(live.output);
  BOOST_CHECK_EQUAL(j["kind"], "order");
  BOOST_CHECK_EQUAL(j["id"], id);
  BOOST_CHECK_EQUAL(j["version"], 2);
  BOOST_CHECK_EQUAL(j["active"], true);
  BOOST_REQUIRE_EQUAL(j["journal"].size(), 2u);
  BOOST_CHECK_EQUAL(j["journal"][1]["event"], "cancelled");
  auto denied
    = run_to_exit(ORDO_BINARY, {"inspect", "--url", url, "--admin-token",
                                "wrong", "order", id});
  BOOST_CHECK_NE(denied.exit_code, 0);
  BOOST_CHECK(denied.output.find("401") != std::string::npos);

  auto audit = run_to_exit(
    ORDO_BINARY, {"audit", "--url", url, "--admin-token", admin_token});
  BOOST_CHECK_MESSAGE(audit.exit_code == 0, audit.output);
  BOOST_CHECK_EQUAL(nlohmann::json::parse(audit.output)["ok"], true);

  server->kill_and_wait(SIGKILL);
  auto offline = run_to_exit(ORDO_BINARY, {"audit", "--data", db});
  BOOST_CHECK_MESSAGE(offline.exit_code == 0, offline.output);
  BOOST_CHECK_EQUAL(nlohmann::json::parse(offline.output)["violations"].size(),
                    0u);
  auto stored
    = run_to_exit(ORDO_BINARY, {"inspect", "--data", db, "order", id});
  BOOST_REQUIRE_MESSAGE(stored.exit_code == 0, stored.output);
  auto k = nlohmann::json::parse(stored.output);
  BOOST_CHECK_EQUAL(k["version"], 2);
  BOOST_CHECK_EQUAL(k["active"], false);
  BOOST_CHECK_EQUAL(k["state"]["status"], "CANCELLED");
  BOOST_CHECK_EQUAL(k["journal"], j["journal"]);
  auto sku = run_to_exit(ORDO_BINARY, {"inspect", "--data", db, "sku", "A"});
  BOOST_REQUIRE_MESSAGE(sku.exit_code == 0, sku.output);
  BOOST_CHECK_EQUAL(nlohmann::json::parse(sku.output)["state"]["available"],
                    10);
}

BOOST_AUTO_TEST_CASE(bad_arguments_fail_with_a_message) {
  temp_dir dir;
  struct bad {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& b : std::vector<bad>{
         {{"inspect", "order"}, "id"},
         {{"inspect", "order", "o1"}, "--data"},
         {{"inspect", "--data", dir.path(), "--url", "http://127.0.0.1:1",
           "order", "o1"},
          "--url"},
         {{"inspect", "--url", "ftp://x", "--admin-token", "t", "order", "o1"},
          "--url"},
         {{"inspect", "--data", dir.path() + "/none", "order", "o1"}, ""},
         {{"inspect", "--data", dir.path(), "gizmo", "o1"}, "gizmo"},
         {{"audit"}, "--data"},
         {{"audit", "--url", "http://127.0.0.1:1"}, "--admin-token"},
         {{"audit", "--data", dir.path() + "/none"}, ""},
       }) {
    auto r = run_to_exit(ORDO_BINARY, b.args);
    BOOST_CHECK_MESSAGE(r.exit_code != 0, "exit 0 for " << b.args.size());
    BOOST_CHECK_MESSAGE(r.output.find(b.says) != std::string::npos, r.output);
  }
}

BOOST_AUTO_TEST_SUITE_END()
