// kill -9 of a real `ordo serve` process (non-negotiable 4): nothing
// acknowledged is lost, and deadlines that passed while it was down are
// enforced soon after restart.

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/provider_process.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/support/process.hpp"

using namespace ordo;
using namespace ordo::test;

namespace {

struct process_fixture {
  temp_dir dir;

  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"--data",           dir.path() + "/db",
                               "--http",           "127.0.0.1:0",
                               "--admin-token",    admin_token,
                               "--payment-secret", payment_secret,
                               "--rate-limit",     "off",
                               "--captcha-after",  "0"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::unique_ptr<server_process> start(std::vector<std::string> extra = {}) {
    return std::make_unique<server_process>(ORDO_BINARY, args(extra),
                                            dir.path() + "/ordo.log");
  }
};

std::int64_t field(const nlohmann::json& j, const char* name) {
  return j.at(name).get<std::int64_t>();
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(crash, process_fixture)

BOOST_AUTO_TEST_CASE(sigkill_under_create_load_loses_no_acknowledged_order) {
  auto server = start();
  {
    http_client admin{server->port()};
    BOOST_REQUIRE_EQUAL(put_sku(admin, "A", 100000).status, 200u);
  }
  struct ack {
    std::string key;
    std::string user;
    std::int64_t quantity;
    nlohmann::json order;
  };
  std::mutex mu;
  std::vector<ack> acked;
  std::vector<ack> unanswered; // sent, no reply: may or may not exist
  std::atomic<bool> killed{false};
  std::atomic<int> count{0};
  auto port = server->port();
  auto load = [&](int t) {
    http_client c{port};
    for (int i = 0; !killed; ++i) {
      ack a{"t" + std::to_string(t) + "-" + std::to_string(i),
            "user-" + std::to_string(i % 50),
            1 + i % 4,
            {}};
      try {
        auto r = create_order(c, a.key, a.user, "A", a.quantity);
        BOOST_REQUIRE_EQUAL(r.status, 201u);
        a.order = r.json;
        std::lock_guard<std::mutex> guard{mu};
        acked.push_back(std::move(a));
        ++count;
      } catch (const std::exception&) {
        std::lock_guard<std::mutex> guard{mu};
        unanswered.push_back(std::move(a));
        return;
      }
    }
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back(load, t);
  }
  while (count < 400) {
    std::this_thread::yield();
  }
  server->kill_and_wait(SIGKILL);
  killed = true;
  for (auto& t : clients) {
    t.join();
  }
  BOOST_TEST_MESSAGE("acknowledged before the kill: " << acked.size());

  server = start();
  http_client c{server->port()};
  for (auto& a : acked) {
    auto r = c.get("/v1/orders/" + a.order["order_id"].get<std::string>());
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    BOOST_CHECK_EQUAL(r.json["status"], "PENDING_PAYMENT");
    BOOST_CHECK_EQUAL(r.json["items"], a.order["items"]);
    BOOST_CHECK_EQUAL(r.json["version"], a.order["version"]);
  }
  // Clients retry what went unanswered with the same key: each ends as one
  // order, and the SKU holds exactly the stock of the orders that exist.
  std::int64_t reserved = 0;
  for (auto& a : acked) {
    reserved += a.quantity;
  }
  for (auto& a : unanswered) {
    auto r = create_order(c, a.key, a.user, "A", a.quantity);
    BOOST_CHECK(r.status == 201u || r.status == 200u);
    reserved += a.quantity;
  }
  auto s = get_sku(c, "A").json;
  BOOST_CHECK_EQUAL(field(s, "reserved"), reserved);
  BOOST_CHECK_EQUAL(
    field(s, "available") + field(s, "reserved") + field(s, "sold"), 100000);
}

BOOST_AUTO_TEST_CASE(sigkill_during_pay_cancel_races_keeps_every_rule) {
  constexpr int orders = 300;
  constexpr std::int64_t stock = 10000;
  auto server = start();
  struct placed {
    std::string id;
    std::int64_t quantity = 0;
    std::int64_t payable = 0;
  };
  std::vector<placed> all;
  {
    http_client c{server->port()};
    BOOST_REQUIRE_EQUAL(put_sku(c, "A", stock, 700).status, 200u);
    for (int i = 0; i < orders; ++i) {
      auto q = 1 + i % 3;
      auto r = create_order(c, "k" + std::to_string(i),
                            "u" + std::to_string(i % 13), "A", q);
      BOOST_REQUIRE_EQUAL(r.status, 201u);
      all.push_back({r.json["order_id"], q, r.json["payable"]});
    }
  }
  auto txn = [](int i) {
    return "txn-" + std::to_string(i);
  };
  // Each order: a cancel and its payment callback race; the node is killed
  // while this goes on.
  std::atomic<int> next{0};
  std::atomic<int> raced{0};
  std::atomic<bool> killed{false};
  auto port = server->port();
  auto worker = [&] {
    try {
      http_client a{port};
      http_client b{port};
      for (int i = next++; i < orders && !killed; i = next++) {
        std::thread t{[&, i] {
          try {
            cancel(b, all[i].id);
          } catch (const std::exception&) {
          }
        }};
        try {
          pay(a, all[i].id, txn(i), all[i].payable);
        } catch (const std::exception&) {
        }
        t.join();
        ++raced;
      }
    } catch (const std::exception&) {
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < 6; ++w) {
    workers.emplace_back(worker);
  }
  while (raced < orders / 2) {
    std::this_thread::yield();
  }
  server->kill_and_wait(SIGKILL);
  killed = true;
  for (auto& w : workers) {
    w.join();
  }

  // After the restart the provider retries every callback and users retry
  // their cancels, as real ones would.
  server = start();
  http_client c{server->port()};
  for (int i = 0; i < orders; ++i) {
    auto p = pay(c, all[i].id, txn(i), all[i].payable);
    BOOST_REQUIRE_EQUAL(p.status, 200u);
    auto x = cancel(c, all[i].id);
    BOOST_CHECK(x.status == 200u || x.status == 409u);
  }
  auto settled = [&](const nlohmann::json& o) {
    return o["status"] == "PAID"
           || (o["status"] == "CANCELLED"
               && o["payments"][0]["status"] == "REFUNDED");
  };
  std::int64_t sold = 0;
  std::set<std::string> refunded;
  for (int i = 0; i < orders; ++i) {
    nlohmann::json o;
    BOOST_REQUIRE(eventually([&] {
      o = c.get("/v1/orders/" + all[i].id).json;
      return settled(o);
    }));
    BOOST_REQUIRE_EQUAL(o["payments"].size(), 1u);
    if (o["status"] == "PAID") {
      sold += all[i].quantity;
      BOOST_CHECK_EQUAL(o["payments"][0]["status"], "CAPTURED");
    } else {
      refunded.insert(all[i].id);
    }
  }
  std::map<std::string, int> refunds;
  auto calls = c.get("/v1/admin/sandbox/calls", bearer(admin_token)).json;
  for (auto& call : calls["calls"]) {
    if (call["kind"] == "refund") {
      ++refunds[call["order_id"].get<std::string>()];
    }
  }
  BOOST_CHECK_EQUAL(refunds.size(), refunded.size());
  for (auto& id : refunded) {
    BOOST_CHECK_EQUAL(refunds[id], 1);
  }
  auto s = get_sku(c, "A").json;
  BOOST_CHECK_EQUAL(field(s, "reserved"), 0);
  BOOST_CHECK_EQUAL(field(s, "sold"), sold);
  BOOST_CHECK_EQUAL(field(s, "available") + field(s, "sold"), stock);
  BOOST_TEST_MESSAGE("after the kill: " << orders - refunded.size() << " paid, "
                                        << refunded.size()
                                        << " cancelled and refunded");
}

BOOST_AUTO_TEST_CASE(deadline_passed_while_down_cancels_after_restart) {
  auto server = start({"--payment-timeout", "2s", "--reservation-ttl", "2s"});
  std::vector<std::string> ids;
  std::string deadline;
  {
    http_client c{server->port()};
    BOOST_REQUIRE_EQUAL(put_sku(c, "A", 100).status, 200u);
    for (int i = 0; i < 20; ++i) {
      auto r = create_order(c, "k" + std::to_string(i), "u1", "A", 2);
      BOOST_REQUIRE_EQUAL(r.status, 201u);
      ids.push_back(r.json["order_id"]);
      deadline = r.json["pay_deadline"];
    }
    BOOST_CHECK_EQUAL(field(get_sku(c, "A").json, "available"), 60);
  }
  server->kill_and_wait(SIGKILL);
  // Stay down until every payment deadline has passed (wall time is the
  // subject here, not a stand-in for synchronization).
  std::this_thread::sleep_for(std::chrono::milliseconds{2500});
  server = start({"--payment-timeout", "2s", "--reservation-ttl", "2s"});
  http_client c{server->port()};
  for (auto& id : ids) {
    BOOST_REQUIRE(eventually([&] {
      return c.get("/v1/orders/" + id).json["status"] == "CANCELLED";
    }));
    BOOST_CHECK_EQUAL(c.get("/v1/orders/" + id).json["cancel_reason"],
                      "timeout");
  }
  BOOST_REQUIRE(eventually([&] {
    return field(get_sku(c, "A").json, "available") == 100;
  }));
  auto s = get_sku(c, "A").json;
  BOOST_CHECK_EQUAL(field(s, "reserved"), 0);
  BOOST_CHECK_EQUAL(field(s, "sold"), 0);
}

namespace {

/// What one order of the side-effects crash test goes through.
enum class fate { paid, cancelled_then_paid, cancelled };

fate fate_of(int i) {
  return static_cast<fate>(i % 3);
}

/// The client side of an order: what it sends (again after a restart).
void act(http_client& c, const std::string& id, int i, std::int64_t payable) {
  auto txn = "txn-" + std::to_string(i);
  switch (fate_of(i)) {
    case fate::paid: pay(c, id, txn, payable); break;
    case fate::cancelled_then_paid:
      cancel(c, id);
      pay(c, id, txn, payable);
      break;
    case fate::cancelled: cancel(c, id); break;
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(sigkill_with_the_relay_in_flight_repeats_no_side_effect) {
  constexpr int orders = 150;
  auto provider
    = start_provider(dir, {"--fail-rate", "0.3", "--latency", "20ms"});
  auto url = "http://127.0.0.1:" + std::to_string(provider->port());
  std::vector<std::string> flags{
    "--payment-provider", url,  "--sms-webhook", url + "/sms",
    "--notify-delay",     "1s", "--notify-ttl",  "10m",
    "--commission-rate",  "0.1"};
  auto server = start(flags);
  auto admin = bearer(admin_token);
  std::vector<std::string> ids(orders);
  std::vector<std::int64_t> payable(orders);
  {
    http_client c{server->port()};
    BOOST_REQUIRE_EQUAL(put_sku(c, "A", 100000, 1000).status, 200u);
    for (int i = 0; i < orders; ++i) {
      auto n = std::to_string(i);
      BOOST_REQUIRE_EQUAL(c.put("/v1/coupons/c" + n,
                                R"({"user_id":"u)" + n + R"(","discount":)"
                                  + std::to_string(100 + i) + "}",
                                admin)
                            .status,
                          200u);
      auto r
        = c.post("/v1/orders",
                 R"({"user_id":"u)" + n
                   + R"(","items":[{"sku":"A","quantity":1}],"coupon_id":"c)"
                   + n + R"(","affiliate_id":"aff"})",
                 {{"Idempotency-Key", "k" + n}});
      BOOST_REQUIRE_EQUAL(r.status, 201u);
      ids[i] = r.json["order_id"];
      payable[i] = r.json["payable"];
      BOOST_REQUIRE_EQUAL(payable[i], 1000 - (100 + i));
    }
  }
  // Pay and cancel from four clients; the node dies half way, with closes,
  // refunds, SMS, coupon and commission messages in flight.
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  auto port = server->port();
  auto client = [&] {
    try {
      http_client c{port};
      for (int i = next++; i < orders; i = next++) {
        act(c, ids[i], i, payable[i]);
        ++done;
      }
    } catch (const std::exception&) {
    }
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back(client);
  }
  while (done < orders / 2) {
    std::this_thread::yield();
  }
  server->kill_and_wait(SIGKILL);
  for (auto& t : clients) {
    t.join();
  }

  // Restart; clients repeat everything (the node dedupes).
  server = start(flags);
  http_client c{server->port()};
  auto resumed = c.get("/v1/admin/outbox", admin).json["backlog"];
  for (int i = 0; i < orders; ++i) {
    act(c, ids[i], i, payable[i]);
  }
  // Everything settles: orders, then every notification either sent or
  // suppressed, then nothing left to deliver.
  for (int i = 0; i < orders; ++i) {
    BOOST_REQUIRE(eventually([&] {
      auto o = c.get("/v1/orders/" + ids[i]).json;
      if (fate_of(i) == fate::paid) {
        return o["status"] == "PAID";
      }
      return o["status"] == "CANCELLED"
             && (fate_of(i) == fate::cancelled
                 || o["payments"][0]["status"] == "REFUNDED");
    }));
    nlohmann::json n;
    bool settled = eventually([&] {
      n = c.get("/v1/notifications?order_id=" + ids[i]).json;
      for (auto& m : n["notifications"]) {
        if (m["status"] == "PENDING") {
          return false;
        }
      }
      return n["notifications"].size() > 0;
    });
    if (!settled) {
      // What to look at when it happens: the notifications, and what the
      // relay still holds.
      BOOST_TEST_MESSAGE("notifications of "
                         << ids[i] << ": " << n.dump() << "; outbox: "
                         << c.get("/v1/admin/outbox", admin).json.dump());
    }
    BOOST_REQUIRE(settled);
  }
  BOOST_REQUIRE(eventually([&] {
    return c.get("/v1/admin/outbox", admin).json["backlog"] == 0;
  }));

  auto calls = provider_calls(provider->port());
  std::map<std::string, int> refunds, closes, sms;
  for (auto& r : calls["refunds"]) {
    BOOST_CHECK_EQUAL(r["received"].get<int>(), 1);
    ++refunds[r["order_id"].get<std::string>()];
  }
  for (auto& r : calls["closes"]) {
    BOOST_CHECK_EQUAL(r["received"].get<int>(), 1);
    ++closes[r["order_id"].get<std::string>()];
  }
  for (auto& r : calls["sms"]) {
    BOOST_CHECK_EQUAL(r["received"].get<int>(), 1);
    ++sms[r["notification_id"].get<std::string>()];
  }
  std::int64_t pending = 0;
  std::int64_t invalid = 0;
  int sent = 0;
  for (int i = 0; i < orders; ++i) {
    const auto& id = ids[i];
    auto f = fate_of(i);
    auto coupon = c.get("/v1/coupons/c" + std::to_string(i), admin).json;
    auto commission = payable[i] / 10;
    if (f == fate::paid) {
      BOOST_CHECK_EQUAL(coupon["status"], "USED");
      BOOST_CHECK_EQUAL(coupon["order_id"], id);
      BOOST_CHECK_EQUAL(closes.count(id), 0u);
      pending += commission;
    } else {
      BOOST_CHECK_EQUAL(coupon["status"], "AVAILABLE");
      BOOST_CHECK_EQUAL(closes[id], 1);
      invalid += commission;
    }
    BOOST_CHECK_EQUAL(refunds[id], f == fate::cancelled_then_paid ? 1 : 0);
    // An SMS went out at most once per notification, and exactly for those
    // the node records as SENT; a cancel notice only after a new_order.
    auto n = c.get("/v1/notifications?order_id=" + id).json["notifications"];
    bool new_order_sent = false;
    for (auto& m : n) {
      std::string nid = m["notification_id"];
      bool is_sent = m["status"] == "SENT";
      BOOST_CHECK_EQUAL(sms.count(nid), is_sent ? 1u : 0u);
      sent += is_sent ? 1 : 0;
      if (m["template"] == "new_order") {
        new_order_sent = is_sent;
        BOOST_CHECK(is_sent || f != fate::paid);
      } else {
        BOOST_CHECK(new_order_sent);
        BOOST_CHECK(f != fate::paid);
      }
    }
  }
  BOOST_CHECK_EQUAL(sms.size(), static_cast<std::size_t>(sent));
  auto aff = c.get("/v1/affiliates/aff/commissions").json;
  BOOST_CHECK_EQUAL(aff["entries"].size(), static_cast<std::size_t>(orders));
  BOOST_CHECK_EQUAL(aff["pending"].get<std::int64_t>(), pending);
  BOOST_CHECK_EQUAL(aff["invalid"].get<std::int64_t>(), invalid);
  BOOST_CHECK_EQUAL(aff["settled"].get<std::int64_t>(), 0);

  // A returned coupon backs a new order, and no late repeat of the old
  // order's release takes it back.
  for (int i = 2; i < orders; i += 3) {
    auto n = std::to_string(i);
    auto r = c.post("/v1/orders",
                    R"({"user_id":"u)" + n
                      + R"(","items":[{"sku":"A","quantity":1}],"coupon_id":"c)"
                      + n + "\"}",
                    {{"Idempotency-Key", "again" + n}});
    BOOST_REQUIRE_EQUAL(r.status, 201u);
  }
  BOOST_REQUIRE(eventually([&] {
    return c.get("/v1/admin/outbox", admin).json["backlog"] == 0;
  }));
  for (int i = 2; i < orders; i += 3) {
    auto coupon = c.get("/v1/coupons/c" + std::to_string(i), admin).json;
    BOOST_CHECK_EQUAL(coupon["status"], "LOCKED");
    BOOST_CHECK(coupon["order_id"] != ids[i]);
  }
  auto s = get_sku(c, "A").json;
  BOOST_CHECK_EQUAL(field(s, "sold"), orders / 3);
  BOOST_CHECK_EQUAL(field(s, "reserved"), orders / 3);
  BOOST_CHECK_EQUAL(
    field(s, "available") + field(s, "reserved") + field(s, "sold"), 100000);
  BOOST_TEST_MESSAGE("outbox resumed after the kill: "
                     << resumed << " messages; then SMS sent: " << sent
                     << ", closes: " << calls["closes"].size()
                     << ", refunds: " << calls["refunds"].size());
}

namespace {

// The split-order saga killed in flight (DESIGN.md rules 9 and durability):
// a parent whose cancel is persisted but not yet delivered to its children.

/// The saga cases' node flags: a saga timer far beyond every poll, so only
/// the children's answers (never the timer) can end the saga.
const std::vector<std::string> saga_flags{"--saga-timeout", "10m"};

struct split_order {
  std::string parent;
  std::string goods;   ///< parent + "-1"
  std::string service; ///< parent + "-2"
};

/// SKUs G (goods, stock 10) and S (service, stock 5), coupon c1 of u1, and
/// a split order of u1 for G x2 and S x1 with the coupon.
split_order place_split_order(http_client& c) {
  auto admin = bearer(admin_token);
  BOOST_REQUIRE_EQUAL(put_sku(c, "G", 10, 1000, "goods").status, 200u);
  BOOST_REQUIRE_EQUAL(put_sku(c, "S", 5, 3000, "service").status, 200u);
  BOOST_REQUIRE_EQUAL(c.put("/v1/coupons/c1",
                            R"({"user_id":"u1","discount":100,"min_amount":0})",
                            admin)
                        .status,
                      200u);
  auto r = c.post("/v1/orders",
                  R"({"user_id":"u1","items":[{"sku":"G","quantity":2},)"
                  R"({"sku":"S","quantity":1}],"coupon_id":"c1"})",
                  {{"Idempotency-Key", "split-1"}});
  BOOST_REQUIRE_MESSAGE(r.status == 201u, r.status << " " << r.body);
  split_order o;
  o.parent = r.json["order_id"];
  o.goods = o.parent + "-1";
  o.service = o.parent + "-2";
  BOOST_REQUIRE_EQUAL(r.json["children"],
                      nlohmann::json::array({o.goods, o.service}));
  BOOST_CHECK_EQUAL(r.json["discount"], 100);
  return o;
}

/// Polls (bounded) until the relay holds nothing.
bool outbox_drained(http_client& c) {
  return eventually([&] {
    return c.get("/v1/admin/outbox", bearer(admin_token)).json["backlog"] == 0;
  });
}

/// True once child process `pid` has ended; does not reap it (so
/// server_process::kill_and_wait still collects its status).
bool has_exited(int pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info,
                  WEXITED | WNOHANG | WNOWAIT)
           == 0
         && info.si_pid == pid;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// Order `id` as `ordo inspect --data` shows it from the storage of a
/// stopped node.
nlohmann::json inspect_stored(const std::string& db, const std::string& id) {
  auto r = run_to_exit(ORDO_BINARY, {"inspect", "--data", db, "order", id});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  return nlohmann::json::parse(r.output);
}

/// Arms a one-shot crash at relay.deliver, cancels `o.parent` (which must
/// get no reply: the node dies delivering the saga's first message), waits
/// for the node to end by itself, and proves from its storage that the
/// saga was in flight: the parent stores the cancel saga and its
/// "parent_cancel" messages, and a child has not cancelled.
void crash_on_the_saga(std::unique_ptr<server_process>& server,
                       const std::string& dir, const split_order& o) {
  {
    http_client c{server->port()};
    auto armed
      = c.post("/v1/admin/faults",
               R"({"point":"relay.deliver","action":"crash","count":1})",
               bearer(admin_token));
    BOOST_REQUIRE_MESSAGE(armed.status == 200u, armed.body);
  }
  {
    http_client c{server->port()};
    bool answered = false;
    try {
      auto r = cancel(c, o.parent);
      answered = true;
      BOOST_ERROR("the cancel was answered " << r.status << " " << r.body
                                             << "; the node should have died");
    } catch (const std::exception& e) {
      BOOST_TEST_MESSAGE("the cancel got no reply: " << e.what());
    }
    BOOST_REQUIRE(!answered);
  }
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          return has_exited(server->pid());
                        }),
                        "the node did not die at relay.deliver");
  auto status = server->kill_and_wait(SIGKILL);
  BOOST_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  BOOST_CHECK(read_file(dir + "/ordo.log")
                .find("injected crash at fault point relay.deliver")
              != std::string::npos);

