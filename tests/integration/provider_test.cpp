// The payment provider adapter (rule 2, outbound) against a real
// `ordo sandbox-provider` process: every refund owed reaches the provider
// exactly once and every cancelled order's payment is closed, through
// injected failures and through the provider being killed and restarted.
// Also the sandbox provider's own contract and the --payment-provider flag.

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/provider_process.hpp"
#include "tests/integration/server_fixture.hpp"

using namespace ordo;
using namespace ordo::test;

namespace {

/// An order that was paid after it was cancelled, so a refund is owed.
struct owed {
  std::string order_id;
  std::string txn_id;
  std::int64_t amount = 0;
};

/// Creates, cancels and then pays order `key`; the payment is refunded.
owed cancel_then_pay(http_client& c, const std::string& key) {
  auto created = create_order(c, key, "user-" + key, "A", 1);
  BOOST_REQUIRE_EQUAL(created.status, 201u);
  owed o{created.json["order_id"], "txn-" + key,
         created.json["payable"].get<std::int64_t>()};
  BOOST_REQUIRE_EQUAL(cancel(c, o.order_id).status, 200u);
  auto paid = pay(c, o.order_id, o.txn_id, o.amount);
  BOOST_REQUIRE_EQUAL(paid.status, 200u);
  BOOST_REQUIRE_EQUAL(paid.json["result"], "refunded");
  return o;
}

std::string payment_status(http_client& c, const std::string& order_id) {
  auto r = c.get("/v1/orders/" + order_id);
  BOOST_REQUIRE_EQUAL(r.status, 200u);
  BOOST_REQUIRE_EQUAL(r.json["payments"].size(), 1u);
  return r.json["payments"][0]["status"];
}

/// Polls the orders until every payment is REFUNDED; false after `bound`.
bool all_refunded(http_client& c, const std::vector<owed>& orders,
                  std::chrono::milliseconds bound = std::chrono::seconds{60}) {
  std::set<std::string> left;
  for (const auto& o : orders) {
    left.insert(o.order_id);
  }
  return eventually(
    [&] {
      for (auto i = left.begin(); i != left.end();) {
        i = payment_status(c, *i) == "REFUNDED" ? left.erase(i) : std::next(i);
      }
      return left.empty();
    },
    bound);
}

/// The provider holds exactly one refund per owed payment (by txn_id, with
/// its order and amount, recorded once) and nothing else, and exactly one
/// close per order.
void check_exactly_once(const nlohmann::json& calls,
                        const std::vector<owed>& orders) {
  std::map<std::string, nlohmann::json> refunds; // by txn_id
  std::set<std::string> refund_ids;
  for (const auto& r : calls["refunds"]) {
    BOOST_CHECK_EQUAL(r["received"].get<int>(), 1);
    BOOST_CHECK(refund_ids.insert(r["refund_id"].get<std::string>()).second);
    BOOST_CHECK_MESSAGE(
      refunds.emplace(r["txn_id"].get<std::string>(), r).second,
      "two refund ids for txn " << r["txn_id"]);
  }
  std::set<std::string> closes;
  for (const auto& c : calls["closes"]) {
    BOOST_CHECK_EQUAL(c["received"].get<int>(), 1);
    closes.insert(c["order_id"].get<std::string>());
  }
  BOOST_CHECK_EQUAL(calls["refunds"].size(), orders.size());
  BOOST_CHECK_EQUAL(calls["closes"].size(), orders.size());
  for (const auto& o : orders) {
    auto i = refunds.find(o.txn_id);
    BOOST_REQUIRE_MESSAGE(i != refunds.end(), "no refund for " << o.txn_id);
    BOOST_CHECK_EQUAL(i->second["order_id"], o.order_id);
    BOOST_CHECK_EQUAL(i->second["amount"].get<std::int64_t>(), o.amount);
    BOOST_CHECK_MESSAGE(closes.count(o.order_id) == 1,
                        "no close for " << o.order_id);
  }
}

/// A node (in this process, with the HTTP gateway) whose payment provider
/// is an `ordo sandbox-provider` process.
struct provider_fixture {
  temp_dir dir;
  std::unique_ptr<server_process> provider;
  std::unique_ptr<server_fixture> server;

