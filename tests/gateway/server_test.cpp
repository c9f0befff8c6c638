// The gateway in front of a real node: real RocksDB in a temp dir, real
// actor system, the real server on 127.0.0.1 port 0 (server_fixture).

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gateway/server.hpp"
#include "runtime/clock.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/support/http_client.hpp"

using namespace std::chrono_literals;
using ordo::gateway::server;
using ordo::gateway::server_options;
using ordo::test::admin_token;
using ordo::test::bearer;
using ordo::test::eventually;
using ordo::test::header_list;
using ordo::test::http_client;
using ordo::test::payment_secret;
using ordo::test::server_fixture;

namespace {

/// 2026-11-22T10:15:30.123Z, the manual clock's time in created_at checks.
constexpr ordo::actors::millis test_now = 1'795'342'530'123;

const std::string order_body
  = R"({"user_id":"u1","items":[{"sku":"A","quantity":2}]})";

header_list key(const std::string& k) {
  return {{"Idempotency-Key", k}};
}

/// Stocks `sku` at 1999 per unit.
void stock(http_client& c, const std::string& sku, std::int64_t units) {
  auto r = ordo::test::put_sku(c, sku, units, 1999);
  BOOST_REQUIRE_MESSAGE(r.status == 200u, r.body);
}

/// Creates one order for two units of A under `k`; its id.
std::string create(http_client& c, const std::string& k) {
  auto r = c.post("/v1/orders", order_body, key(k));
  BOOST_REQUIRE_MESSAGE(r.status == 201u, r.body);
  return r.json["order_id"].get<std::string>();
}

} // namespace

BOOST_AUTO_TEST_SUITE(server_suite)

BOOST_AUTO_TEST_CASE(healthz_answers_json_on_a_kept_alive_connection) {
  server_fixture f;
  http_client c(f.port());
  for (int i = 0; i < 3; ++i) {
    auto r = c.get("/healthz");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.json == (nlohmann::json{{"status", "ok"}}));
    BOOST_TEST(r.header("Content-Type") == "application/json");
    BOOST_TEST(r.header("Content-Length") == std::to_string(r.body.size()));
    BOOST_TEST(r.keep_alive);
  }
}

BOOST_AUTO_TEST_CASE(readyz_follows_the_node) {
  server_fixture f;
  http_client c(f.port());
  auto r = c.get("/readyz");
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json == (nlohmann::json{{"status", "ready"}}));
  // A stopping node is not ready; the gateway keeps answering.
  f.node->stop();
  r = c.get("/readyz");
  BOOST_TEST(r.status == 503u);
  BOOST_TEST(r.error() == "unavailable");
  BOOST_TEST(r.header("Retry-After") == "1");
  BOOST_TEST(c.get("/healthz").status == 200u);
}

BOOST_AUTO_TEST_CASE(unknown_path_and_wrong_method) {
  server_fixture f;
  http_client c(f.port());
  auto r = c.get("/v1/nothing");
  BOOST_TEST(r.status == 404u);
  BOOST_TEST(r.error() == "not_found");
  BOOST_TEST(r.json["message"].is_string());
  r = c.request("DELETE", "/v1/orders/o1");
  BOOST_TEST(r.status == 405u);
  BOOST_TEST(r.error() == "method_not_allowed");
  BOOST_TEST(r.header("Allow") == "GET");
  r = c.get("/v1/orders/o1/cancel");
  BOOST_TEST(r.status == 405u);
  BOOST_TEST(r.header("Allow") == "POST");
}

BOOST_AUTO_TEST_CASE(admin_endpoints_need_the_bearer_token) {
  server_fixture f;
  http_client c(f.port());
  std::string body = R"({"price":1999,"stock":100,"kind":"goods"})";
  BOOST_TEST(c.put("/v1/skus/A", body).status == 401u);
  BOOST_TEST(c.put("/v1/skus/A", body, bearer("wrong")).status == 401u);
  BOOST_TEST(c.put("/v1/skus/A", body, {{"Authorization", admin_token}}).status
             == 401u);
  BOOST_TEST(c.get("/v1/skus/A").error() == "unauthorized");
  BOOST_TEST(c.post("/v1/orders/o1/complete").status == 401u);
  BOOST_TEST(c.post("/v1/orders/o1/refund").status == 401u);
  BOOST_TEST(c.get("/v1/admin/sandbox/calls").status == 401u);
  // None of the refused writes reached the node.
  BOOST_TEST(c.get("/v1/skus/A", bearer(admin_token)).status == 404u);

  auto r = c.put("/v1/skus/A", body, bearer(admin_token));
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json
             == nlohmann::json::parse(
               R"({"sku":"A","price":1999,"kind":"goods","stocked":100,
                             "available":100,"reserved":0,"sold":0})"));
  r = c.get("/v1/skus/A", bearer(admin_token));
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["stocked"] == 100);
  BOOST_TEST(c.get("/v1/skus/B", bearer(admin_token)).status == 404u);
}