  auto db = dir + "/db";
  auto parent = inspect_stored(db, o.parent);
  BOOST_TEST_MESSAGE("stored parent after the crash: " << parent.dump());
  const auto& st = parent["state"];
  BOOST_REQUIRE_MESSAGE(st.contains("saga"), "no saga stored: " << st.dump());
  BOOST_CHECK_EQUAL(st["saga"]["op"], "cancel");
  BOOST_CHECK(st["status"] != "CANCELLED");
  int sends = 0;
  for (const auto& m : parent["outbox"]) {
    sends += m["type"] == "parent_cancel" ? 1 : 0;
  }
  BOOST_CHECK_GE(sends, 1);
  int pending = 0;
  for (const auto& id : {o.goods, o.service}) {
    auto child = inspect_stored(db, id);
    pending += child["state"]["status"] != "CANCELLED" ? 1 : 0;
  }
  BOOST_CHECK_GE(pending, 1);
}

/// Polls (bounded) until order `id` has status `want`; the last view.
nlohmann::json await_status(http_client& c, const std::string& id,
                            const std::string& want) {
  nlohmann::json o;
  bool reached = eventually([&] {
    o = c.get("/v1/orders/" + id).json;
    return o["status"] == want;
  });
  BOOST_REQUIRE_MESSAGE(reached, "order " << id << " never became " << want
                                          << "; last: " << o.dump());
  return o;
}

