// `ordo inspect` and `ordo audit` against real processes: a running node
// over HTTP (--url) and the same node's storage after kill -9 (--data,
// read-only); and what GET /v1/admin/actors/{kind}/{id} shows of each kind.

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/server_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/json_within.hpp"
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

namespace {

/// The `state` of GET /v1/admin/actors/{kind}/{id}.
nlohmann::json inspect_state(http_client& c, const std::string& kind,
                             const std::string& id) {
  auto r = c.get("/v1/admin/actors/" + kind + "/" + id, bearer(admin_token));
  BOOST_REQUIRE_MESSAGE(r.status == 200u, kind << "/" << id << ": " << r.body);
  return r.json["state"];
}

/// `state` holds every field of the API's `body`, with the same value.
void check_shows(const nlohmann::json& body, const nlohmann::json& state) {
  std::string where;
  BOOST_CHECK_MESSAGE(json_within(body, state, &where),
                      where << "\n  state: " << state.dump());
}

/// None of the stored form's short names is a key of `state`.
void check_lacks(const nlohmann::json& state,
                 std::initializer_list<const char*> stored) {
  for (const auto* key : stored) {
    BOOST_CHECK_MESSAGE(!state.contains(key),
                        "stored key " << key << " in " << state.dump());
  }
}

/// Order `key` of `user`: two of SKU "A", coupon c1, affiliate aff1.
http_response create_with_coupon(http_client& c, const std::string& key,
                                 const std::string& user) {
  nlohmann::json body{{"user_id", user},
                      {"items", {{{"sku", "A"}, {"quantity", 2}}}},
                      {"coupon_id", "c1"},
                      {"affiliate_id", "aff1"}};
  return c.post("/v1/orders", body.dump(), {{"Idempotency-Key", key}});
}

} // namespace

