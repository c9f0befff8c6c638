// The crash loop: a mixed workload (creates with coupons and an
// affiliate, payments, duplicate and conflicting callbacks, cancels,
// repeated creates, payment timeouts, service orders that get dispatched,
// split orders of goods and a service whose sagas the kills interrupt)
// against a real `ordo serve`, killed with SIGKILL at random moments N
// times (every other time it may first crash itself at an armed fault
// point: store.after_commit, right after a WAL write, or store.before_sync,
// with turns written and passed on inside the node but not yet fsynced) and
// restarted. After the last restart, once
// every deadline has passed and the outbox is empty, the node's auditor and the
// test's own recount from API reads must agree that no acknowledged write was
// lost, every rule of DESIGN.md holds and nothing happened twice.
//
//   crash_loop_test [-- --kills=N --seed=S]      (defaults: 5 kills, random)
//
// The seed is printed; run again with --seed=S to replay the same choices
// (the kill moments relative to the work are timing and may differ).

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/server_fixture.hpp"
#include "tests/support/process.hpp"

using namespace ordo;
using namespace ordo::test;

namespace {

/// --name=value from the test's command line (after "--"), or `fallback`.
std::uint64_t arg(const std::string& name, std::uint64_t fallback) {
  auto& suite = boost::unit_test::framework::master_test_suite();
  auto prefix = "--" + name + "=";
  for (int i = 1; i < suite.argc; ++i) {
    std::string a = suite.argv[i];
    if (a.rfind(prefix, 0) == 0) {
      return std::stoull(a.substr(prefix.size()));
    }
  }
  return fallback;
}

constexpr int users = 20;
constexpr std::int64_t stock = 1'000'000;
constexpr std::int64_t price = 100;

/// What the clients were told (acknowledged), per order.
struct acked_order {
  std::string user;
  /// Units by SKU (two SKUs: a split order).
  std::map<std::string, std::int64_t> items;
  std::int64_t payable = 0;
  std::uint64_t version = 0;      ///< highest version seen in a reply
  bool cancelled = false;         ///< a cancel answered 200 CANCELLED
  std::set<std::string> captured; ///< txns answered "captured"
  std::set<std::string> refunded; ///< txns answered "refunded"
};

class model {
public:
  void created(const std::string& key, const nlohmann::json& o,
               std::map<std::string, std::int64_t> items) {
    std::lock_guard<std::mutex> guard{mu_};
    auto& a = orders_[o["order_id"].get<std::string>()];
    a.user = o["user_id"];
    a.items = std::move(items);
    a.payable = o["payable"];
    a.version = std::max(a.version, o["version"].get<std::uint64_t>());
    keys_[key] = o["order_id"];
  }
  void paid(const std::string& id, const std::string& txn,
            const std::string& result) {
    std::lock_guard<std::mutex> guard{mu_};
    auto& a = orders_[id];
    if (result == "captured") {
      a.captured.insert(txn);
    } else if (result == "refunded") {
      a.refunded.insert(txn);
    }
  }
  void cancelled(const std::string& id, const nlohmann::json& o) {
    std::lock_guard<std::mutex> guard{mu_};
    auto& a = orders_[id];
    a.cancelled = o["status"] == "CANCELLED";
    a.version = std::max(a.version, o["version"].get<std::uint64_t>());
  }
  /// A random acknowledged order id ("" if none yet).
  std::string pick(std::mt19937_64& rng) {
    std::lock_guard<std::mutex> guard{mu_};
    if (orders_.empty()) {
      return {};
    }
    auto i = orders_.begin();
    std::advance(i, rng() % orders_.size());
    return i->first;
  }
  std::int64_t payable(const std::string& id) {
    std::lock_guard<std::mutex> guard{mu_};
    return orders_[id].payable;
  }
  std::map<std::string, acked_order> orders() {
    std::lock_guard<std::mutex> guard{mu_};
    return orders_;
  }
  std::map<std::string, std::string> keys() {
    std::lock_guard<std::mutex> guard{mu_};
    return keys_;
  }

private:
  std::mutex mu_;
  std::map<std::string, acked_order> orders_;
  std::map<std::string, std::string> keys_; ///< Idempotency-Key -> order
};

/// One client's random operations until `stop`; every error (the node
/// died) ends it.
void client(std::uint16_t port, std::uint64_t seed, int round,
            std::atomic<bool>& stop, model& m) {
  std::mt19937_64 rng{seed};
  try {
    http_client c{port};
    for (int n = 0; !stop; ++n) {
      auto dice = rng() % 100;
      if (dice < 40) {
        // A new order, sometimes with the user's coupon and the affiliate.
        auto u = "u" + std::to_string(rng() % users);
        auto key = "r" + std::to_string(round) + "-"
                   + std::to_string(seed % 1000) + "-" + std::to_string(n);
        // Goods, a service, or both (a split order).
        std::map<std::string, std::int64_t> items;
        auto kind = rng() % 8;
        if (kind != 0) {
          items[kind < 3 ? "S" : "A"]
            = static_cast<std::int64_t>(1 + rng() % 3);
        }
        if (kind == 0 || kind == 1) {
          items["A"] = static_cast<std::int64_t>(1 + rng() % 3);
          items["S"] = static_cast<std::int64_t>(1 + rng() % 3);
        }
        auto lines = nlohmann::json::array();
        for (const auto& [sku, q] : items) {
          lines.push_back({{"sku", sku}, {"quantity", q}});
        }
        nlohmann::json body{{"user_id", u}, {"items", lines}};
        if (rng() % 3 == 0) {
          body["coupon_id"] = "c-" + u;
        }
        if (rng() % 2 == 0) {
          body["affiliate_id"] = "aff";
        }
        auto r = c.post("/v1/orders", body.dump(), {{"Idempotency-Key", key}});
        if (r.status == 201 || r.status == 200) {
          m.created(key, r.json, items);
          if (rng() % 5 == 0) { // the client retries: same order back
            auto again
              = c.post("/v1/orders", body.dump(), {{"Idempotency-Key", key}});
            BOOST_CHECK_EQUAL(again.status, 200u);
            BOOST_CHECK_EQUAL(again.json["order_id"], r.json["order_id"]);
          }
        }
        continue;
      }
      auto id = m.pick(rng);
      if (id.empty()) {
        continue;
      }
      if (dice < 75) {
        // Its payment (one txn per order; retried), now and then a second,
        // conflicting one.
        auto txn = rng() % 10 == 0 ? "t2-" + id : "t-" + id;
        for (int i = 0, n2 = 1 + static_cast<int>(rng() % 2); i < n2; ++i) {
          auto r = pay(c, id, txn, m.payable(id));
          if (r.status == 200) {
            m.paid(id, txn, r.json["result"]);
          }
        }
      } else {
        auto r = cancel(c, id);
        if (r.status == 200) {
          m.cancelled(id, r.json);
        }
      }
    }
  } catch (const std::exception&) {
    // The node was killed under this client.
  }
}

bool paid_status(const std::string& st) {
  return st == "PAID" || st == "DISPATCHED" || st == "COMPLETED";
}

} // namespace