BOOST_AUTO_TEST_CASE(create_is_idempotent_per_key) {
  server_fixture f(nullptr, [](ordo::runtime::node_options& o) {
    o.time = std::make_shared<ordo::runtime::manual_clock>(test_now);
  });
  http_client c(f.port());
  stock(c, "A", 10);

  auto r = c.post("/v1/orders", order_body);
  BOOST_TEST(r.status == 400u);
  BOOST_TEST(r.json["message"].get<std::string>().find("Idempotency-Key")
             != std::string::npos);

  r = c.post("/v1/orders", order_body, key("k1"));
  BOOST_TEST(r.status == 201u);
  auto id = r.json["order_id"].get<std::string>();
  BOOST_TEST(r.header("Location") == "/v1/orders/" + id);
  BOOST_TEST(r.json["status"] == "PENDING_PAYMENT");
  BOOST_TEST(r.json["created_at"] == "2026-11-22T10:15:30.123Z");
  BOOST_TEST(r.json["pay_deadline"] == "2026-11-22T10:30:30.123Z");
  BOOST_TEST(r.json["payable"] == 3998);
  BOOST_TEST(r.json["coupon_id"].is_null());

  // A retry finds the order and reserves nothing more.
  r = c.post("/v1/orders", order_body, key("k1"));
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["order_id"] == id);
  BOOST_TEST(r.header("Location").empty());
  BOOST_TEST(ordo::test::get_sku(c, "A").json["available"] == 8);

  r = c.post("/v1/orders",
             R"({"user_id":"u1","items":[{"sku":"A","quantity":3}]})",
             key("k1"));
  BOOST_TEST(r.status == 422u);
  BOOST_TEST(r.error() == "idempotency_key_reused");

  // The key is scoped per user: another user's k1 is another order.
  r = c.post("/v1/orders",
             R"({"user_id":"u2","items":[{"sku":"A","quantity":2}]})",
             key("k1"));
  BOOST_TEST(r.status == 201u);
  BOOST_TEST(r.json["order_id"] != id);
  BOOST_TEST(ordo::test::get_sku(c, "A").json["available"] == 6);

  r = c.post("/v1/orders",
             R"({"user_id":"u1","items":[{"sku":"A","quantity":300}]})",
             key("k2"));
  BOOST_TEST(r.status == 409u);
  BOOST_TEST(r.error() == "insufficient_stock");
}

BOOST_AUTO_TEST_CASE(order_lifecycle_routes) {
  server_fixture f;
  http_client c(f.port());
  stock(c, "A", 10);
  auto id = create(c, "k1");

  auto r = c.get("/v1/orders/" + id);
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["order_id"] == id);
  BOOST_TEST(c.get("/v1/orders/nope").status == 404u);
  BOOST_TEST(c.get("/v1/orders/a%20b").status == 400u);

  r = ordo::test::pay(c, id, "t1", 3998);
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json == (nlohmann::json{{"result", "captured"}}));
  r = c.get("/v1/orders/" + id);
  BOOST_TEST(r.json["status"] == "PAID");
  BOOST_TEST(r.json["payments"]
             == nlohmann::json::parse(
               R"([{"txn_id":"t1","amount":3998,"status":"CAPTURED"}])"));
  r = ordo::test::pay(c, id, "t1", 3998);
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["result"] == "duplicate");
  BOOST_TEST(ordo::test::pay(c, "nope", "t2", 1).status == 404u);

  r = c.post("/v1/orders/" + id + "/cancel", R"({"reason":"oops"})");
  BOOST_TEST(r.status == 409u);
  BOOST_TEST(r.error() == "already_paid");

  r = c.post("/v1/orders/" + id + "/complete", "", bearer(admin_token));
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["status"] == "COMPLETED");
  r = c.post("/v1/orders/" + id + "/refund", "", bearer(admin_token));
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["status"] == "REFUNDED");
  r = c.post("/v1/orders/" + id + "/complete", "", bearer(admin_token));
  BOOST_TEST(r.status == 409u);
  BOOST_TEST(r.error() == "invalid_transition");
  BOOST_TEST(c.post("/v1/orders/nope/complete", "", bearer(admin_token)).status
             == 404u);
}

