#include <boost/test/unit_test.hpp>

#include "gateway/detail/render.hpp"

using namespace ordo::gateway::detail;
namespace order = ordo::actors::order;

namespace {

order::state sample_order() {
  order::state o;
  o.order_id = "o-1";
  o.user_id = "u1";
  o.st = order::status::pending_payment;
  o.version = 1;
  o.items = {{"A", 2, 1999, ordo::actors::item_kind::goods}};
  o.amount = 3998;
  o.discount = 500;
  o.payable = 3498;
  o.coupon_id = "c1";
  o.created_at = 1795342530123;
  o.updated_at = 1795342530123;
  o.pay_deadline = 1795342530123 + 15 * 60 * 1000;
  o.fingerprint = order::fingerprint_hash("f");
  o.token = 9;
  return o;
}

} // namespace

BOOST_AUTO_TEST_SUITE(render_suite)

BOOST_AUTO_TEST_CASE(times_are_rfc3339_utc_with_milliseconds) {
  BOOST_TEST(format_time(1795342530123) == "2026-11-22T10:15:30.123Z");
  BOOST_TEST(format_time(0) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(format_time(951868799999) == "2000-02-29T23:59:59.999Z");
  BOOST_TEST(format_time(4107542400000) == "2100-03-01T00:00:00.000Z");
  BOOST_TEST(format_time(946684799001) == "1999-12-31T23:59:59.001Z");
  BOOST_TEST(format_time(-1) == "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(order_renders_as_api_md) {
  auto j = render(sample_order());
  auto expected = nlohmann::ordered_json::parse(R"({
    "order_id": "o-1", "user_id": "u1", "status": "PENDING_PAYMENT",
    "version": 1,
    "items": [{"sku": "A", "quantity": 2, "unit_price": 1999, "kind": "goods"}],
    "amount": 3998, "discount": 500, "payable": 3498,
    "coupon_id": "c1", "affiliate_id": null, "parent_id": null, "children": [],
    "created_at": "2026-11-22T10:15:30.123Z",
    "updated_at": "2026-11-22T10:15:30.123Z",
    "pay_deadline": "2026-11-22T10:30:30.123Z",
    "cancel_reason": null, "payments": [], "technician": null})");
  BOOST_TEST(j == expected, j.dump());
  // Keys keep API.md's order; internal fields never leak.
  BOOST_TEST(j.begin().key() == "order_id");
  BOOST_TEST(!j.contains("fingerprint"));
  BOOST_TEST(!j.contains("token"));
}

BOOST_AUTO_TEST_CASE(order_with_children_payments_and_reason) {
  auto o = sample_order();
  o.st = order::status::cancelled;
  o.coupon_id.clear();
  o.affiliate_id = "aff1";
  o.parent_id = "o-0";
  o.children = {{"o-2", ordo::actors::item_kind::goods, 100,
                 order::status::cancelled, 2, ""},
                {"o-3", ordo::actors::item_kind::service, 200,
                 order::status::paid, 3, "child o-3 is PAID"}};
  o.st = order::status::manual_intervention;
  o.manual_reason = "cancel (user) could not finish: child o-3 is PAID";
  o.cancel_reason = "timeout";
  o.pay_deadline = 0;
  o.payments = {{"t1", 3498, order::payment_status::refund_pending, "r1"},
                {"t2", 10, order::payment_status::refunded, "r2"}};
  auto j = render(o);
  BOOST_TEST(j["status"] == "MANUAL_INTERVENTION");
  BOOST_TEST(j["manual_reason"]
             == "cancel (user) could not finish: child o-3 is PAID");
  BOOST_TEST(j["child_orders"][1]["status"] == "PAID");
  BOOST_TEST(j["child_orders"][0]["kind"] == "goods");
  BOOST_TEST(j["coupon_id"].is_null());
  BOOST_TEST(j["affiliate_id"] == "aff1");
  BOOST_TEST(j["parent_id"] == "o-0");
  BOOST_TEST(j["children"] == nlohmann::ordered_json::array({"o-2", "o-3"}));
  BOOST_TEST(j["cancel_reason"] == "timeout");
  BOOST_TEST(j["pay_deadline"].is_null());
  BOOST_TEST(j["payments"][0]
             == nlohmann::ordered_json::parse(
               R"({"txn_id":"t1","amount":3498,"status":"REFUND_PENDING"})"));
  BOOST_TEST(j["payments"][1]["status"] == "REFUNDED");
  BOOST_TEST(!j["payments"][0].contains("refund_id"));
}

BOOST_AUTO_TEST_CASE(every_status_renders) {
  auto o = sample_order();
  const std::pair<order::status, const char*> all[]
    = {{order::status::pending_payment, "PENDING_PAYMENT"},
       {order::status::paid, "PAID"},
       {order::status::dispatched, "DISPATCHED"},
       {order::status::completed, "COMPLETED"},
       {order::status::cancelled, "CANCELLED"},
       {order::status::refunded, "REFUNDED"},
       {order::status::manual_intervention, "MANUAL_INTERVENTION"}};
  for (const auto& [st, name] : all) {
    o.st = st;
    BOOST_TEST(render(o)["status"] == name);
  }
}

BOOST_AUTO_TEST_CASE(sku_renders_as_api_md) {
  ordo::actors::inventory::state s;
  s.sku = "A";
  s.exists = true;
  s.price = 1999;
  s.kind = ordo::actors::item_kind::service;
  s.stocked = 100;
  s.available = 90;
  s.reserved = 7;
  s.sold = 3;
  s.reservations["o1"] = {7, 1, 5};
  auto j = render(s);
  BOOST_TEST(j
               == nlohmann::ordered_json::parse(
                 R"({"sku":"A","price":1999,"kind":"service","stocked":100,
                        "available":90,"reserved":7,"sold":3})"),
             j.dump());
}

BOOST_AUTO_TEST_CASE(sandbox_calls_render) {
  std::vector<ordo::runtime::provider_call> calls{
    {"refund", "r1", "o1", "t1", 3498, 2}, {"close", "o2", "o2", "", 0, 1}};
  auto j = render(calls);
  BOOST_TEST(j == nlohmann::ordered_json::parse(R"({"calls":[
    {"kind":"refund","id":"r1","order_id":"o1","txn_id":"t1","amount":3498,"received":2},
    {"kind":"close","id":"o2","order_id":"o2","txn_id":null,"amount":0,"received":1}]})"),
             j.dump());
}

BOOST_AUTO_TEST_SUITE_END()