  /// `give_up`: the node's external_give_up, ms (0: its default).
  void start(std::vector<std::string> provider_flags,
             actors::millis give_up = 0) {
    provider = start_provider(dir, provider_flags);
    auto url = "http://127.0.0.1:" + std::to_string(provider->port());
    server = std::make_unique<server_fixture>([](gateway::server_options&) {},
                                              [&](runtime::node_options& o) {
                                                o.payment_provider = url;
                                                if (give_up > 0) {
                                                  o.external_give_up = give_up;
                                                }
                                                // Retries of a refund to a
                                                // provider that was down resume
                                                // within half a second of its
                                                // return.
                                                o.outbox_backoff_cap = 500;
                                              });
    http_client c{server->port()};
    BOOST_REQUIRE_EQUAL(put_sku(c, "A", 100000).status, 200u);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(payment_provider, provider_fixture)

BOOST_AUTO_TEST_CASE(refunds_reach_a_failing_provider_exactly_once) {
  start({"--fail-rate", "0.5"});
  http_client c{server->port()};
  std::vector<owed> orders;
  for (int i = 0; i < 40; ++i) {
    orders.push_back(cancel_then_pay(c, "a" + std::to_string(i)));
  }
  BOOST_REQUIRE(all_refunded(c, orders));
  BOOST_REQUIRE(server->node->quiesce(60'000));
  auto calls = provider_calls(provider->port());
  check_exactly_once(calls, orders);
  BOOST_TEST_MESSAGE("provider requests " << calls["requests"] << ", failed "
                                          << calls["failed"] << ", duplicates "
                                          << calls["duplicates"]);
  BOOST_CHECK_GT(calls["failed"].get<int>(), 0);
  auto s = server->node->stats();
  BOOST_CHECK_EQUAL(s.outbox_dead, 0u);
  BOOST_CHECK_GE(s.payment_failures, 1u);
  BOOST_CHECK(sandbox_calls_of(*server->node).empty());
}

BOOST_AUTO_TEST_CASE(refunds_owed_while_the_provider_is_down_arrive_once) {
  start({"--fail-rate", "0.3"});
  http_client c{server->port()};
  std::vector<owed> orders;
  for (int i = 0; i < 10; ++i) {
    orders.push_back(cancel_then_pay(c, "b" + std::to_string(i)));
  }
  BOOST_REQUIRE(all_refunded(c, orders));

  auto port = provider->port();
  provider->kill_and_wait(SIGKILL);
  auto failures = server->node->stats().payment_failures;
  std::vector<owed> while_down;
  for (int i = 0; i < 20; ++i) {
    while_down.push_back(cancel_then_pay(c, "down" + std::to_string(i)));
  }
  // The node has tried and failed, and keeps the refunds owed.
  BOOST_REQUIRE(eventually([&] {
    return server->node->stats().payment_failures >= failures + 20;
  }));
  BOOST_CHECK_GE(server->node->stats().outbox_backlog, 20u);
  for (const auto& o : while_down) {
    BOOST_CHECK_EQUAL(payment_status(c, o.order_id), "REFUND_PENDING");
  }

  provider = start_provider(dir, {"--fail-rate", "0.3"}, port);
  orders.insert(orders.end(), while_down.begin(), while_down.end());
  BOOST_REQUIRE(all_refunded(c, orders));
  BOOST_REQUIRE(server->node->quiesce(60'000));
  check_exactly_once(provider_calls(provider->port()), orders);
  BOOST_CHECK_EQUAL(server->node->stats().outbox_dead, 0u);
}

/// The dead letters, oldest first, as GET /v1/admin/outbox shows them.
nlohmann::json dead_letters(http_client& c) {
  auto r = c.get("/v1/admin/outbox?state=dead", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(r.status, 200u);
  return r.json["messages"];
}

http_response operator_call(http_client& c, const std::string& method,
                            const std::string& target, const std::string& who) {
  auto headers = bearer(admin_token);
  if (!who.empty()) {
    headers.emplace_back("X-Ordo-Operator", who);
  }
  return c.request(method, target, "", headers);
}

BOOST_AUTO_TEST_CASE(calls_the_provider_never_took_become_dead_letters) {
  start({}, 1'000);
  http_client c{server->port()};
  auto port = provider->port();
  provider->kill_and_wait(SIGKILL);
  auto kept = cancel_then_pay(c, "kept");
  auto dropped = cancel_then_pay(c, "dropped");
  // Each order owes the provider a close and a refund; after the give-up
  // time all four are dead letters, and the refunds are still owed.
  BOOST_REQUIRE(eventually([&] {
    return server->node->stats().outbox_dead_letters == 4;
  }));
  BOOST_CHECK_EQUAL(server->node->stats().refunds_owed, 2u);
  BOOST_CHECK_EQUAL(payment_status(c, kept.order_id), "REFUND_PENDING");
  auto metrics = c.get("/metrics");
  BOOST_CHECK(metrics.body.find("\nordo_refunds_owed 2\n")
              != std::string::npos);
  std::vector<std::uint64_t> retry, discard;
  for (const auto& m : dead_letters(c)) {
    BOOST_CHECK_EQUAL(m["to"].get<std::string>().rfind("payment", 0), 0u);
    BOOST_CHECK_EQUAL(
      m["last_error"].get<std::string>().find("unavailable: gave up"), 0u);
    auto order = m["body"]["order_id"].get<std::string>();
    (order == kept.order_id ? retry : discard).push_back(m["seq"]);
  }
  BOOST_REQUIRE_EQUAL(retry.size(), 2u);
  BOOST_REQUIRE_EQUAL(discard.size(), 2u);
  // The audit reports them and leaves their orders to the operator: no
  // refund re-issued behind a dead letter.
  auto audit = c.get("/v1/admin/audit", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(audit.status, 200u);
  BOOST_CHECK_EQUAL(audit.json["violations"][0]["rule"], "dead_letters");
  BOOST_CHECK(audit.json["healed"].empty());

  // Refused: no operator named, a seq that is not a dead letter, a bad seq.
  auto first = "/v1/admin/outbox/" + std::to_string(retry[0]);
  BOOST_CHECK_EQUAL(operator_call(c, "POST", first + "/retry", "").status,
                    400u);
  BOOST_CHECK_EQUAL(
    operator_call(c, "POST", "/v1/admin/outbox/999999/retry", "al").status,
    404u);
  BOOST_CHECK_EQUAL(
    operator_call(c, "DELETE", "/v1/admin/outbox/01", "al").status, 400u);
  BOOST_CHECK_EQUAL(server->node->stats().outbox_dead_letters, 4u);

  provider = start_provider(dir, {}, port);
  for (auto seq : retry) {
    auto r = operator_call(
      c, "POST", "/v1/admin/outbox/" + std::to_string(seq) + "/retry", "alice");
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    BOOST_CHECK_EQUAL(r.json["retried"], seq);
    BOOST_CHECK_GT(r.json["seq"].get<std::uint64_t>(), seq);
  }
  for (auto seq : discard) {
    auto target = "/v1/admin/outbox/" + std::to_string(seq);
    BOOST_REQUIRE_EQUAL(operator_call(c, "DELETE", target, "bob").status, 200u);
    BOOST_CHECK_EQUAL(operator_call(c, "DELETE", target, "bob").status, 404u);
  }
  BOOST_REQUIRE(all_refunded(c, {kept}));
  BOOST_REQUIRE(server->node->quiesce(60'000));
  auto s = server->node->stats();
  BOOST_CHECK_EQUAL(s.outbox_dead_letters, 0u);
  BOOST_CHECK_EQUAL(s.refunds_owed, 0u);
  BOOST_CHECK_EQUAL(payment_status(c, dropped.order_id), "REFUND_PENDING");
  check_exactly_once(provider_calls(port), {kept});

  // A discarded refund is still owed: the next audit re-issues it.
  audit = c.get("/v1/admin/audit", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(audit.json["healed"].size(), 1u);
  BOOST_CHECK_EQUAL(audit.json["healed"][0]["rule"], "refund_owed");
  BOOST_CHECK_EQUAL(audit.json["healed"][0]["subject"],
                    "order/" + dropped.order_id);
  BOOST_REQUIRE(all_refunded(c, {kept, dropped}));
  BOOST_CHECK_EQUAL(provider_calls(port)["refunds"].size(), 2u);

  // The trail, newest first: bob's two discards, then alice's retries.
  auto log = c.get("/v1/admin/operator-log", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(log.status, 200u);
  const auto& entries = log.json["entries"];
  BOOST_REQUIRE_EQUAL(entries.size(), 4u);
  BOOST_CHECK_EQUAL(entries[0]["operator"], "bob");
  BOOST_CHECK_EQUAL(entries[0]["action"], "dead_letter.discard");
  BOOST_CHECK_EQUAL(entries[3]["operator"], "alice");
  BOOST_CHECK_EQUAL(entries[3]["action"], "dead_letter.retry");
  BOOST_CHECK_EQUAL(entries[3]["subject"],
                    "outbox/" + std::to_string(retry[0]));
}

BOOST_AUTO_TEST_CASE(refund_throughput_through_a_healthy_provider) {
  start({});
  http_client c{server->port()};
  constexpr int n = 400;
  std::vector<owed> orders;
  for (int i = 0; i < n; ++i) {
    auto created = create_order(c, "t" + std::to_string(i), "u", "A", 1);
    BOOST_REQUIRE_EQUAL(created.status, 201u);
    orders.push_back({created.json["order_id"], "txn-t" + std::to_string(i),
                      created.json["payable"].get<std::int64_t>()});
    BOOST_REQUIRE_EQUAL(cancel(c, orders.back().order_id).status, 200u);
  }
  BOOST_REQUIRE(server->node->quiesce(60'000)); // the closes are through
  // Four clients pay concurrently; the clock stops when every refund has
  // been confirmed to its order and acknowledged.
  constexpr int clients = 4;
  std::atomic<int> bad{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> payers;
  for (int t = 0; t < clients; ++t) {
    payers.emplace_back([&, t] {
      http_client pc{server->port()};
      for (int i = t; i < n; i += clients) {
        const auto& o = orders[static_cast<std::size_t>(i)];
        if (pay(pc, o.order_id, o.txn_id, o.amount).status != 200u) {
          ++bad;
        }
      }
    });
  }
  for (auto& t : payers) {
    t.join();
  }
  BOOST_REQUIRE_EQUAL(bad.load(), 0);
  BOOST_REQUIRE(server->node->quiesce(60'000));
  auto secs
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
  BOOST_TEST_MESSAGE("refunds through the HTTP provider: "
                     << n << " in " << secs << " s = " << n / secs
                     << " refunds/s (4 paying clients, sync WAL)");
  BOOST_REQUIRE(all_refunded(c, orders));
  check_exactly_once(provider_calls(provider->port()), orders);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sandbox_provider)

BOOST_AUTO_TEST_CASE(dedupes_counts_and_keeps_its_journal_across_restarts) {
  temp_dir dir;
  auto p = start_provider(dir, {});
  nlohmann::json refund{{"refund_id", "rf-1"},
                        {"txn_id", "t1"},
                        {"amount", 1234},
                        {"order_id", "o1"}};
  nlohmann::json close{{"order_id", "o1"}};
  {
    http_client c{p->port()};
    auto r = c.post("/refund", refund.dump());
    BOOST_CHECK_EQUAL(r.status, 200u);
    BOOST_CHECK_EQUAL(r.json["result"], "recorded");
    r = c.post("/refund", refund.dump());
    BOOST_CHECK_EQUAL(r.status, 200u);
    BOOST_CHECK_EQUAL(r.json["result"], "duplicate");
    BOOST_CHECK_EQUAL(c.post("/close", close.dump()).json["result"],
                      "recorded");
    BOOST_CHECK_EQUAL(c.post("/close", close.dump()).json["result"],
                      "duplicate");
    BOOST_CHECK_EQUAL(c.post("/refund", R"({"refund_id":"x"})").status, 400u);
    BOOST_CHECK_EQUAL(c.post("/refund", "not json").status, 400u);
    BOOST_CHECK_EQUAL(c.get("/nowhere").status, 404u);
  }
  auto calls = provider_calls(p->port());
  BOOST_REQUIRE_EQUAL(calls["refunds"].size(), 1u);
  auto r0 = calls["refunds"][0];
  BOOST_CHECK_EQUAL(r0["refund_id"], "rf-1");
  BOOST_CHECK_EQUAL(r0["txn_id"], "t1");
  BOOST_CHECK_EQUAL(r0["amount"], 1234);
  BOOST_CHECK_EQUAL(r0["order_id"], "o1");
  BOOST_CHECK_EQUAL(r0["received"], 1);
  BOOST_CHECK_EQUAL(r0["attempts"], 2);
  BOOST_REQUIRE_EQUAL(calls["closes"].size(), 1u);
  BOOST_CHECK_EQUAL(calls["closes"][0]["order_id"], "o1");
  BOOST_CHECK_EQUAL(calls["closes"][0]["received"], 1);
  BOOST_CHECK_EQUAL(calls["requests"], 6);
  BOOST_CHECK_EQUAL(calls["failed"], 0);
  BOOST_CHECK_EQUAL(calls["duplicates"], 2);

  // kill -9 and restart on the same journal: the counts survive.
  p->kill_and_wait(SIGKILL);
  p = start_provider(dir, {});
  calls = provider_calls(p->port());
  BOOST_REQUIRE_EQUAL(calls["refunds"].size(), 1u);
  BOOST_CHECK_EQUAL(calls["refunds"][0]["received"], 1);
  BOOST_CHECK_EQUAL(calls["closes"].size(), 1u);
  {
    http_client c{p->port()};
    BOOST_CHECK_EQUAL(c.post("/refund", refund.dump()).json["result"],
                      "duplicate");
    refund["refund_id"] = "rf-2";
    BOOST_CHECK_EQUAL(c.post("/refund", refund.dump()).json["result"],
                      "recorded");
  }
  // SIGTERM stops it cleanly; what it recorded is still there afterwards.
  auto status = p->kill_and_wait(SIGTERM);
  BOOST_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  p = start_provider(dir, {});
  calls = provider_calls(p->port());
  BOOST_CHECK_EQUAL(calls["refunds"].size(), 2u);
  for (const auto& r : calls["refunds"]) {
    BOOST_CHECK_EQUAL(r["received"], 1);
  }
}

BOOST_AUTO_TEST_CASE(fail_rate_one_always_answers_503) {
  temp_dir dir;
  auto p = start_provider(dir, {"--fail-rate", "1", "--seed", "7"});
  http_client c{p->port()};
  for (int i = 0; i < 20; ++i) {
    nlohmann::json refund{{"refund_id", "rf-" + std::to_string(i)},
                          {"txn_id", "t" + std::to_string(i)},
                          {"amount", 10},
                          {"order_id", "o"}};
    BOOST_CHECK_EQUAL(c.post("/refund", refund.dump()).status, 503u);
  }
  auto calls = provider_calls(p->port());
  BOOST_CHECK_EQUAL(calls["requests"], 20);
  BOOST_CHECK_EQUAL(calls["failed"], 20);
  // Half the failures happen after recording: the client cannot tell.
  auto recorded = calls["refunds"].size();
  BOOST_TEST_MESSAGE("recorded before answering 503: " << recorded << "/20");
  BOOST_CHECK_GT(recorded, 0u);
  BOOST_CHECK_LT(recorded, 20u);
}

BOOST_AUTO_TEST_CASE(latency_delays_every_answer) {
  temp_dir dir;
  auto p = start_provider(dir, {"--latency", "200ms"});
  http_client c{p->port()};
  auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK_EQUAL(c.post("/close", R"({"order_id":"o"})").status, 200u);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - t0)
              .count();
  BOOST_CHECK_GE(ms, 200);
}

BOOST_AUTO_TEST_CASE(bad_flags_exit_non_zero_with_a_message) {
  auto r = run_to_exit(ORDO_BINARY, {"sandbox-provider", "--fail-rate", "2"});
  BOOST_CHECK_NE(r.exit_code, 0);
  BOOST_CHECK_MESSAGE(r.output.find("--fail-rate") != std::string::npos,
                      r.output);
  r = run_to_exit(ORDO_BINARY, {"sandbox-provider", "--latency", "soon"});
  BOOST_CHECK_NE(r.exit_code, 0);
  BOOST_CHECK_MESSAGE(r.output.find("--latency") != std::string::npos,
                      r.output);
  r = run_to_exit(ORDO_BINARY, {"sandbox-provider", "--port", "70000"});
  BOOST_CHECK_NE(r.exit_code, 0);
  BOOST_CHECK_MESSAGE(r.output.find("--port") != std::string::npos, r.output);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(payment_provider_flag)

BOOST_AUTO_TEST_CASE(serve_rejects_a_bad_provider_url) {
  temp_dir dir;
  for (std::string url :
       {"notaurl", "https://127.0.0.1:9", "http://:80", "http://127.0.0.1:0",
        "http://127.0.0.1:99999", "http://h:1/x?y"}) {
    auto r
      = run_to_exit(ORDO_BINARY, {"serve", "--data", dir.path() + "/db",
                                  "--http", "127.0.0.1:0", "--admin-token",
                                  admin_token, "--payment-secret",
                                  payment_secret, "--payment-provider", url});
    BOOST_CHECK_NE(r.exit_code, 0);
    BOOST_CHECK_MESSAGE(r.output.find("--payment-provider") != std::string::npos
                          && r.output.find(url) != std::string::npos,
                        url << ": " << r.output);
  }
}

BOOST_AUTO_TEST_CASE(node_start_rejects_a_bad_provider_url) {
  temp_dir dir;
  for (std::string url : {"notaurl", "ftp://h:1", "http://h:0", "http://"}) {
    runtime::node_options o;
    o.data_dir = dir.path() + "/db";
    o.payment_provider = url;
    std::string err;
    BOOST_CHECK(runtime::node::start(o, &err) == nullptr);
    BOOST_CHECK_MESSAGE(err.find("payment provider URL") != std::string::npos,
                        url << ": " << err);
  }
}

BOOST_AUTO_TEST_CASE(a_node_starts_while_its_provider_is_down) {
  temp_dir dir;
  runtime::node_options o;
  o.data_dir = dir.path() + "/db";
  o.payment_provider = "http://127.0.0.1:1/pay/";
  std::string err;
  auto n = runtime::node::start(o, &err);
  BOOST_REQUIRE_MESSAGE(n, err);
  BOOST_CHECK(n->ready());
  n->stop();
}

BOOST_AUTO_TEST_SUITE_END()