BOOST_AUTO_TEST_CASE(cancel_with_and_without_body) {
  server_fixture f;
  http_client c(f.port());
  stock(c, "A", 10);
  auto id = create(c, "k1");
  auto r = c.post("/v1/orders/" + id + "/cancel");
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["status"] == "CANCELLED");
  BOOST_TEST(r.json["cancel_reason"] == "user");
  BOOST_TEST(c.post("/v1/orders/" + id + "/cancel", "[]").status == 400u);

  auto other = create(c, "k2");
  r = c.post("/v1/orders/" + other + "/cancel", R"({"reason":"oops"})");
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["cancel_reason"] == "oops");
  BOOST_TEST(ordo::test::cancel(c, "nope").status == 404u);
}

BOOST_AUTO_TEST_CASE(payment_signature_is_checked_before_parsing) {
  server_fixture f;
  http_client c(f.port());
  std::string garbage = "{not json";
  auto r = c.post("/v1/payments/callback", garbage);
  BOOST_TEST(r.status == 401u);
  BOOST_TEST(r.error() == "unauthorized");
  r = c.post(
    "/v1/payments/callback", garbage,
    {{"X-Ordo-Signature", ordo::test::sign_payment("wrong", garbage)}});
  BOOST_TEST(r.status == 401u);
  r = c.post(
    "/v1/payments/callback", garbage,
    {{"X-Ordo-Signature", ordo::test::sign_payment(payment_secret, garbage)}});
  BOOST_TEST(r.status == 400u);
  BOOST_TEST(r.error() == "bad_request");
}

