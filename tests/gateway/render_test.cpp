#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

#include "actors/limiter.hpp"
#include "actors/reports.hpp"
#include "gateway/detail/render.hpp"
#include "tests/support/json_within.hpp"

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

/// The inspection `state` of `s`, handed over as the runtime reads it: in
/// its kind's stored form.
template <class State>
nlohmann::json inspected(const std::string& kind, const State& s) {
  ordo::runtime::actor_view v;
  v.kind = kind;
  v.id = "x";
  v.exists = true;
  v.state = nlohmann::json(s);
  return nlohmann::json(render(v)["state"]);
}

/// Every field of the API's rendering is in `state`, with its value.
void check_shows_api(const nlohmann::ordered_json& api,
                     const nlohmann::json& state) {
  std::string where;
  BOOST_TEST(ordo::test::json_within(nlohmann::json(api), state, &where),
             where);
}

/// None of the stored form's short names shows.
void check_no_keys(const nlohmann::json& state,
                   const std::set<std::string>& stored) {
  for (const auto& [key, value] : state.items()) {
    BOOST_TEST(stored.count(key) == 0, "stored key " << key);
  }
}

std::string at(ordo::actors::millis t) {
  return format_time(t);
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

// --- inspection: the state under the API's names --------------------------

BOOST_AUTO_TEST_CASE(inspected_order_is_its_api_rendering_plus_internals) {
  auto o = sample_order();
  o.affiliate_id = "aff1";
  o.children = {{"o-2", ordo::actors::item_kind::goods, 100,
                 order::status::cancelled, 2, ""},
                {"o-3", ordo::actors::item_kind::service, 200,
                 order::status::paid, 3, "child o-3 is PAID"}};
  o.saga = order::saga_state{"cancel", "user", 1795342531000};
  o.payments = {{"t1", 3498, order::payment_status::refund_pending, "r1"},
                {"t2", 10, order::payment_status::captured, ""}};
  auto s = inspected(order::kind, o);
  check_shows_api(render(o), s);
  BOOST_TEST(s["status"] == "PENDING_PAYMENT");
  BOOST_TEST(s["payable"] == 3498);
  BOOST_TEST(s["discount"] == 500);
  BOOST_TEST(s["pay_deadline"] == at(o.pay_deadline));
  BOOST_TEST(s["fingerprint"] == std::to_string(o.fingerprint));
  BOOST_TEST(s["token"] == "9");
  BOOST_TEST(s["saga"]["started_at"] == at(1795342531000));
  BOOST_TEST(s["child_orders"][0]["refused"].is_null());
  BOOST_TEST(s["child_orders"][1]["refused"] == "child o-3 is PAID");
  BOOST_TEST(s["child_orders"][1]["version"] == 3);
  BOOST_TEST(s["payments"][0]["refund_id"] == "r1");
  BOOST_TEST(s["payments"][1]["refund_id"].is_null());
  check_no_keys(s, {"id", "user", "st", "v", "amt", "disc", "pay", "coupon",
                    "aff", "parent", "created", "updated", "deadline", "reason",
                    "tech", "fp", "manual"});
}

BOOST_AUTO_TEST_CASE(inspected_sku_lists_reservations_and_shortfalls) {
  ordo::actors::inventory::state s;
  s.sku = "A";
  s.exists = true;
  s.price = 1999;
  s.stocked = 100;
  s.available = 90;
  s.reserved = 7;
  s.sold = 3;
  s.updated_at = 1795342530123;
  s.reservations["o1"] = {7, 11, 1795342590123};
  s.shortfalls["o2"] = 2;
  auto j = inspected(ordo::actors::inventory::kind, s);
  check_shows_api(render(s), j);
  BOOST_TEST(j["available"] == 90);
  BOOST_TEST(j["reservations"]
               == nlohmann::json::parse(
                 R"([{"order_id":"o1","quantity":7,"token":"11",
                    "expires_at":"2026-11-22T10:16:30.123Z"}])"),
             j["reservations"].dump());
  BOOST_TEST(j["shortfalls"]
             == nlohmann::json::parse(R"([{"order_id":"o2","quantity":2}])"));
  BOOST_TEST(j["updated_at"] == at(s.updated_at));
  check_no_keys(j, {"avail", "resv", "v", "updated", "entries"});
}

