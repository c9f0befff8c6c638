#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "gateway/server.hpp"
#include "tests/gateway/fake_node.hpp"
#include "tests/support/http_client.hpp"

using namespace std::chrono_literals;
using ordo::gateway::server;
using ordo::gateway::server_options;
using ordo::test::bearer;
using ordo::test::fake_node;
using ordo::test::header_list;
using ordo::test::http_client;

namespace {

const std::string admin_token = "adm-token";
const std::string secret = "pay-secret";

server_options test_options() {
  server_options o;
  o.port = 0;
  o.admin_token = admin_token;
  o.payment_secret = secret;
  o.threads = 2;
  return o;
}

/// A gateway on a free port in front of a fake node.
struct fixture {
  explicit fixture(server_options o = test_options()) {
    std::string err;
    srv = server::start(o, node, &err);
    BOOST_REQUIRE_MESSAGE(srv, err);
  }
  http_client client() {
    return http_client(srv->port());
  }
  void stock(http_client& c, const std::string& sku, int stock) {
    auto r = c.put("/v1/skus/" + sku,
                   R"({"price":1999,"stock":)" + std::to_string(stock) + "}",
                   bearer(admin_token));
    BOOST_REQUIRE(r.status == 200);
  }

  fake_node node;
  std::unique_ptr<server> srv;
};

const std::string order_body
  = R"({"user_id":"u1","items":[{"sku":"A","quantity":2}]})";

header_list key(const std::string& k) {
  return {{"Idempotency-Key", k}};
}

} // namespace

BOOST_AUTO_TEST_SUITE(server_suite)

BOOST_AUTO_TEST_CASE(healthz_answers_json_on_a_kept_alive_connection) {
  fixture f;
  auto c = f.client();
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
  fixture f;
  auto c = f.client();
  f.node.set_ready(false);
  auto r = c.get("/readyz");
  BOOST_TEST(r.status == 503u);
  BOOST_TEST(r.error() == "unavailable");
  BOOST_TEST(r.header("Retry-After") == "1");
  f.node.set_ready(true);
  BOOST_TEST(c.get("/readyz").status == 200u);
}

BOOST_AUTO_TEST_CASE(unknown_path_and_wrong_method) {
  fixture f;
  auto c = f.client();
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
  fixture f;
  auto c = f.client();
  std::string body = R"({"price":1999,"stock":100,"kind":"goods"})";
  BOOST_TEST(c.put("/v1/skus/A", body).status == 401u);
  BOOST_TEST(c.put("/v1/skus/A", body, bearer("wrong")).status == 401u);
  BOOST_TEST(c.put("/v1/skus/A", body, {{"Authorization", admin_token}}).status
             == 401u);
  BOOST_TEST(c.get("/v1/skus/A").error() == "unauthorized");
  BOOST_TEST(c.post("/v1/orders/o1/complete").status == 401u);
  BOOST_TEST(c.post("/v1/orders/o1/refund").status == 401u);
  BOOST_TEST(c.get("/v1/admin/sandbox/calls").status == 401u);

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
  fixture f;
  auto c = f.client();
  f.stock(c, "A", 10);

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
  BOOST_TEST(r.json["coupon_id"].is_null());
  BOOST_TEST(f.node.last_key() == "k1");
  auto first = f.node.last_create();
  BOOST_TEST(first.fingerprint.size() == 64u);
  BOOST_TEST(first.token != 0u);

  r = c.post("/v1/orders", order_body, key("k1"));
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["order_id"] == id);
  BOOST_TEST(f.node.last_create().token != first.token);

  r = c.post("/v1/orders",
             R"({"user_id":"u1","items":[{"sku":"A","quantity":3}]})",
             key("k1"));
  BOOST_TEST(r.status == 422u);
  BOOST_TEST(r.error() == "idempotency_key_reused");

  r = c.post("/v1/orders",
             R"({"user_id":"u1","items":[{"sku":"A","quantity":300}]})",
             key("k2"));
  BOOST_TEST(r.status == 409u);
  BOOST_TEST(r.error() == "insufficient_stock");
}