/// The sandbox provider's calls of `kind` ("close" or "refund").
std::vector<nlohmann::json> sandbox_calls(http_client& c,
                                          const std::string& kind) {
  std::vector<nlohmann::json> out;
  auto calls = c.get("/v1/admin/sandbox/calls", bearer(admin_token)).json;
  for (const auto& call : calls["calls"]) {
    if (call["kind"] == kind) {
      out.push_back(call);
    }
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(sigkill_mid_saga_then_restart_finishes_the_cancel) {
  auto server = start(saga_flags);
  split_order o;
  {
    http_client c{server->port()};
    o = place_split_order(c);
    BOOST_REQUIRE(outbox_drained(c));
  }
  crash_on_the_saga(server, dir.path(), o);

  server = start(saga_flags); // no fault armed
  http_client c{server->port()};
  BOOST_CHECK_EQUAL(
    c.get("/v1/admin/faults", bearer(admin_token)).json["faults"].size(), 0u);
  auto parent = await_status(c, o.parent, "CANCELLED");
  BOOST_CHECK(!parent.contains("saga"));
  BOOST_CHECK_EQUAL(parent["cancel_reason"], "user");
  BOOST_REQUIRE(outbox_drained(c));
  for (const auto& id : {o.goods, o.service}) {
    BOOST_CHECK_EQUAL(c.get("/v1/orders/" + id).json["status"], "CANCELLED");
  }
  auto g = get_sku(c, "G").json;
  BOOST_CHECK_EQUAL(field(g, "available"), 10);
  BOOST_CHECK_EQUAL(field(g, "reserved"), 0);
  BOOST_CHECK_EQUAL(field(g, "sold"), 0);
  auto s = get_sku(c, "S").json;
  BOOST_CHECK_EQUAL(field(s, "available"), 5);
  BOOST_CHECK_EQUAL(field(s, "reserved"), 0);
  BOOST_CHECK_EQUAL(field(s, "sold"), 0);
  auto coupon = c.get("/v1/coupons/c1", bearer(admin_token)).json;
  BOOST_CHECK_EQUAL(coupon["status"], "AVAILABLE");
  // One close, by the parent (it holds the payment; children never close).
  auto closes = sandbox_calls(c, "close");
  BOOST_REQUIRE_EQUAL(closes.size(), 1u);
  BOOST_CHECK_EQUAL(closes[0]["order_id"], o.parent);
  BOOST_CHECK_EQUAL(closes[0]["received"], 1);
  BOOST_CHECK_EQUAL(sandbox_calls(c, "refund").size(), 0u);
  auto audit = c.get("/v1/admin/audit", bearer(admin_token)).json;
  BOOST_CHECK_MESSAGE(audit["ok"] == true, audit.dump());
}

BOOST_AUTO_TEST_CASE(
  sigkill_mid_saga_with_a_paid_child_still_ends_in_manual_intervention) {
  auto server = start(saga_flags);
  split_order o;
  {
    http_client c{server->port()};
    o = place_split_order(c);
    auto child = c.get("/v1/orders/" + o.service).json;
    BOOST_REQUIRE_EQUAL(child["status"], "PENDING_PAYMENT");
    BOOST_REQUIRE_EQUAL(child["parent_id"], o.parent);
    auto p = pay(c, o.service, "txn-service", child["payable"]);
    BOOST_REQUIRE_MESSAGE(p.status == 200u, p.body);
    BOOST_CHECK_EQUAL(p.json["result"], "captured");
    BOOST_REQUIRE(outbox_drained(c));
    BOOST_REQUIRE_EQUAL(c.get("/v1/orders/" + o.service).json["status"],
                        "PAID");
  }
  crash_on_the_saga(server, dir.path(), o);

  server = start(saga_flags); // no fault armed
  http_client c{server->port()};
  auto parent = await_status(c, o.parent, "MANUAL_INTERVENTION");
  BOOST_CHECK(!parent.contains("saga"));
  std::string reason = parent.value("manual_reason", "");
  BOOST_CHECK_MESSAGE(reason.find(o.service) != std::string::npos, reason);
  BOOST_CHECK_MESSAGE(reason.find("did not answer") == std::string::npos,
                      reason);
  BOOST_REQUIRE(outbox_drained(c));
  BOOST_CHECK_EQUAL(c.get("/v1/orders/" + o.goods).json["status"], "CANCELLED");
  BOOST_CHECK_EQUAL(c.get("/v1/orders/" + o.service).json["status"], "PAID");
  auto g = get_sku(c, "G").json;
  BOOST_CHECK_EQUAL(field(g, "available"), 10);
  BOOST_CHECK_EQUAL(field(g, "reserved"), 0);
  BOOST_CHECK_EQUAL(field(g, "sold"), 0);
  auto s = get_sku(c, "S").json;
  BOOST_CHECK_EQUAL(field(s, "available"), 4);
  BOOST_CHECK_EQUAL(field(s, "reserved"), 0);
  BOOST_CHECK_EQUAL(field(s, "sold"), 1);
  auto audit = c.get("/v1/admin/audit", bearer(admin_token)).json;
  BOOST_CHECK_EQUAL(audit["ok"], false);
  BOOST_REQUIRE_MESSAGE(audit["violations"].size() == 1u, audit.dump());
  BOOST_CHECK_EQUAL(audit["violations"][0]["rule"], "manual_intervention");
  BOOST_CHECK_EQUAL(audit["violations"][0]["subject"], "order/" + o.parent);
  BOOST_CHECK_MESSAGE(audit["healed"].empty(), audit.dump());
  BOOST_TEST_MESSAGE("manual_reason: " << reason);
}

BOOST_AUTO_TEST_SUITE_END()
