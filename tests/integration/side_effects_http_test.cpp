// The side-effect endpoints of API.md over real HTTP: coupons, commissions,
// notifications and dispatches, and the admin views of the outbox and the
// SMS log sink. Their rules are tested on the node (tests/runtime); here
// the contract: fields, types, statuses.

#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

#include "tests/integration/server_fixture.hpp"

using namespace ordo;
using namespace ordo::test;

namespace {

std::set<std::string> keys_of(const nlohmann::json& j) {
  std::set<std::string> out;
  for (auto& [k, v] : j.items()) {
    out.insert(k);
  }
  return out;
}

/// A node whose cooling periods end at once.
struct quick_fixture : server_fixture {
  quick_fixture()
    : server_fixture([](gateway::server_options&) {},
                     [](runtime::node_options& o) {
                       o.notify_delay = 1;
                       o.dispatch_delay = 1;
                       o.technicians = {"ann"};
                     }) {}
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(side_effects_http, quick_fixture)

BOOST_AUTO_TEST_CASE(coupon_commission_sms_and_dispatch_as_api_md_says) {
  http_client c{port()};
  auto admin = bearer(admin_token);
  BOOST_REQUIRE_EQUAL(
    c.put("/v1/skus/S", R"({"price":2000,"stock":10,"kind":"service"})", admin)
      .status,
    200u);
  auto put
    = c.put("/v1/coupons/c1",
            R"({"user_id":"u1","discount":500,"min_amount":1000})", admin);
  BOOST_REQUIRE_EQUAL(put.status, 200u);
  BOOST_CHECK((keys_of(put.json)
               == std::set<std::string>{"coupon_id", "user_id", "discount",
                                        "min_amount", "status", "order_id"}));
  BOOST_CHECK_EQUAL(put.json["status"], "AVAILABLE");
  BOOST_CHECK(put.json["order_id"].is_null());

  auto created = c.post(
    "/v1/orders",
    R"({"user_id":"u1","items":[{"sku":"S","quantity":1}],"coupon_id":"c1","affiliate_id":"aff1"})",
    {{"Idempotency-Key", "k1"}});
  BOOST_REQUIRE_EQUAL(created.status, 201u);
  std::string id = created.json["order_id"];
  BOOST_CHECK_EQUAL(created.json["discount"], 500);
  BOOST_CHECK_EQUAL(created.json["payable"], 1500);
  BOOST_CHECK_EQUAL(created.json["coupon_id"], "c1");
  BOOST_CHECK_EQUAL(created.json["affiliate_id"], "aff1");
  auto coupon = c.get("/v1/coupons/c1", admin).json;
  BOOST_CHECK_EQUAL(coupon["status"], "LOCKED");
  BOOST_CHECK_EQUAL(coupon["order_id"], id);

  BOOST_REQUIRE_EQUAL(pay(c, id, "t1", 1500).json["result"], "captured");
  BOOST_REQUIRE(eventually([&] {
    return c.get("/v1/orders/" + id).json["status"] == "DISPATCHED";
  }));
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK_EQUAL(c.get("/v1/coupons/c1", admin).json["status"], "USED");
  BOOST_CHECK_EQUAL(c.get("/v1/orders/" + id).json["technician"], "ann");

  auto d = c.get("/v1/dispatches?order_id=" + id);
  BOOST_REQUIRE_EQUAL(d.status, 200u);
  BOOST_REQUIRE_EQUAL(d.json["dispatches"].size(), 1u);
  auto dispatch = d.json["dispatches"][0];
  BOOST_CHECK((keys_of(dispatch)
               == std::set<std::string>{"dispatch_id", "order_id", "technician",
                                        "status", "paid_at"}));
  BOOST_CHECK_EQUAL(dispatch["status"], "ASSIGNED");
  BOOST_CHECK_EQUAL(dispatch["technician"], "ann");

  BOOST_REQUIRE(eventually([&] {
    auto n = c.get("/v1/notifications?order_id=" + id).json;
    return n["notifications"].size() == 1
           && n["notifications"][0]["status"] == "SENT";
  }));
  auto note
    = c.get("/v1/notifications?order_id=" + id).json["notifications"][0];
  BOOST_CHECK(
    (keys_of(note)
     == std::set<std::string>{"notification_id", "order_id", "template",
                              "status", "created_at", "sent_at"}));
  BOOST_CHECK_EQUAL(note["template"], "new_order");
  BOOST_CHECK(note["sent_at"].is_string());
  BOOST_REQUIRE(node->quiesce(10'000));
  auto sms = c.get("/v1/admin/sms", admin).json["sms"];
  BOOST_REQUIRE_EQUAL(sms.size(), 1u);
  BOOST_CHECK_EQUAL(sms[0]["notification_id"], note["notification_id"]);
  BOOST_CHECK_EQUAL(sms[0]["received"], 1);

  BOOST_REQUIRE_EQUAL(
    c.post("/v1/orders/" + id + "/complete", "", admin).status, 200u);
  BOOST_REQUIRE(node->quiesce(10'000));
  auto aff = c.get("/v1/affiliates/aff1/commissions");
  BOOST_REQUIRE_EQUAL(aff.status, 200u);
  BOOST_CHECK_EQUAL(aff.json["pending"], 0);
  BOOST_CHECK_EQUAL(aff.json["invalid"], 0);
  BOOST_CHECK_EQUAL(aff.json["settled"], 75); // 5% of 1500
  BOOST_REQUIRE_EQUAL(aff.json["entries"].size(), 1u);
  BOOST_CHECK_EQUAL(aff.json["entries"][0]["order_id"], id);
  BOOST_CHECK_EQUAL(aff.json["entries"][0]["amount"], 75);
  BOOST_CHECK_EQUAL(aff.json["entries"][0]["status"], "SETTLED");

  auto outbox = c.get("/v1/admin/outbox", admin);
  BOOST_REQUIRE_EQUAL(outbox.status, 200u);
  BOOST_CHECK_EQUAL(outbox.json["backlog"], 0);
  BOOST_CHECK(outbox.json["messages"].empty());
  BOOST_CHECK_EQUAL(
    c.get("/v1/admin/outbox?state=dead&limit=5", admin).json["dead_letters"],
    0);
  BOOST_CHECK_EQUAL(c.get("/v1/admin/outbox?state=gone", admin).status, 400u);
  BOOST_CHECK_EQUAL(c.get("/v1/admin/outbox?limit=0", admin).status, 400u);
  BOOST_CHECK_EQUAL(c.get("/v1/admin/outbox").status, 401u);

  auto metrics = c.get("/metrics");
  BOOST_REQUIRE_EQUAL(metrics.status, 200u);
  for (auto line :
       {"ordo_sms_total{outcome=\"sent\"} 1\n",
        "ordo_sms_total{outcome=\"suppressed\"} 0\n",
        "ordo_dispatches_total{outcome=\"assigned\"} 1\n",
        "ordo_outbox_backlog 0\n", "ordo_outbox_dead_letters 0\n",
        "# TYPE ordo_outbox_delivered_total counter\n",
        "# TYPE ordo_commit_batches histogram\n", "ordo_mailbox_depth 0\n",
        "ordo_wal_sync_seconds_bucket{le=\"+Inf\"}",
        "ordo_http_requests_total{route=\"/v1/orders\",method="
        "\"POST\",status=\"201\"} 1\n",
        "ordo_http_request_duration_seconds_count{route=\"/v1/"
        "orders/{id}\",method=\"GET\"}"}) {
    BOOST_CHECK_MESSAGE(metrics.body.find(line) != std::string::npos,
                        "no " << line << " in\n"
                              << metrics.body);
  }
  BOOST_CHECK_EQUAL(c.get("/v1/admin/sms").status, 401u);
}

BOOST_AUTO_TEST_CASE(faults_are_listed_armed_and_cleared_over_http) {
  http_client c{port()};
  auto admin = bearer(admin_token);
  auto listed = c.get("/v1/admin/faults", admin);
  BOOST_REQUIRE_EQUAL(listed.status, 200u);
  BOOST_CHECK(listed.json["faults"].empty());
  std::set<std::string> points;
  for (auto& p : listed.json["points"]) {
    points.insert(p["name"].get<std::string>());
  }
  for (auto name :
       {"store.before_commit", "store.after_commit", "gateway.before_reply",
        "relay.deliver", "payment.call", "sms.call"}) {
    BOOST_CHECK_MESSAGE(points.count(name) == 1, name);
  }
  auto armed = c.post(
    "/v1/admin/faults",
    R"({"point":"relay.deliver","action":"error","probability":0.5,"count":3})",
    admin);
  BOOST_REQUIRE_EQUAL(armed.status, 200u);
  BOOST_CHECK_EQUAL(armed.json["point"], "relay.deliver");
  BOOST_CHECK_EQUAL(c.get("/v1/admin/faults", admin).json["faults"].size(), 1u);
  BOOST_CHECK_EQUAL(
    c.post("/v1/admin/faults", R"({"point":"nowhere","action":"crash"})", admin)
      .status,
    400u);
  BOOST_CHECK_EQUAL(c.post("/v1/admin/faults",
                           R"({"point":"store.after_commit","action":"drop"})",
                           admin)
                      .status,
                    400u);
  BOOST_CHECK_EQUAL(c.post("/v1/admin/faults", "{", admin).status, 400u);
  BOOST_CHECK_EQUAL(
    c.post("/v1/admin/faults", R"({"point":"relay.deliver","action":"error"})")
      .status,
    401u);
  BOOST_CHECK_EQUAL(
    c.request("DELETE", "/v1/admin/faults/relay.deliver", "", admin).status,
    200u);
  BOOST_CHECK_EQUAL(
    c.request("DELETE", "/v1/admin/faults/relay.deliver", "", admin).status,
    404u);
  BOOST_CHECK_EQUAL(c.request("DELETE", "/v1/admin/faults", "", admin).status,
                    200u);
  BOOST_CHECK(c.get("/v1/admin/faults", admin).json["faults"].empty());
}

BOOST_AUTO_TEST_SUITE_END()