// Every kind a node hosts, over HTTP: the same names as the API, and for an
// object the API shows, every field of its GET with the same value.
BOOST_AUTO_TEST_CASE(inspection_uses_the_api_names_for_every_kind) {
  temp_dir dir;
  server_process server{
    ORDO_BINARY,
    {"--data", dir.path() + "/db", "--http", "127.0.0.1:0", "--admin-token",
     admin_token, "--payment-secret", payment_secret, "--notify-delay", "50ms",
     "--dispatch-delay", "50ms", "--technicians", "t1", "--captcha-after", "1"},
    dir.path() + "/ordo.log"};
  http_client c{server.port()};
  auto admin = bearer(admin_token);
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 10).status, 200u);
  BOOST_REQUIRE_EQUAL(put_sku(c, "S", 5, 3000, "service").status, 200u);
  BOOST_REQUIRE_EQUAL(
    c.put("/v1/coupons/c1", R"({"user_id":"u1","discount":100})", admin).status,
    200u);
  auto created = create_with_coupon(c, "k1", "u1");
  BOOST_REQUIRE_MESSAGE(created.status == 201u, created.body);
  std::string id = created.json["order_id"];
  auto service = create_order(c, "k2", "u2", "S", 1);
  BOOST_REQUIRE_EQUAL(service.status, 201u);
  std::string paid_id = service.json["order_id"];
  BOOST_REQUIRE_EQUAL(pay(c, paid_id, "t-2", 3000).status, 200u);
  auto flash = create_order(c, "k3", "u3", "A", 1);
  BOOST_REQUIRE_EQUAL(flash.status, 201u);
  std::string flash_id = flash.json["order_id"];
  BOOST_REQUIRE_EQUAL(cancel(c, flash_id).status, 200u);
  auto gated = create_order(c, "k4", "u3", "A", 1);
  BOOST_REQUIRE_EQUAL(gated.status, 403u);

  // Settled: the SMS sent, the technician assigned, the commission and the
  // report records delivered, the cancelled order's stock back.
  auto notifications = [&] {
    return c.get("/v1/notifications?order_id=" + id).json;
  };
  auto dispatches = [&] {
    return c.get("/v1/dispatches?order_id=" + paid_id).json;
  };
  auto commissions = [&] {
    return c.get("/v1/affiliates/aff1/commissions").json;
  };
  auto sales = [&] {
    return c.get("/v1/reports/sales", admin).json;
  };
  BOOST_REQUIRE(eventually([&] {
    auto n = notifications()["notifications"];
    auto d = dispatches()["dispatches"];
    auto s = sales();
    return !n.empty() && n[0]["status"] == "SENT" && !d.empty()
           && d[0]["status"] == "ASSIGNED" && commissions()["pending"] == 95
           && s["placed"]["count"] == 3 && s["paid"]["count"] == 1
           && s["cancelled"]["count"] == 1
           && get_sku(c, "A").json["reserved"] == 2;
  }));

  auto order = inspect_state(c, "order", id);
  check_shows(c.get("/v1/orders/" + id).json, order);
  BOOST_CHECK_EQUAL(order["status"], "PENDING_PAYMENT");
  BOOST_CHECK_EQUAL(order["payable"], 1900);
  BOOST_CHECK(order["fingerprint"].is_string());
  BOOST_CHECK(order["token"].is_string());
  check_lacks(order, {"st", "amt", "disc", "pay", "fp", "v", "created"});

  auto sku = inspect_state(c, "sku", "A");
  check_shows(get_sku(c, "A").json, sku);
  BOOST_REQUIRE_EQUAL(sku["reservations"].size(), 1u);
  BOOST_CHECK_EQUAL(sku["reservations"][0]["order_id"], id);
  BOOST_CHECK_EQUAL(sku["reservations"][0]["quantity"], 2);
  BOOST_CHECK_EQUAL(sku["reservations"][0]["token"], order["token"]);
  BOOST_CHECK(sku["reservations"][0]["expires_at"].is_string());
  check_lacks(sku, {"avail", "resv", "entries", "updated"});

  auto coupon = inspect_state(c, "coupon", "c1");
  check_shows(c.get("/v1/coupons/c1", admin).json, coupon);
  BOOST_CHECK_EQUAL(coupon["status"], "LOCKED");
  BOOST_CHECK_EQUAL(coupon["lock"]["token"], order["token"]);
  BOOST_CHECK(coupon["lock"]["expires_at"].is_string());
  check_lacks(coupon, {"st", "disc", "min", "exp", "order"});

  auto affiliate = inspect_state(c, "affiliate", "aff1");
  check_shows(commissions(), affiliate);
  BOOST_CHECK_EQUAL(affiliate["entries"][0]["amount_known"], true);
  check_lacks(affiliate, {"pend", "inv", "set", "claw"});

  // The order keeps its admin SMS: inspected with the order.
  auto sms = order["sms"];
  check_shows(notifications(), sms);
  BOOST_CHECK_EQUAL(sms["notifications"][0]["in_flight"], false);
  BOOST_CHECK_EQUAL(sms["order_id"], id);
  check_lacks(sms, {"new_order", "cancel", "due", "checking"});
  // No notifier actor was made for it.
  auto legacy = c.get("/v1/admin/actors/notifier/" + id, bearer(admin_token));
  BOOST_REQUIRE_EQUAL(legacy.status, 200u);
  BOOST_CHECK_EQUAL(legacy.json["exists"], false);

  auto dispatcher = inspect_state(c, "dispatcher", paid_id);
  check_shows(dispatches(), dispatcher);
  BOOST_CHECK(dispatcher["waiting_for"].is_string());
  check_lacks(dispatcher, {"tech", "st", "paid", "wait", "asked"});

  auto pool = inspect_state(c, "technicians", "all");
  BOOST_CHECK_EQUAL(pool["load"], nlohmann::json::parse(
                                    R"([{"technician":"t1",
                                         "active_assignments":1}])"));
  BOOST_CHECK_EQUAL(pool["assignments"][0]["dispatch_id"],
                    dispatches()["dispatches"][0]["dispatch_id"]);
  BOOST_CHECK_EQUAL(pool["assignments"][0]["technician"], "t1");
  check_lacks(pool, {"last", "entries"});

  auto limiter = inspect_state(c, "limiter", "u3");
  BOOST_CHECK_EQUAL(limiter["user_id"], "u3");
  BOOST_CHECK_EQUAL(limiter["challenge"]["id"], gated.json["challenge"]["id"]);
  BOOST_CHECK_EQUAL(limiter["challenge"]["question"],
                    gated.json["challenge"]["question"]);
  BOOST_CHECK_EQUAL(limiter["challenge"].size(), 3u); // never the answer
  check_lacks(limiter, {"user", "ch", "adm", "issued"});

  // The report shards of the three orders hold every order placed, so
  // their tallies add up to the sales report's.
  auto report = sales();
  report["flash_cancels"].erase("window_seconds");
  std::set<std::string> shards;
  for (const auto& o : {id, paid_id, flash_id}) {
    shards.insert(o.substr(0, 5));
  }
  for (const auto& [key, total] : report.items()) {
    if (!total.contains("count") || key == "top_flash_cancel_users") {
      continue;
    }
    std::int64_t count = 0;
    std::int64_t amount = 0;
    for (const auto& shard : shards) {
      auto s = inspect_state(c, "report", shard);
      BOOST_REQUIRE_MESSAGE(s.contains(key), key << " not in " << s.dump());
      count += s[key]["count"].get<std::int64_t>();
      amount += s[key]["amount"].get<std::int64_t>();
    }
    BOOST_CHECK_MESSAGE(count == total["count"] && amount == total["amount"],
                        key << ": " << count << "/" << amount << " vs "
                            << total.dump());
  }
  auto flash_shard = inspect_state(c, "report", flash_id.substr(0, 5));
  BOOST_CHECK_EQUAL(flash_shard["flash_cancels_by_user"][0]["user_id"], "u3");
  BOOST_CHECK_EQUAL(flash_shard["top_flash_cancel_users"][0]["user_id"], "u3");
  check_lacks(flash_shard, {"manual", "flash", "top", "users", "v"});
}

BOOST_AUTO_TEST_SUITE_END()