BOOST_AUTO_TEST_CASE(inspected_coupon_shows_its_lock) {
  namespace coupon = ordo::actors::coupon;
  coupon::state s;
  s.coupon_id = "c1";
  s.exists = true;
  s.user_id = "u1";
  s.discount = 500;
  s.min_amount = 1000;
  s.st = coupon::status::locked;
  s.order_id = "o1";
  s.token = 42;
  s.lock_expires_at = 1795342590123;
  s.conflicts = {"o9"};
  auto j = inspected(coupon::kind, s);
  check_shows_api(render(s), j);
  BOOST_TEST(j["status"] == "LOCKED");
  BOOST_TEST(j["lock"]
             == nlohmann::json::parse(
               R"({"token":"42","expires_at":"2026-11-22T10:16:30.123Z"})"));
  BOOST_TEST(j["conflicts"] == nlohmann::json::array({"o9"}));
  check_no_keys(
    j, {"id", "user", "disc", "min", "st", "order", "exp", "v", "updated"});

  s = coupon::state{};
  s.coupon_id = "c2";
  s.exists = true;
  BOOST_TEST(inspected(coupon::kind, s)["lock"].is_null());
}

BOOST_AUTO_TEST_CASE(inspected_notifier_shows_its_pending_check) {
  namespace notifier = ordo::actors::notifier;
  notifier::state s;
  s.order_id = "o1";
  s.new_order = notifier::notification{
    "o1:new_order", "new_order", notifier::status::sent, 1, 2, false};
  s.cancel_notice = notifier::notification{"o1:order_cancelled",
                                           "order_cancelled",
                                           notifier::status::pending,
                                           3,
                                           0,
                                           true};
  s.cancelled = true;
  s.checking = true;
  s.due = 1795342530123;
  auto j = inspected(notifier::kind, s);
  check_shows_api(render(s), j);
  BOOST_TEST(j["notifications"][1]["template"] == "order_cancelled");
  BOOST_TEST(j["notifications"][0]["in_flight"] == false);
  BOOST_TEST(j["notifications"][1]["in_flight"] == true);
  BOOST_TEST(j["order_cancelled"] == true);
  BOOST_TEST(j["awaiting_status"] == true);
  BOOST_TEST(j["check_due_at"] == at(s.due));
  check_no_keys(j, {"order", "v", "updated", "cancelled", "checking", "due",
                    "new_order", "cancel"});
}

BOOST_AUTO_TEST_CASE(inspected_dispatcher_shows_what_it_waits_for) {
  namespace dispatcher = ordo::actors::dispatcher;
  dispatcher::state s;
  s.order_id = "o1";
  s.exists = true;
  s.dispatch_id = dispatcher::dispatch_id("o1");
  s.st = dispatcher::status::pending;
  s.paid_at = 1795342530123;
  s.waiting = dispatcher::step::assign;
  s.due = 1795342540123;
  s.assign_requested = true;
  s.retries = 2;
  auto j = inspected(dispatcher::kind, s);
  check_shows_api(render(s), j);
  BOOST_TEST(j["dispatches"][0]["status"] == "PENDING");
  BOOST_TEST(j["waiting_for"] == "assign");
  BOOST_TEST(j["check_due_at"] == at(s.due));
  BOOST_TEST(j["assign_requested"] == true);
  BOOST_TEST(j["retries"] == 2);
  check_no_keys(j, {"order", "v", "updated", "exists", "id", "tech", "st",
                    "paid", "wait", "due", "asked", "refunded"});
}

BOOST_AUTO_TEST_CASE(inspected_affiliate_shows_unknown_amounts) {
  namespace attribution = ordo::actors::attribution;
  attribution::state s;
  s.affiliate_id = "aff1";
  s.entries["o1"] = {150, true, attribution::status::settled, true};
  s.entries["o2"] = {0, false, attribution::status::invalid, false};
  s.sums = attribution::sum(s);
  auto j = inspected(attribution::kind, s);
  check_shows_api(render(s), j);
  BOOST_TEST(j["settled"] == 150);
  BOOST_TEST(j["entries"][0]["amount_known"] == true);
  BOOST_TEST(j["entries"][1]["amount_known"] == false);
  check_no_keys(j, {"id", "v", "updated", "pend", "inv", "set", "claw"});
}