BOOST_AUTO_TEST_SUITE(crash_loop)

BOOST_AUTO_TEST_CASE(random_kills_lose_nothing_and_repeat_nothing) {
  auto kills = arg("kills", 5);
  auto seed = arg("seed", std::random_device{}());
  BOOST_TEST_MESSAGE("crash loop: " << kills << " kills, --seed=" << seed);
  std::mt19937_64 rng{seed};
  temp_dir dir;
  std::vector<std::string> flags{"--data",
                                 dir.path() + "/db",
                                 "--http",
                                 "127.0.0.1:0",
                                 "--admin-token",
                                 admin_token,
                                 "--payment-secret",
                                 payment_secret,
                                 "--rate-limit",
                                 "off",
                                 "--captcha-after",
                                 "0",
                                 "--payment-timeout",
                                 "2s",
                                 "--reservation-ttl",
                                 "2s",
                                 "--notify-delay",
                                 "300ms",
                                 "--notify-ttl",
                                 "1m",
                                 "--dispatch-delay",
                                 "300ms",
                                 "--technicians",
                                 "ann,bob",
                                 "--audit-interval",
                                 "0",
                                 "--durability",
                                 "sync"};
  // Every other round the node also carries an armed crash point: it
  // kills itself right after a WAL write, before anyone is told; or right
  // before an fsync, when other actors of the node have acted on writes
  // nobody outside has heard of (docs/durability.md).
  auto start = [&](const char* armed) {
    auto args = flags;
    if (armed != nullptr) {
      args.push_back("--faults");
      args.push_back(std::string{armed} + "=crash@0.01");
    }
    // An armed node may kill itself in its own start-up writes (the relay
    // records where its retry horizon starts): one more crash, so it is
    // started again, as a supervisor would.
    for (int tries = 1;; ++tries) {
      try {
        return std::make_unique<server_process>(ORDO_BINARY, args,
                                                dir.path() + "/ordo.log");
      } catch (const std::runtime_error& e) {
        if (!armed || tries == 20) {
          throw;
        }
        BOOST_TEST_MESSAGE("crashed while starting (" << e.what()
                                                      << "); again");
      }
    }
  };
  auto server = start(nullptr);
  {
    http_client c{server->port()};
    BOOST_REQUIRE_EQUAL(put_sku(c, "A", stock, price).status, 200u);
    BOOST_REQUIRE_EQUAL(put_sku(c, "S", stock, price, "service").status, 200u);
    for (int u = 0; u < users; ++u) {
      auto user = "u" + std::to_string(u);
      BOOST_REQUIRE_EQUAL(
        c.put("/v1/coupons/c-" + user,
              R"({"user_id":")" + user + R"(","discount":50})",
              bearer(admin_token))
          .status,
        200u);
    }
  }
  model m;
  for (std::uint64_t round = 0; round < kills; ++round) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back(client, server->port(), rng(),
                           static_cast<int>(round), std::ref(stop),
                           std::ref(m));
    }
    // The kill comes at a random moment of the work: chaos, not a wait.
    std::this_thread::sleep_for(std::chrono::milliseconds{100 + rng() % 400});
    server->kill_and_wait(SIGKILL); // if it has not crashed by itself
    stop = true;
    for (auto& t : clients) {
      t.join();
    }
    const char* armed = nullptr;
    if (round + 1 < kills && (round + 1) % 2 == 1) {
      armed = (round + 1) % 4 == 1 ? "store.after_commit" : "store.before_sync";
    }
    server = start(armed);
  }

  // After the last restart: every acknowledged write is there.
  http_client c{server->port()};
  auto acked = m.orders();
  for (const auto& [key, id] : m.keys()) {
    BOOST_REQUIRE_EQUAL(c.get("/v1/orders/" + id).status, 200u);
  }
  for (const auto& [id, a] : acked) {
    auto o = c.get("/v1/orders/" + id).json;
    BOOST_CHECK_GE(o["version"].get<std::uint64_t>(), a.version);
    if (a.cancelled) {
      BOOST_CHECK_EQUAL(o["status"], "CANCELLED");
    }
    if (!a.captured.empty()) {
      BOOST_CHECK_MESSAGE(paid_status(o["status"]) || o["status"] == "REFUNDED",
                          id << " was captured, now " << o["status"]);
      BOOST_CHECK_LE(a.captured.size(), 1u); // one payment applies, at most
    }
  }
  // Let everything settle: deadlines pass, cooling periods end (a status
  // check lost in a kill is retried after its re-check delay), the outbox
  // drains.
  auto settled = [&](const std::string& id) {
    auto o = c.get("/v1/orders/" + id).json;
    if (o["status"] == "PENDING_PAYMENT") {
      return false;
    }
    for (auto& p : o["payments"]) {
      if (p["status"] == "REFUND_PENDING") {
        return false;
      }
    }
    auto n = c.get("/v1/notifications?order_id=" + id).json;
    for (auto& note : n["notifications"]) {
      if (note["status"] == "PENDING") {
        return false;
      }
    }
    return true;
  };
  for (const auto& [id, a] : acked) {
    BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              return settled(id);
                            },
                            std::chrono::seconds{60}),
                          id << " did not settle");
  }
  BOOST_REQUIRE(eventually([&] {
    return c.get("/v1/admin/outbox", bearer(admin_token)).json["backlog"] == 0;
  }));

  // The auditor finds nothing.
  auto audit = c.get("/v1/admin/audit", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(audit.status, 200u);
  BOOST_CHECK_MESSAGE(audit.json["ok"] == true && audit.json["healed"].empty(),
                      audit.body);

  // The recount from API reads.
  std::map<std::string, std::int64_t> sold;
  std::map<std::string, int> refunds_owed;         // order -> refunded payments
  std::map<std::string, std::string> coupon_users; // coupon -> paying order
  for (const auto& [id, a] : acked) {
    auto o = c.get("/v1/orders/" + id).json;
    std::string st = o["status"];
    if (paid_status(st)) {
      for (const auto& [sku, q] : a.items) {
        sold[sku] += q;
      }
    }
    // A split order's children end as their parent did (rule 9).
    BOOST_CHECK_EQUAL(o["children"].size(), a.items.size() > 1 ? 2u : 0u);
    for (auto& child_id : o["children"]) {
      auto child = c.get("/v1/orders/" + child_id.get<std::string>()).json;
      std::string cst = child["status"];
      BOOST_CHECK_MESSAGE(cst == st || (paid_status(st) && paid_status(cst)),
                          child_id << " is " << cst << " under its " << st
                                   << " parent " << id);
    }
    int captured = 0;
    for (auto& p : o["payments"]) {
      if (p["status"] == "REFUNDED") {
        ++refunds_owed[id];
      } else {
        BOOST_CHECK_EQUAL(p["status"], "CAPTURED");
        ++captured;
      }
    }
    BOOST_CHECK_EQUAL(captured, paid_status(st) ? 1 : 0); // rule 2 and 3
    for (const auto& txn : a.refunded) {
      bool found = false;
      for (auto& p : o["payments"]) {
        found = found || (p["txn_id"] == txn && p["status"] == "REFUNDED");
      }
      BOOST_CHECK_MESSAGE(found, "refund of " << txn << " missing on " << id);
    }
    if (!o["coupon_id"].is_null() && paid_status(st)) {
      auto cid = o["coupon_id"].get<std::string>();
      auto coupon = c.get("/v1/coupons/" + cid, bearer(admin_token)).json;
      BOOST_CHECK_EQUAL(coupon["status"], "USED");
      BOOST_CHECK_EQUAL(coupon["order_id"], id);
      BOOST_CHECK_MESSAGE(coupon_users.emplace(cid, id).second,
                          cid << " backs two paid orders"); // rule 6
    }
    if (st == "CANCELLED" && !o["coupon_id"].is_null()) {
      auto coupon = c.get("/v1/coupons/" + o["coupon_id"].get<std::string>(),
                          bearer(admin_token))
                      .json;
      BOOST_CHECK(coupon["order_id"] != id); // returned
    }
    auto n = c.get("/v1/notifications?order_id=" + id).json["notifications"];
    for (auto& note : n) {
      BOOST_CHECK(note["status"] != "PENDING"); // rule 8: settled
    }
  }
  // Stock (rule 5): SKUs hold exactly what the orders say, and nothing is
  // reserved once every order has settled.
  for (const auto* sku : {"A", "S"}) {
    // Orders created but never acknowledged (killed mid-create) hold stock
    // until their reservations expire.
    BOOST_CHECK(eventually([&] {
      return get_sku(c, sku).json["reserved"] == 0;
    }));
    auto s = get_sku(c, sku).json;
    BOOST_CHECK_EQUAL(s["sold"].get<std::int64_t>(), sold[sku]);
    BOOST_CHECK_EQUAL(s["available"].get<std::int64_t>()
                        + s["sold"].get<std::int64_t>(),
                      stock);
  }
  // Refunds (rule 2): the provider got each refund exactly once.
  std::map<std::string, int> at_provider;
  std::set<std::string> refund_ids;
  auto calls = c.get("/v1/admin/sandbox/calls", bearer(admin_token)).json;
  for (auto& call : calls["calls"]) {
    if (call["kind"] == "refund") {
      BOOST_CHECK(refund_ids.insert(call["id"].get<std::string>()).second);
      ++at_provider[call["order_id"].get<std::string>()];
    }
  }
  for (const auto& [id, n] : refunds_owed) {
    BOOST_CHECK_EQUAL(at_provider[id], n);
  }
  // Every SMS that went out was sent for a notification recorded SENT.
  std::set<std::string> sms_ids;
  auto sent = c.get("/v1/admin/sms", bearer(admin_token)).json;
  for (auto& s : sent["sms"]) {
    BOOST_CHECK(sms_ids.insert(s["notification_id"].get<std::string>()).second);
  }
  BOOST_TEST_MESSAGE(
    "after " << kills << " kills: " << acked.size() << " acknowledged orders, "
             << sold["A"] + sold["S"] << " units sold, " << refund_ids.size()
             << " refunds, " << sms_ids.size() << " SMS; --seed=" << seed);
}

BOOST_AUTO_TEST_SUITE_END()