BOOST_AUTO_TEST_CASE(sandbox_calls_are_listed_for_admins) {
  server_fixture f;
  http_client c(f.port());
  auto r = c.get("/v1/admin/sandbox/calls", bearer(admin_token));
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json == (nlohmann::json{{"calls", nlohmann::json::array()}}));

  stock(c, "A", 10);
  auto paid = create(c, "k1");
  BOOST_REQUIRE(ordo::test::pay(c, paid, "t1", 3998).json["result"]
                == "captured");
  BOOST_REQUIRE(
    c.post("/v1/orders/" + paid + "/refund", "", bearer(admin_token)).status
    == 200u);
  auto cancelled = create(c, "k2");
  BOOST_REQUIRE(ordo::test::cancel(c, cancelled).status == 200u);
  // Provider calls leave through the outbox: wait until it is drained.
  BOOST_REQUIRE(f.node->quiesce(20'000));

  r = c.get("/v1/admin/sandbox/calls", bearer(admin_token));
  BOOST_TEST(r.status == 200u);
  auto calls = r.json["calls"];
  BOOST_REQUIRE(calls.size() == 2u);
  auto of_kind = [&](const std::string& kind) {
    auto it = std::find_if(calls.begin(), calls.end(), [&](const auto& x) {
      return x["kind"] == kind;
    });
    BOOST_REQUIRE(it != calls.end());
    return *it;
  };
  auto refund = of_kind("refund");
  BOOST_TEST(refund["order_id"] == paid);
  BOOST_TEST(refund["txn_id"] == "t1");
  BOOST_TEST(refund["amount"] == 3998);
  BOOST_TEST(refund["received"] == 1);
  BOOST_TEST(refund["id"].is_string());
  auto close = of_kind("close");
  BOOST_TEST(close["id"] == cancelled);
  BOOST_TEST(close["order_id"] == cancelled);
  BOOST_TEST(close["txn_id"].is_null());
  BOOST_TEST(close["amount"] == 0);
  BOOST_TEST(close["received"] == 1);
  // The provider's confirmation reached the order.
  r = c.get("/v1/orders/" + paid);
  BOOST_TEST(r.json["payments"][0]["status"] == "REFUNDED");
}

BOOST_AUTO_TEST_CASE(bad_requests_do_not_hurt_the_server) {
  server_fixture f;
  http_client c(f.port());
  for (auto body : {"", "{", "[]", "null", "{\"user_id\":1}", "\xff\xfe"}) {
    auto r = c.post("/v1/orders", body, key("k"));
    BOOST_TEST(r.status == 400u, body);
    BOOST_TEST(r.error() == "bad_request");
    BOOST_TEST(r.keep_alive);
  }
  // Garbage on the wire: 400 and close, and the server lives on.
  c.send_raw("NOT HTTP AT ALL\r\n\r\n");
  auto r = c.read_response();
  BOOST_TEST(r.status == 400u);
  BOOST_TEST(!r.keep_alive);
  BOOST_TEST(c.closed_by_peer(2s));
  c.reconnect();
  BOOST_TEST(c.get("/healthz").status == 200u);
}

BOOST_AUTO_TEST_CASE(oversized_body_is_413_and_closes) {
  server_fixture f([](server_options& o) {
    o.body_limit = 1024;
  });
  http_client c(f.port());
  auto r = c.post("/v1/orders", std::string(2000, 'x'), key("k"));
  BOOST_TEST(r.status == 413u);
  BOOST_TEST(r.error() == "payload_too_large");
  BOOST_TEST(!r.keep_alive);
  BOOST_TEST(c.closed_by_peer(3s));
  // Exactly at the limit is fine (and a bad request, not a 413).
  r = c.post("/v1/orders", std::string(1024, ' '), key("k"));
  BOOST_TEST(r.status == 400u);
}

BOOST_AUTO_TEST_CASE(oversized_chunked_body_is_413) {
  server_fixture f([](server_options& o) {
    o.body_limit = 1024;
  });
  http_client c(f.port());
  std::string chunk(800, 'x');
  c.send_raw("POST /v1/orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\r\n"
             "Transfer-Encoding: chunked\r\n\r\n320\r\n"
             + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  auto r = c.read_response();
  BOOST_TEST(r.status == 413u);
}

BOOST_AUTO_TEST_CASE(default_body_limit_is_one_mebibyte) {
  server_fixture f;
  http_client c(f.port());
  auto r = c.post("/v1/orders", std::string(1024 * 1024 + 1, ' '), key("k"));
  BOOST_TEST(r.status == 413u);
  c.reconnect();
  r = c.post("/v1/orders", std::string(1024 * 1024, ' '), key("k"));
  BOOST_TEST(r.status == 400u);
}

BOOST_AUTO_TEST_CASE(huge_header_is_rejected) {
  server_fixture f;
  http_client c(f.port());
  auto r = c.get("/healthz", {{"X-Big", std::string(20000, 'h')}});
  BOOST_TEST(r.status == 400u);
  BOOST_TEST(!r.keep_alive);
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  server_fixture f;
  http_client c(f.port());
  stock(c, "A", 10);
  std::string create = "POST /v1/orders HTTP/1.1\r\nHost: x\r\n"
                       "Idempotency-Key: p1\r\nContent-Length: "
                       + std::to_string(order_body.size()) + "\r\n\r\n"
                       + order_body;
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + create
             + "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" + create
             + "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(c.read_response().json["status"] == "ok");
  auto first = c.read_response();
  BOOST_TEST(first.status == 201u);
  BOOST_TEST(c.read_response().status == 404u);
  auto again = c.read_response();
  BOOST_TEST(again.status == 200u);
  BOOST_TEST(again.json["order_id"] == first.json["order_id"]);
  BOOST_TEST(c.read_response().json["status"] == "ready");
}

BOOST_AUTO_TEST_CASE(connection_close_is_honoured) {
  server_fixture f;
  http_client c(f.port());
  auto r = c.get("/healthz", {{"Connection", "close"}});
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(!r.keep_alive);
  BOOST_TEST(c.closed_by_peer(2s));
  // HTTP/1.0 without keep-alive closes too.
  c.reconnect();
  c.send_raw("GET /healthz HTTP/1.0\r\n\r\n");
  r = c.read_response();
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(c.closed_by_peer(2s));
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered) {
  server_fixture f;
  http_client c(f.port());
  c.send_raw("PUT /v1/skus/A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
             + admin_token
             + "\r\nExpect: 100-continue\r\nContent-Length: 24\r\n\r\n");
  auto interim = c.read_response();
  BOOST_TEST(interim.status == 100u);
  c.send_raw(R"({"price":1,"stock":2}   )");
  auto r = c.read_response();
  BOOST_TEST(r.status == 200u, r.body);
  BOOST_TEST(r.json["stocked"] == 2);
}

BOOST_AUTO_TEST_CASE(slow_clients_are_cut_off) {
  server_fixture f([](server_options& o) {
    o.header_timeout = 300ms;
    o.body_timeout = 300ms;
    o.idle_timeout = 600ms;
  });

  // Connects and says nothing: the header timeout applies.
  http_client silent(f.port());
  BOOST_TEST(silent.closed_by_peer(3s));

  // Half a header.
  http_client slow_header(f.port());
  slow_header.send_raw("GET /healthz HTTP/1.1\r\nHo");
  BOOST_TEST(slow_header.closed_by_peer(3s));

  // Half a body.
  http_client slow_body(f.port());
  slow_body.send_raw("PUT /v1/skus/A HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 100\r\n\r\n{\"price\"");
  BOOST_TEST(slow_body.closed_by_peer(3s));

  // Keep-alive: open past the header timeout, closed after the idle one.
  http_client idle(f.port());
  BOOST_TEST(idle.get("/healthz").status == 200u);
  BOOST_TEST(!idle.closed_by_peer(400ms));
  BOOST_TEST(idle.get("/healthz").status == 200u);
  BOOST_TEST(idle.closed_by_peer(3s));

  // Meanwhile others are served.
  http_client other(f.port());
  BOOST_TEST(other.get("/healthz").status == 200u);
}

BOOST_AUTO_TEST_CASE(connections_beyond_the_limit_are_refused) {
  server_fixture f([](server_options& o) {
    o.max_connections = 2;
  });
  http_client a(f.port());
  http_client b(f.port());
  BOOST_TEST(a.get("/healthz").status == 200u);
  BOOST_TEST(b.get("/healthz").status == 200u);
  http_client c(f.port());
  auto r = c.read_response();
  BOOST_TEST(r.status == 503u);
  BOOST_TEST(r.error() == "unavailable");
  BOOST_TEST(r.header("Retry-After") == "1");
  BOOST_TEST(c.closed_by_peer(2s));
  // A slot frees when a connection closes. The server gives it back just
  // after closing the socket, so a new client may still be refused briefly.
  b.get("/healthz", {{"Connection", "close"}});
  BOOST_TEST(b.closed_by_peer(2s));
  BOOST_TEST(eventually([&] {
    try {
      http_client d(f.port());
      return d.get("/healthz").status == 200u;
    } catch (const std::runtime_error&) {
      return false; // refused and reset before the reply was read
    }
  }));
  BOOST_TEST(a.get("/healthz").status == 200u);
}

BOOST_AUTO_TEST_CASE(stop_closes_connections_and_is_idempotent) {
  server_fixture f;
  http_client c(f.port());
  BOOST_TEST(c.get("/healthz").status == 200u);
  f.server->stop();
  f.server->stop();
  BOOST_TEST(c.closed_by_peer(2s));
}

BOOST_AUTO_TEST_CASE(many_clients_in_parallel) {
  server_fixture f;
  {
    http_client c(f.port());
    stock(c, "A", 1'000'000);
  }
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      http_client c(f.port());
      for (int i = 0; i < 50; ++i) {
        auto r = c.post("/v1/orders", order_body,
                        key("t" + std::to_string(t) + "-" + std::to_string(i)));
        if (r.status == 201u) {
          ++created;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  BOOST_TEST(created.load() == 400);
  http_client c(f.port());
  auto sku = ordo::test::get_sku(c, "A");
  BOOST_TEST(sku.json["reserved"] == 800);
  BOOST_TEST(sku.json["available"] == 1'000'000 - 800);
}

BOOST_AUTO_TEST_CASE(start_fails_cleanly_on_a_taken_port) {
  server_fixture f;
  auto o = f.server_opts;
  o.port = f.port();
  std::string err;
  auto second = server::start(o, *f.node, &err);
  BOOST_TEST(!second);
  BOOST_TEST(err.find("cannot listen") != std::string::npos, err);
  o.port = 0;
  o.host = "no-such-host.invalid";
  err.clear();
  BOOST_TEST(!server::start(o, *f.node, &err));
  BOOST_TEST(!err.empty());
}

BOOST_AUTO_TEST_CASE(the_cluster_view_shows_membership_and_the_map) {
  server_fixture f;
  ordo::test::http_client c{f.port()};
  BOOST_TEST(c.get("/v1/admin/cluster").status == 401u);
  auto r = c.get("/v1/admin/cluster", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(r.status, 200u);
  BOOST_TEST(r.json["node_id"] == "local");
  BOOST_TEST(r.json["partitions"] == 64);
  BOOST_REQUIRE_EQUAL(r.json["nodes"].size(), 1u);
  BOOST_TEST(r.json["nodes"][0]["reachable"] == true);
  BOOST_TEST(r.json["nodes"][0]["partitions"] == 64);
  BOOST_REQUIRE_EQUAL(r.json["partition_map"].size(), 64u);
  BOOST_TEST(r.json["partition_map"][63] == "local");
  // A membership the map refuses stops the server from starting.
  auto o = f.server_opts;
  o.port = 0;
  o.membership.node_id = "x";
  std::string why;
  auto peers = ordo::cluster::parse_peers("a=127.0.0.1:7001", &why);
  BOOST_REQUIRE(peers);
  o.membership.peers = *peers;
  std::string err;
  BOOST_TEST(!server::start(o, *f.node, &err));
  BOOST_TEST(err.find("--node-id x is not one of --peers") != std::string::npos,
             err);
}

BOOST_AUTO_TEST_SUITE_END()