BOOST_AUTO_TEST_CASE(inspected_technicians_list_load_and_assignments) {
  namespace technicians = ordo::actors::technicians;
  technicians::state s;
  s.id = technicians::pool_id;
  s.load = {{"t1", 1}, {"t2", 0}};
  s.last = "t1";
  s.assignments["o1:dispatch"] = {"t1", true};
  s.assignments["o2:dispatch"] = {"", false};
  auto j = inspected(technicians::kind, s);
  BOOST_TEST(j == nlohmann::json::parse(R"({"id":"all",
      "load":[{"technician":"t1","active_assignments":1},
              {"technician":"t2","active_assignments":0}],
      "last_assigned":"t1",
      "assignments":[
        {"dispatch_id":"o1:dispatch","technician":"t1","active":true},
        {"dispatch_id":"o2:dispatch","technician":null,"active":false}],
      "updated_at":null})"),
             j.dump());
}

BOOST_AUTO_TEST_CASE(inspected_limiter_shows_its_challenge_not_its_answer) {
  namespace limiter = ordo::actors::limiter;
  limiter::state s;
  s.user_id = "u1";
  s.admitted = {{1795342530123, "o1"}};
  s.solved_at = 1795342520123;
  s.challenge = ordo::actors::captcha::challenge{"u1-3", "What is 3 + 4?",
                                                 "secret-7", 1795342530123};
  s.issued = 3;
  auto j = inspected(limiter::kind, s);
  BOOST_TEST(j["user_id"] == "u1");
  BOOST_TEST(
    j["admitted"]
    == nlohmann::json::parse(
      R"([{"order_id":"o1","admitted_at":"2026-11-22T10:15:30.123Z"}])"));
  BOOST_TEST(j["challenge"]
             == nlohmann::json::parse(
               R"({"id":"u1-3","question":"What is 3 + 4?",
                   "issued_at":"2026-11-22T10:15:30.123Z"})"));
  BOOST_TEST(j["challenges_issued"] == 3);
  BOOST_TEST(j["captcha_solved_at"] == at(s.solved_at));
  BOOST_TEST(j.dump().find("secret-7") == std::string::npos);
  check_no_keys(j, {"user", "v", "updated", "adm", "solved", "ch", "issued"});
}

BOOST_AUTO_TEST_CASE(inspected_report_uses_the_sales_report_names) {
  namespace reports = ordo::actors::reports;
  reports::state s;
  s.shard = "o002a";
  s.placed = {4, 4000};
  s.paid = {1, 1000};
  s.cancelled = {3, 3000};
  s.flash = {2, 2000};
  s.manual = {1, 50};
  s.flash_by_user = {{"u1", 2}};
  s.top = {{"u1", 2}};
  auto j = inspected(reports::kind, s);
  auto sales
    = render(ordo::runtime::sales_report{reports::merge({s}, 10), 60'000});
  sales["flash_cancels"].erase("window_seconds");
  check_shows_api(sales, j);
  BOOST_TEST(j["shard"] == "o002a");
  BOOST_TEST(j["manual_intervention"]["amount"] == 50);
  BOOST_TEST(j["flash_cancels_by_user"]
             == nlohmann::json::parse(R"([{"user_id":"u1","count":2}])"));
  check_no_keys(j, {"v", "updated", "manual", "flash", "top", "users"});
}

BOOST_AUTO_TEST_CASE(every_hosted_kind_has_a_rendering) {
  for (const auto& kind : ordo::runtime::actor_kinds()) {
    ordo::runtime::actor_view v;
    v.kind = kind;
    v.state = nlohmann::json::object();
    BOOST_TEST(render(v)["state"] != nlohmann::ordered_json::object(), kind);
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_kind_or_unreadable_state_shows_as_stored) {
  ordo::runtime::actor_view v;
  v.kind = "gizmo";
  v.state = nlohmann::json{{"st", "X"}, {"amt", 1}};
  BOOST_TEST(nlohmann::json(render(v)["state"]) == v.state);
  v.kind = order::kind;
  v.state = nlohmann::json::array({1, 2});
  BOOST_TEST(nlohmann::json(render(v)["state"]) == v.state);
}

BOOST_AUTO_TEST_SUITE_END()