BOOST_AUTO_TEST_CASE(order_lifecycle_routes) {
  fixture f;
  auto c = f.client();
  f.stock(c, "A", 10);
  auto id = c.post("/v1/orders", order_body, key("k1"))
              .json["order_id"]
              .get<std::string>();

  auto r = c.get("/v1/orders/" + id);
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["order_id"] == id);
  BOOST_TEST(c.get("/v1/orders/nope").status == 404u);
  BOOST_TEST(c.get("/v1/orders/a%20b").status == 400u);

  std::string pay = nlohmann::json{
    {"txn_id", "t1"},
    {"order_id", id},
    {"amount", 3998},
    {"status",
     "SUCCESS"}}.dump();
  r = c.post("/v1/payments/callback", pay,
             {{"X-Ordo-Signature", ordo::test::sign_payment(secret, pay)}});
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json == (nlohmann::json{{"result", "captured"}}));
  BOOST_TEST(f.node.last_pay().amount == 3998);
  r = c.post("/v1/payments/callback", pay,
             {{"X-Ordo-Signature", ordo::test::sign_payment(secret, pay)}});
  BOOST_TEST(r.json["result"] == "duplicate");

  r = c.post("/v1/orders/" + id + "/cancel", R"({"reason":"oops"})");
  BOOST_TEST(r.status == 409u);
  BOOST_TEST(r.error() == "already_paid");
  BOOST_TEST(f.node.last_cancel_reason() == "oops");

  r = c.post("/v1/orders/" + id + "/complete", "", bearer(admin_token));
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["status"] == "COMPLETED");
  r = c.post("/v1/orders/" + id + "/refund", "", bearer(admin_token));
  BOOST_TEST(r.status == 409u);
  BOOST_TEST(r.error() == "invalid_transition");
}

BOOST_AUTO_TEST_CASE(cancel_without_body) {
  fixture f;
  auto c = f.client();
  f.stock(c, "A", 10);
  auto id = c.post("/v1/orders", order_body, key("k1"))
              .json["order_id"]
              .get<std::string>();
  auto r = c.post("/v1/orders/" + id + "/cancel");
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["status"] == "CANCELLED");
  BOOST_TEST(r.json["cancel_reason"] == "user");
  BOOST_TEST(c.post("/v1/orders/" + id + "/cancel", "[]").status == 400u);
}

BOOST_AUTO_TEST_CASE(payment_signature_is_checked_before_parsing) {
  fixture f;
  auto c = f.client();
  std::string garbage = "{not json";
  auto r = c.post("/v1/payments/callback", garbage);
  BOOST_TEST(r.status == 401u);
  BOOST_TEST(r.error() == "unauthorized");
  r = c.post(
    "/v1/payments/callback", garbage,
    {{"X-Ordo-Signature", ordo::test::sign_payment("wrong", garbage)}});
  BOOST_TEST(r.status == 401u);
  r = c.post("/v1/payments/callback", garbage,
             {{"X-Ordo-Signature", ordo::test::sign_payment(secret, garbage)}});
  BOOST_TEST(r.status == 400u);
  BOOST_TEST(r.error() == "bad_request");
}

BOOST_AUTO_TEST_CASE(sandbox_calls_are_listed_for_admins) {
  fixture f;
  auto c = f.client();
  auto r = c.get("/v1/admin/sandbox/calls", bearer(admin_token));
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.json["calls"].size() == 2u);
  BOOST_TEST(r.json["calls"][0]["received"] == 2);
}

