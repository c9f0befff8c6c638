// Three real `ordo serve` processes on 127.0.0.1 forming one cluster (issue
// 6): every node answers for every order, rules 1–3 and stock conservation
// hold across nodes, a SIGKILLed node's partitions answer 503 at once while
// the others keep working, its queued messages are delivered once after it
// restarts on the same port, and nodes with different flags refuse each
// other at start-up.

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "cluster/placement.hpp"
#include "runtime/ids.hpp"
#include "tests/integration/provider_process.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/support/process.hpp"

using namespace ordo;
using namespace ordo::test;

namespace {

/// Polls `done` (an observable state reached through the API) until it
/// holds; false after `within`.
bool await_state(const std::function<bool()>& done,
                 std::chrono::seconds within = std::chrono::seconds{20}) {
  auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return done();
}

const std::vector<std::string> ids{"a", "b", "c"};

struct cluster_fixture {
  temp_dir dir;
  std::unique_ptr<server_process> provider = start_provider(dir, {});
  std::map<std::string, std::uint16_t> cluster_ports;
  std::string peers;
  std::map<std::string, std::unique_ptr<server_process>> nodes;
  cluster::partition_map map = make_map();

  cluster::partition_map make_map() {
    cluster::membership_options m;
    m.node_id = "a";
    for (const auto& id : ids) {
      cluster_ports[id] = free_port();
      m.peers.push_back({id, "127.0.0.1", cluster_ports[id]});
      peers += (peers.empty() ? "" : ",") + id
               + "=127.0.0.1:" + std::to_string(cluster_ports[id]);
    }
    std::string why;
    auto map = cluster::partition_map::make(m, &why);
    BOOST_REQUIRE_MESSAGE(map, why);
    return *map;
  }

  /// `external`: every node calls one `ordo sandbox-provider` (its calls
  /// counted in one place); otherwise each uses its built-in sandbox.
  explicit cluster_fixture(bool external = true) {
    if (!external) {
      provider.reset();
    }
    for (const auto& id : ids) {
      start(id);
    }
    // Formed: every node has connected to every other.
    BOOST_REQUIRE(await_state([&] {
      for (const auto& from : ids) {
        for (const auto& to : ids) {
          if (from != to && !sees(from, to, true)) {
            return false;
          }
        }
      }
      return true;
    }));
  }

  std::vector<std::string> args(const std::string& id,
                                std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"--node-id",        id,
                               "--peers",          peers,
                               "--data",           dir.path() + "/" + id,
                               "--http",           "127.0.0.1:0",
                               "--admin-token",    admin_token,
                               "--payment-secret", payment_secret,
                               "--rate-limit",     "off",
                               "--captcha-after",  "0"};
    if (provider) {
      a.push_back("--payment-provider");
      a.push_back("http://127.0.0.1:" + std::to_string(provider->port()));
    }
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  void start(const std::string& id) {
    nodes[id] = std::make_unique<server_process>(
      ORDO_BINARY, args(id), dir.path() + "/" + id + ".log");
  }

  std::uint16_t port(const std::string& id) const {
    return nodes.at(id)->port();
  }

  /// A user whose partition (orders, list, limiter) `node` owns.
  std::string user_on(const std::string& node, int n = 0) const {
    for (int i = 0;; ++i) {
      auto u = "user-" + node + "-" + std::to_string(i);
      if (map.owner(runtime::user_partition(u, map.partitions())) == node
          && n-- == 0) {
        return u;
      }
    }
  }

  /// An SKU id `node` keeps.
  std::string sku_on(const std::string& node) const {
    for (int i = 0;; ++i) {
      auto s = "SKU-" + std::to_string(i);
      if (map.owner_of_key(s) == node) {
        return s;
      }
    }
  }