BOOST_AUTO_TEST_CASE(bad_requests_do_not_hurt_the_server) {
  fixture f;
  auto c = f.client();
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
  auto o = test_options();
  o.body_limit = 1024;
  fixture f(o);
  auto c = f.client();
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
  auto o = test_options();
  o.body_limit = 1024;
  fixture f(o);
  auto c = f.client();
  std::string chunk(800, 'x');
  c.send_raw("POST /v1/orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\r\n"
             "Transfer-Encoding: chunked\r\n\r\n320\r\n"
             + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  auto r = c.read_response();
  BOOST_TEST(r.status == 413u);
}

BOOST_AUTO_TEST_CASE(default_body_limit_is_one_mebibyte) {
  fixture f;
  auto c = f.client();
  auto r = c.post("/v1/orders", std::string(1024 * 1024 + 1, ' '), key("k"));
  BOOST_TEST(r.status == 413u);
  c.reconnect();
  r = c.post("/v1/orders", std::string(1024 * 1024, ' '), key("k"));
  BOOST_TEST(r.status == 400u);
}

BOOST_AUTO_TEST_CASE(huge_header_is_rejected) {
  fixture f;
  auto c = f.client();
  auto r = c.get("/healthz", {{"X-Big", std::string(20000, 'h')}});
  BOOST_TEST(r.status == 400u);
  BOOST_TEST(!r.keep_alive);
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  fixture f;
  auto c = f.client();
  f.stock(c, "A", 10);
  std::string create = "POST /v1/orders HTTP/1.1\r\nHost: x\r\n"
                       "Idempotency-Key: p1\r\nContent-Length: "
                       + std::to_string(order_body.size()) + "\r\n\r\n"
                       + order_body;
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + create
             + "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(c.read_response().json["status"] == "ok");
  BOOST_TEST(c.read_response().status == 201u);
  BOOST_TEST(c.read_response().status == 404u);
  BOOST_TEST(c.read_response().json["status"] == "ready");
}

BOOST_AUTO_TEST_CASE(connection_close_is_honoured) {
  fixture f;
  auto c = f.client();
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
  fixture f;
  auto c = f.client();
  c.send_raw("PUT /v1/skus/A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
             + admin_token
             + "\r\nExpect: 100-continue\r\nContent-Length: 24\r\n\r\n");
  auto interim = c.read_response();
  BOOST_TEST(interim.status == 100u);
  c.send_raw(R"({"price":1,"stock":2}   )");
  auto r = c.read_response();
  BOOST_TEST(r.status == 200u, r.body);
}

BOOST_AUTO_TEST_CASE(slow_clients_are_cut_off) {
  auto o = test_options();
  o.header_timeout = 300ms;
  o.body_timeout = 300ms;
  o.idle_timeout = 600ms;
  fixture f(o);

  // Connects and says nothing: the header timeout applies.
  auto silent = f.client();
  BOOST_TEST(silent.closed_by_peer(3s));

  // Half a header.
  auto slow_header = f.client();
  slow_header.send_raw("GET /healthz HTTP/1.1\r\nHo");
  BOOST_TEST(slow_header.closed_by_peer(3s));

  // Half a body.
  auto slow_body = f.client();
  slow_body.send_raw("PUT /v1/skus/A HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 100\r\n\r\n{\"price\"");
  BOOST_TEST(slow_body.closed_by_peer(3s));

  // Keep-alive: open past the header timeout, closed after the idle one.
  auto idle = f.client();
  BOOST_TEST(idle.get("/healthz").status == 200u);
  BOOST_TEST(!idle.closed_by_peer(400ms));
  BOOST_TEST(idle.get("/healthz").status == 200u);
  BOOST_TEST(idle.closed_by_peer(3s));

  // Meanwhile others are served.
  auto other = f.client();
  BOOST_TEST(other.get("/healthz").status == 200u);
}

BOOST_AUTO_TEST_CASE(connections_beyond_the_limit_are_refused) {
  auto o = test_options();
  o.max_connections = 2;
  fixture f(o);
  auto a = f.client();
  auto b = f.client();
  BOOST_TEST(a.get("/healthz").status == 200u);
  BOOST_TEST(b.get("/healthz").status == 200u);
  auto c = f.client();
  auto r = c.read_response();
  BOOST_TEST(r.status == 503u);
  BOOST_TEST(r.error() == "unavailable");
  BOOST_TEST(r.header("Retry-After") == "1");
  BOOST_TEST(c.closed_by_peer(2s));
  // A slot frees when a connection closes.
  b.get("/healthz", {{"Connection", "close"}});
  BOOST_TEST(b.closed_by_peer(2s));
  std::this_thread::sleep_for(100ms);
  auto d = f.client();
  BOOST_TEST(d.get("/healthz").status == 200u);
}

BOOST_AUTO_TEST_CASE(a_lost_node_reply_answers_500) {
  fixture f;
  auto c = f.client();
  f.node.drop_next();
  auto r = c.get("/v1/orders/o1");
  BOOST_TEST(r.status == 500u);
  BOOST_TEST(r.error() == "internal");
  BOOST_TEST(c.get("/healthz").status == 200u);
}

BOOST_AUTO_TEST_CASE(replies_after_stop_are_dropped_safely) {
  fixture f;
  {
    auto c = f.client();
    f.node.hold_next();
    c.send_raw("GET /v1/orders/o1 HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(100ms);
    f.srv->stop();
    f.srv->stop(); // idempotent
    BOOST_TEST(c.closed_by_peer(2s));
  }
  f.srv.reset();
  f.node.release_held(); // the late reply must not crash
}

BOOST_AUTO_TEST_CASE(a_late_reply_reaches_its_client) {
  fixture f;
  auto c = f.client();
  f.node.hold_next();
  c.send_raw("GET /v1/orders/o1 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(100ms);
  std::thread late([&] {
    f.node.release_held();
  });
  auto r = c.read_response();
  late.join();
  BOOST_TEST(r.status == 404u);
}

BOOST_AUTO_TEST_CASE(many_clients_in_parallel) {
  fixture f;
  {
    auto c = f.client();
    f.stock(c, "A", 1'000'000);
  }
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      http_client c(f.srv->port());
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
}

BOOST_AUTO_TEST_CASE(start_fails_cleanly_on_a_taken_port) {
  fixture f;
  auto o = test_options();
  o.port = f.srv->port();
  std::string err;
  auto second = server::start(o, f.node, &err);
  BOOST_TEST(!second);
  BOOST_TEST(err.find("cannot listen") != std::string::npos, err);
  o.port = 0;
  o.host = "no-such-host.invalid";
  BOOST_TEST(!server::start(o, f.node, &err));
  BOOST_TEST(!err.empty());
}

BOOST_AUTO_TEST_SUITE_END()