  /// GET /v1/admin/cluster of `from`: is `peer` reachable there?
  bool sees(const std::string& from, const std::string& peer, bool up) {
    http_client c{port(from)};
    auto r = c.get("/v1/admin/cluster", bearer(admin_token));
    for (const auto& p : r.json["peers"]) {
      if (p["id"] == peer) {
        return p["reachable"].get<bool>() == up;
      }
    }
    return false;
  }

  std::int64_t backlog(const std::string& node) {
    http_client c{port(node)};
    return c.get("/v1/admin/outbox", bearer(admin_token))
      .json["backlog"]
      .get<std::int64_t>();
  }

  /// Every node's outbox is empty: nothing is in flight between actors.
  bool settled() {
    for (const auto& id : ids) {
      if (nodes.count(id) && backlog(id) != 0) {
        return false;
      }
    }
    return true;
  }
};

/// Nodes with their built-in sandbox providers (what `ordo load` checks).
struct sandboxed_cluster : cluster_fixture {
  sandboxed_cluster() : cluster_fixture(false) {}
};

std::string order_status(const nlohmann::json& o) {
  return o.at("status").get<std::string>();
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(cluster_nodes, cluster_fixture)

BOOST_AUTO_TEST_CASE(every_node_serves_every_order_and_the_rules_hold) {
  auto sku = sku_on("c");
  {
    http_client admin{port("a")};
    BOOST_REQUIRE_EQUAL(put_sku(admin, sku, 1000).status, 200u);
  }
  struct placed {
    std::string id;
    std::string user;
    std::int64_t quantity = 0;
    std::int64_t payable = 0;
    std::size_t via = 0;
  };
  std::vector<placed> orders;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    http_client c{port(ids[i])};
    for (int j = 0; j < 9; ++j) {
      // Users of every node's partitions, created through node i.
      auto user = user_on(ids[j % 3], static_cast<int>(i));
      auto r
        = create_order(c, "k" + std::to_string(i) + "-" + std::to_string(j),
                       user, sku, 1 + j % 3);
      BOOST_REQUIRE_EQUAL(r.status, 201u);
      orders.push_back({r.json["order_id"].get<std::string>(), user, 1 + j % 3,
                        r.json["payable"].get<std::int64_t>(), i});
    }
  }
  // The same content through every node, orders and user lists alike.
  for (const auto& o : orders) {
    nlohmann::json first;
    for (const auto& id : ids) {
      http_client c{port(id)};
      auto r = c.get("/v1/orders/" + o.id);
      BOOST_REQUIRE_EQUAL(r.status, 200u);
      if (first.is_null()) {
        first = r.json;
      }
      BOOST_CHECK_EQUAL(r.json, first);
      auto list = c.get("/v1/users/" + o.user + "/orders");
      BOOST_REQUIRE_EQUAL(list.status, 200u);
      std::set<std::string> listed;
      for (const auto& e : list.json["orders"]) {
        listed.insert(e["order_id"].get<std::string>());
      }
      BOOST_CHECK(listed.count(o.id) == 1);
    }
    BOOST_CHECK_EQUAL(order_status(first), "PENDING_PAYMENT");
  }
  {
    http_client c{port("b")};
    auto s = get_sku(c, sku).json;
    std::int64_t reserved = 0;
    for (const auto& o : orders) {
      reserved += o.quantity;
    }
    BOOST_CHECK_EQUAL(s["reserved"].get<std::int64_t>(), reserved);
  }

  // Pay through one node, cancel through another.
  std::set<std::string> refunded; // cancelled with a captured payment
  for (std::size_t k = 0; k < orders.size(); ++k) {
    const auto& o = orders[k];
    http_client payer{port(ids[(o.via + 1) % 3])};
    http_client canceller{port(ids[(o.via + 2) % 3])};
    auto txn = "txn-" + o.id;
    switch (k % 3) {
      case 0: { // rule 3: cancel after pay is refused
        BOOST_CHECK_EQUAL(pay(payer, o.id, txn, o.payable).json["result"],
                          "captured");
        auto r = cancel(canceller, o.id);
        BOOST_CHECK_EQUAL(r.status, 409u);
        BOOST_CHECK_EQUAL(r.json["error"], "already_paid");
        break;
      }
      case 1: { // rule 2: pay after cancel is refunded, once
        BOOST_CHECK_EQUAL(cancel(canceller, o.id).status, 200u);
        BOOST_CHECK_EQUAL(pay(payer, o.id, txn, o.payable).json["result"],
                          "refunded");
        http_client third{port(ids[o.via])};
        BOOST_CHECK_EQUAL(pay(third, o.id, txn, o.payable).json["result"],
                          "duplicate");
        refunded.insert(o.id);
        break;
      }
      default: { // rule 1: both at once, through two nodes
        http_response paid, cancelled;
        std::thread t1([&] {
          paid = pay(payer, o.id, txn, o.payable);
        });
        std::thread t2([&] {
          cancelled = cancel(canceller, o.id);
        });
        t1.join();
        t2.join();
        BOOST_REQUIRE_EQUAL(paid.status, 200u);
        if (cancelled.status == 200u) {
          BOOST_CHECK_EQUAL(paid.json["result"], "refunded");
          refunded.insert(o.id);
        } else {
          BOOST_CHECK_EQUAL(cancelled.status, 409u);
          BOOST_CHECK_EQUAL(paid.json["result"], "captured");
        }
      }
    }
  }
  BOOST_REQUIRE(await_state([&] {
    return settled();
  }));

  // Final states agree with what the clients were told; stock is conserved.
  std::int64_t sold = 0;
  for (const auto& o : orders) {
    http_client c{port(ids[(o.via + 1) % 3])};
    auto st = order_status(c.get("/v1/orders/" + o.id).json);
    BOOST_CHECK_EQUAL(st, refunded.count(o.id) ? "CANCELLED" : "PAID");
    if (st == "PAID") {
      sold += o.quantity;
    }
  }
  nlohmann::json reports;
  for (const auto& id : ids) {
    http_client c{port(id)};
    auto s = get_sku(c, sku).json;
    BOOST_CHECK_EQUAL(s["reserved"].get<std::int64_t>(), 0);
    BOOST_CHECK_EQUAL(s["sold"].get<std::int64_t>(), sold);
    BOOST_CHECK_EQUAL(s["available"].get<std::int64_t>() + sold, 1000);
    // The report is gathered from every node and is the same through each.
    auto report = c.get("/v1/reports/sales", bearer(admin_token));
    BOOST_REQUIRE_EQUAL(report.status, 200u);
    BOOST_CHECK_EQUAL(report.json["placed"]["count"].get<std::int64_t>(),
                      static_cast<std::int64_t>(orders.size()));
    BOOST_CHECK_EQUAL(report.json["cancelled"]["count"].get<std::int64_t>(),
                      static_cast<std::int64_t>(refunded.size()));
    if (reports.is_null()) {
      reports = report.json;
    }
    BOOST_CHECK_EQUAL(report.json, reports);
    // Each node audits what it keeps; pairs split across nodes are skipped.
    auto audit = c.get("/v1/admin/audit", bearer(admin_token));
    BOOST_CHECK_MESSAGE(audit.json["violations"].empty(),
                        id << ": " << audit.json.dump());
  }
  // The provider saw exactly one refund per refunded payment.
  auto calls = provider_calls(provider->port());
  std::set<std::string> refund_orders;
  for (const auto& r : calls["refunds"]) {
    BOOST_CHECK(refund_orders.insert(r["order_id"].get<std::string>()).second);
  }
  BOOST_CHECK(refund_orders == refunded);

  // Forwarding is visible per peer.
  http_client admin{port("a")};
  auto view = admin.get("/v1/admin/cluster", bearer(admin_token)).json;
  BOOST_CHECK_EQUAL(view["nodes"].size(), 3u);
  for (const auto& p : view["peers"]) {
    BOOST_CHECK(p["reachable"].get<bool>());
    BOOST_CHECK_GT(p["forwarded"]["requests"].get<std::int64_t>(), 0);
    BOOST_CHECK_GT(p["latency_us"]["p50"].get<std::int64_t>(), 0);
  }
  // After all that traffic every node still shuts down cleanly.
  for (const auto& id : ids) {
    auto status = nodes.at(id)->kill_and_wait(SIGTERM);
    BOOST_CHECK_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                        id << " ended with status " << status);
  }
}

BOOST_AUTO_TEST_CASE(a_killed_node_answers_503_and_catches_up_after_restart) {
  auto sku_c = sku_on("c");
  auto sku_a = sku_on("a");
  auto user_a = user_on("a");
  auto user_c = user_on("c");
  http_client b{port("b")};
  BOOST_REQUIRE_EQUAL(put_sku(b, sku_c, 100).status, 200u);
  BOOST_REQUIRE_EQUAL(put_sku(b, sku_a, 100).status, 200u);
  // An order on a holding stock on c, and an order on c.
  auto held = create_order(b, "held", user_a, sku_c, 3);
  BOOST_REQUIRE_EQUAL(held.status, 201u);
  auto on_c = create_order(b, "on-c", user_c, sku_a, 2);
  BOOST_REQUIRE_EQUAL(on_c.status, 201u);
  auto held_id = held.json["order_id"].get<std::string>();
  auto on_c_id = on_c.json["order_id"].get<std::string>();

  nodes["c"]->kill_and_wait(SIGKILL);
  auto gone = std::move(nodes["c"]);
  nodes.erase("c");
  BOOST_REQUIRE(await_state([&] {
    return sees("a", "c", false) && sees("b", "c", false);
  }));

  // c's partitions: 503 with Retry-After, through every live node.
  http_client a{port("a")};
  for (auto* c : {&a, &b}) {
    auto r = c->get("/v1/orders/" + on_c_id);
    BOOST_CHECK_EQUAL(r.status, 503u);
    BOOST_CHECK_EQUAL(r.json["error"], "unavailable");
    BOOST_CHECK(!r.header("Retry-After").empty());
    BOOST_CHECK_EQUAL(create_order(*c, "new-c", user_c, sku_a, 1).status, 503u);
    BOOST_CHECK_EQUAL(get_sku(*c, sku_c).status, 503u);
  }
  // A create whose stock is on c is refused at once, not left waiting.
  BOOST_CHECK_EQUAL(create_order(a, "needs-c", user_a, sku_c, 1).status, 503u);
  // The rest keeps working.
  auto fine = create_order(b, "fine", user_a, sku_a, 1);
  BOOST_CHECK_EQUAL(fine.status, 201u);
  BOOST_CHECK_EQUAL(get_sku(a, sku_a).json["reserved"].get<std::int64_t>(), 3);
  // Cancelling the order on a commits there; its stock release for c
  // waits in a's outbox.
  auto cancelled = cancel(b, held_id);
  BOOST_REQUIRE_EQUAL(cancelled.status, 200u);
  BOOST_CHECK_EQUAL(order_status(cancelled.json), "CANCELLED");
  auto held_out = a.get("/v1/admin/outbox", bearer(admin_token)).json;
  bool waiting = false;
  for (const auto& m : held_out["messages"]) {
    waiting = waiting || m["to"] == "sku/" + sku_c;
  }
  BOOST_CHECK(waiting);

  // Back on the same cluster port, with its data.
  gone.reset();
  start("c");
  BOOST_REQUIRE(await_state([&] {
    return sees("a", "c", true) && sees("b", "c", true);
  }));
  BOOST_REQUIRE(await_state([&] {
    return settled();
  }));
  auto r = a.get("/v1/orders/" + on_c_id);
  BOOST_REQUIRE_EQUAL(r.status, 200u);
  BOOST_CHECK_EQUAL(r.json, on_c.json);
  auto s = get_sku(a, sku_c).json;
  BOOST_CHECK_EQUAL(s["reserved"].get<std::int64_t>(), 0);
  BOOST_CHECK_EQUAL(s["available"].get<std::int64_t>(), 100);
  // Delivered once: one release in the SKU's journal.
  auto actor = a.get("/v1/admin/actors/sku/" + sku_c, bearer(admin_token)).json;
  int releases = 0;
  for (const auto& t : actor["journal"]) {
    releases
      += t["cause"].get<std::string>().find(held_id) != std::string::npos
         && t["event"].get<std::string>().find("releas") != std::string::npos;
  }
  BOOST_CHECK_MESSAGE(releases == 1, actor["journal"].dump());
  BOOST_CHECK_EQUAL(create_order(a, "new-c", user_c, sku_a, 1).status, 201u);
  auto view = a.get("/v1/admin/cluster", bearer(admin_token)).json;
  for (const auto& p : view["peers"]) {
    if (p["id"] == "c") {
      BOOST_CHECK_EQUAL(p["connects"].get<int>(), 2);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_request_in_flight_to_a_dying_node_fails_fast) {
  auto sku_a = sku_on("a");
  auto user_c = user_on("c");
  http_client a{port("a")};
  BOOST_REQUIRE_EQUAL(put_sku(a, sku_a, 10).status, 200u);
  auto placed = create_order(a, "slow", user_c, sku_a, 1);
  BOOST_REQUIRE_EQUAL(placed.status, 201u);
  auto id = placed.json["order_id"].get<std::string>();

  // An injected fault on the sending side fails one forward, unsent.
  BOOST_REQUIRE_EQUAL(
    a.post("/v1/admin/faults",
           R"({"point":"cluster.forward","action":"error","count":1})",
           bearer(admin_token))
      .status,
    200u);
  auto refused = a.get("/v1/orders/" + id);
  BOOST_CHECK_EQUAL(refused.status, 503u);
  BOOST_CHECK(refused.json["message"].get<std::string>().find("cluster.forward")
              != std::string::npos);
  BOOST_CHECK_EQUAL(a.get("/v1/orders/" + id).status, 200u);

  // c's disk stalls: a cancel forwarded by a waits inside c, then c dies.
  {
    http_client c{port("c")};
    BOOST_REQUIRE_EQUAL(
      c.post(
         "/v1/admin/faults",
         R"({"point":"store.before_commit","action":"delay","delay_ms":20000})",
         bearer(admin_token))
        .status,
      200u);
  }
  http_response answer;
  std::chrono::steady_clock::duration waited{};
  std::thread client([&] {
    http_client b{port("b")};
    b.timeout(std::chrono::seconds{30});
    auto t0 = std::chrono::steady_clock::now();
    answer = cancel(b, id);
    waited = std::chrono::steady_clock::now() - t0;
  });
  // The cancel has reached c (forwarded by b) before c is killed.
  BOOST_REQUIRE(await_state([&] {
    http_client v{port("c")};
    auto view = v.get("/v1/admin/cluster", bearer(admin_token)).json;
    for (const auto& p : view["peers"]) {
      if (p["id"] == "b") {
        return p["served"]["requests"].get<std::int64_t>() > 0;
      }
    }
    return false;
  }));
  nodes["c"]->kill_and_wait(SIGKILL);
  client.join();
  BOOST_CHECK_EQUAL(answer.status, 503u);
  BOOST_CHECK_MESSAGE(answer.json["message"].get<std::string>().find(
                        "went down before it answered")
                        != std::string::npos,
                      answer.body);
  BOOST_TEST_MESSAGE(
    "in-flight cancel answered "
    << answer.status << " after "
    << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
    << " ms");
  // Its turn never committed: after the restart the retry decides it.
  start("c");
  BOOST_REQUIRE(await_state([&] {
    return sees("a", "c", true) && sees("b", "c", true);
  }));
  BOOST_CHECK_EQUAL(order_status(a.get("/v1/orders/" + id).json),
                    "PENDING_PAYMENT");
  http_client b{port("b")};
  auto retried = cancel(b, id);
  BOOST_CHECK_EQUAL(retried.status, 200u);
  BOOST_CHECK_EQUAL(order_status(retried.json), "CANCELLED");
}

// `ordo load` through one node of the cluster, every workload's flows
// spread over all partitions, then its consistency check across all three
// (outboxes settled everywhere, every sandbox's refunds and closes).
BOOST_FIXTURE_TEST_CASE(ordo_load_through_the_cluster_checks_out,
                        sandboxed_cluster) {
  for (const char* workload : {"steady", "race", "flash-cancel"}) {
    auto url = [&](const std::string& id) {
      return "http://127.0.0.1:" + std::to_string(port(id));
    };
    auto r = run_to_exit(ORDO_BINARY,
                         {"load",
                          "--url",
                          url("a"),
                          "--node",
                          url("b"),
                          "--node",
                          url("c"),
                          "--admin-token",
                          admin_token,
                          "--payment-secret",
                          payment_secret,
                          "--workload",
                          workload,
                          "--connections",
                          "8",
                          "--duration",
                          "1s",
                          "--warmup",
                          "0s",
                          "--seed",
                          "7"},
                         std::chrono::seconds{60});
    BOOST_CHECK_MESSAGE(r.exit_code == 0, workload << ":\n" << r.output);
    BOOST_CHECK(r.output.find("check: passed") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(any_node_answers_for_another_with_node_in_the_query) {
  // An operator's action on b, through b.
  auto headers = bearer(admin_token);
  headers.emplace_back("X-Ordo-Operator", "bea");
  http_client b{port("b")};
  BOOST_REQUIRE_EQUAL(b.post("/v1/admin/audit", "", headers).status, 200u);

  // a answers about itself, or about b when asked: the request goes to b.
  http_client a{port("a")};
  auto own = a.get("/v1/admin/operator-log", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(own.status, 200u);
  BOOST_CHECK(own.json["entries"].empty());
  auto of_b = a.get("/v1/admin/operator-log?node=b", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(of_b.status, 200u);
  BOOST_REQUIRE_EQUAL(of_b.json["entries"].size(), 1u);
  BOOST_CHECK_EQUAL(of_b.json["entries"][0]["operator"], "bea");
  auto last = a.get("/v1/admin/audit/last?node=b", bearer(admin_token));
  BOOST_CHECK_EQUAL(last.json["trigger"], "request");
  BOOST_CHECK(
    a.get("/v1/admin/audit/last", bearer(admin_token)).json["at"].is_null());
  BOOST_CHECK_EQUAL(
    a.get("/v1/admin/outbox?node=c&state=dead", bearer(admin_token)).status,
    200u);
  BOOST_CHECK_EQUAL(
    a.get("/v1/admin/outbox?node=a", bearer(admin_token)).status, 200u);
  auto unknown = a.get("/v1/admin/outbox?node=z", bearer(admin_token));
  BOOST_CHECK_EQUAL(unknown.status, 404u);
  BOOST_CHECK_EQUAL(unknown.json["error"], "not_found");
  // Without the token, nothing about the members: 401 before any routing.
  BOOST_CHECK_EQUAL(a.get("/v1/admin/operator-log?node=b").status, 401u);
  BOOST_CHECK_EQUAL(a.get("/v1/admin/operator-log?node=z").status, 401u);

  // A node that is down: 503 at once, like any request it owns.
  nodes.at("c")->kill_and_wait(SIGKILL);
  auto down = a.get("/v1/admin/outbox?node=c", bearer(admin_token));
  BOOST_CHECK_EQUAL(down.status, 503u);
  BOOST_CHECK_EQUAL(down.json["error"], "unavailable");
  BOOST_CHECK_EQUAL(a.get("/v1/admin/outbox?node=c").status, 401u);
}

BOOST_AUTO_TEST_CASE(a_hung_node_answers_503_within_a_bound) {
  auto sku_a = sku_on("a");
  auto user_c = user_on("c");
  http_client a{port("a")};
  BOOST_REQUIRE_EQUAL(put_sku(a, sku_a, 10).status, 200u);
  auto placed = create_order(a, "hung", user_c, sku_a, 1);
  BOOST_REQUIRE_EQUAL(placed.status, 201u);
  auto id = placed.json["order_id"].get<std::string>();
  // c stops answering without closing a socket (SIGSTOP): a request to it
  // through a gets 503 once the call deadline or the heartbeat gives up.
  nodes["c"]->pause();
  a.timeout(std::chrono::seconds{30});
  auto t0 = std::chrono::steady_clock::now();
  auto r = a.get("/v1/orders/" + id);
  auto waited = std::chrono::steady_clock::now() - t0;
  BOOST_CHECK_EQUAL(r.status, 503u);
  BOOST_CHECK_EQUAL(r.json["error"], "unavailable");
  BOOST_TEST_MESSAGE(
    "hung owner: 503 after "
    << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
    << " ms: " << r.json["message"]);
  BOOST_REQUIRE(await_state([&] {
    return sees("a", "c", false);
  }));
  nodes["c"]->resume();
  BOOST_REQUIRE(await_state([&] {
    return sees("a", "c", true);
  }));
  auto back = a.get("/v1/orders/" + id);
  BOOST_CHECK_EQUAL(back.status, 200u);
  BOOST_CHECK_EQUAL(back.json, placed.json);
}

BOOST_AUTO_TEST_CASE(nodes_with_other_flags_are_refused_at_start_up) {
  // c again, with another partition count, peer list or identity, while
  // the real c is down: the running nodes refuse it, and it exits.
  nodes["c"]->kill_and_wait(SIGKILL);
  nodes.erase("c");
  auto with = [&](std::map<std::string, std::string> changed) {
    auto a = args("c");
    for (std::size_t i = 0; i + 1 < a.size(); ++i) {
      if (auto c = changed.find(a[i]); c != changed.end()) {
        a[i + 1] = c->second;
        changed.erase(c);
      }
    }
    for (const auto& [flag, value] : changed) {
      a.push_back(flag);
      a.push_back(value);
    }
    a.insert(a.begin(), "serve");
    return run_to_exit(ORDO_BINARY, a);
  };
  auto r = with({{"--partitions", "32"}});
  BOOST_CHECK_NE(r.exit_code, 0);
  BOOST_CHECK_MESSAGE(
    r.output.find("--partitions differs: 32") != std::string::npos, r.output);
  // A node the others do not know, at c's address.
  auto renamed = peers;
  renamed.replace(renamed.find("c="), 2, "z=");
  auto z = with({{"--node-id", "z"}, {"--peers", renamed}});
  BOOST_CHECK_NE(z.exit_code, 0);
  BOOST_CHECK_MESSAGE(z.output.find("unknown node id 'z'") != std::string::npos,
                      z.output);
  // A peer list that differs otherwise (one more node).
  auto more = with({{"--peers", peers + ",d=127.0.0.1:1"}});
  BOOST_CHECK_NE(more.exit_code, 0);
  BOOST_CHECK_MESSAGE(more.output.find("--peers differs") != std::string::npos,
                      more.output);
  // --node-id not among --peers fails before anything starts.
  auto x = with({{"--node-id", "x"}});
  BOOST_CHECK_NE(x.exit_code, 0);
  BOOST_CHECK_MESSAGE(x.output.find("--node-id x is not one of --peers")
                        != std::string::npos,
                      x.output);
  // The real c still joins.
  start("c");
  BOOST_CHECK(await_state([&] {
    return sees("a", "c", true);
  }));
}

BOOST_AUTO_TEST_SUITE_END()
