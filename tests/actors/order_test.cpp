// Tests of the order state machine (DESIGN.md rules 1-5) against its pure
// functions, and of an order and its SKUs exchanging messages.

#include <algorithm>
#include <deque>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/attribution.hpp"
#include "actors/coupon.hpp"
#include "actors/inventory.hpp"
#include "actors/order.hpp"
#include "actors/reports.hpp"
#include "tests/actors/report_sums.hpp"

using namespace ordo::actors;
using nlohmann::json;

namespace ordo::actors::order {
// Lets BOOST_TEST print statuses on failure.
std::ostream& operator<<(std::ostream& os, status st) {
  return os << to_string(st);
}
} // namespace ordo::actors::order

namespace {

constexpr millis t0 = 1'700'000'000'000;
constexpr millis minute = 60 * 1000;

const order::config ocfg{};

order::context at(millis t) {
  return order::context{t, &ocfg};
}

order::state fresh(const std::string& id = "o1") {
  order::state s;
  s.order_id = id;
  return s;
}

order::create make_create(std::vector<order::requested_item> items,
                          std::string fingerprint = "fp1",
                          std::uint64_t token = 7) {
  order::create c;
  c.user_id = "u1";
  c.items = std::move(items);
  c.fingerprint = std::move(fingerprint);
  c.token = token;
  return c;
}

order::reserved ok_answer(const std::string& sku, std::int64_t price,
                          item_kind kind = item_kind::goods) {
  return order::reserved{sku, std::nullopt, price, kind};
}

order::reserved failed_answer(const std::string& sku, errc code) {
  return order::reserved{sku, error{code, "no"}, 0, item_kind::goods};
}

/// A SKU's answer to the quote of an order being created.
order::reserved quoted(const std::string& sku, std::int64_t price = 0,
                       item_kind kind = item_kind::goods) {
  return order::reserved{sku, std::nullopt, price, kind, true};
}

order::reserved quote_failed(const std::string& sku, errc code) {
  return order::reserved{sku, error{code, "no"}, 0, item_kind::goods, true};
}

/// Handles create `c` and passes its checks (every SKU quoted at price 0,
/// the coupon free): the outcome of the turn that sent the reservations
/// (the create's own, for one SKU without a coupon: it reserves at once).
outcome start(order::state& s, const order::create& c,
              const order::context& ctx) {
  auto o = order::handle(s, c, ctx);
  if (!o.requests.empty() && o.requests[0].type == "reserve") {
    BOOST_REQUIRE(c.items.size() == 1 && c.coupon_id.empty());
    return o;
  }
  auto checks = o.requests;
  for (const auto& req : checks) {
    BOOST_REQUIRE(req.type == "quote" || req.type == "check");
    if (req.type == "quote") {
      o = order::handle(s, quoted(req.to.id), ctx);
    } else {
      order::coupon_locked free;
      free.coupon_id = req.to.id;
      free.check = true;
      o = order::handle(s, free, ctx);
    }
  }
  return o;
}

/// A PENDING_PAYMENT order o1: A x2 at 1000, B x1 at 500, payable 2500;
/// both services (one kind, so not split).
order::state pending() {
  auto s = fresh();
  start(s, make_create({{"A", 2}, {"B", 1}}), at(t0));
  order::handle(s, ok_answer("A", 1000, item_kind::service), at(t0));
  order::handle(s, ok_answer("B", 500, item_kind::service), at(t0));
  BOOST_REQUIRE(s.st == order::status::pending_payment);
  return s;
}

/// pending(), paid by "t1".
order::state paid() {
  auto s = pending();
  auto o = order::handle(s, order::pay{"t1", 2500, true}, at(t0 + minute));
  BOOST_REQUIRE_EQUAL(o.result, "captured");
  return s;
}

std::vector<const envelope*> of_type(const outcome& o,
                                     const std::string& type) {
  std::vector<const envelope*> r;
  for (const auto& e : o.outbox) {
    if (e.type == type) {
      r.push_back(&e);
    }
  }
  return r;
}

std::string dump(const order::state& s) {
  json j;
  order::to_json(j, s);
  return j.dump();
}

bool has_signal(const outcome& o, const std::string& name) {
  return std::find(o.signals.begin(), o.signals.end(), name) != o.signals.end();
}

} // namespace

BOOST_AUTO_TEST_SUITE(order_state_machine)

BOOST_AUTO_TEST_CASE(status_names_match_the_api) {
  using order::status;
  BOOST_TEST(order::to_string(status::none) == "NONE");
  BOOST_TEST(order::to_string(status::pending_payment) == "PENDING_PAYMENT");
  BOOST_TEST(order::to_string(status::paid) == "PAID");
  BOOST_TEST(order::to_string(status::dispatched) == "DISPATCHED");
  BOOST_TEST(order::to_string(status::completed) == "COMPLETED");
  BOOST_TEST(order::to_string(status::cancelled) == "CANCELLED");
  BOOST_TEST(order::to_string(status::refunded) == "REFUNDED");
  BOOST_TEST(order::to_string(status::manual_intervention)
             == "MANUAL_INTERVENTION");
  BOOST_TEST(order::to_string(order::payment_status::captured) == "CAPTURED");
  BOOST_TEST(order::to_string(order::payment_status::refund_pending)
             == "REFUND_PENDING");
  BOOST_TEST(order::to_string(order::payment_status::refunded) == "REFUNDED");
}

BOOST_AUTO_TEST_CASE(create_checks_reserves_then_becomes_pending) {
  auto s = fresh();
  auto o = order::handle(s, make_create({{"A", 2}, {"B", 1}}), at(t0));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.defer_tag == "create");
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(s.version == 0u);
  BOOST_TEST(order::busy(s));
  // First the checks, which reserve nothing.
  BOOST_REQUIRE_EQUAL(o.requests.size(), 2u);
  BOOST_TEST(o.requests[0].to.kind == "sku");
  BOOST_TEST(o.requests[0].to.id == "A");
  BOOST_TEST(o.requests[0].type == "quote");
  BOOST_TEST(o.requests[0].id == "order/o1#q.7.A");
  BOOST_TEST(o.requests[0].body == (json{{"order_id", "o1"}, {"quantity", 2}}));
  BOOST_TEST(o.requests[1].to.id == "B");
  BOOST_TEST(o.requests[1].type == "quote");
  o = order::handle(s, quoted("B", 500), at(t0 + 1));
  BOOST_TEST(o.requests.empty());
  BOOST_TEST(o.resolves.empty());
  o = order::handle(s, quoted("A", 1000), at(t0 + 2));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.resolves.empty());
  BOOST_TEST(order::busy(s));
  BOOST_REQUIRE_EQUAL(o.requests.size(), 2u);
  BOOST_TEST(o.requests[0].to.kind == "sku");
  BOOST_TEST(o.requests[0].to.id == "A");
  BOOST_TEST(o.requests[0].type == "reserve");
  BOOST_TEST(o.requests[0].id == "order/o1#req.7.A");
  // The SKU holds the units until a margin after the payment deadline,
  // which is fixed when the create arrives.
  BOOST_TEST(o.requests[0].body
             == (json{{"order_id", "o1"},
                      {"token", 7},
                      {"quantity", 2},
                      {"pay_deadline", t0 + ocfg.payment_timeout},
                      {"margin", ocfg.reservation_margin},
                      {"max_total", order::max_amount}}));
  BOOST_TEST(o.requests[1].to.id == "B");
  BOOST_TEST(o.requests[1].id == "order/o1#req.7.B");

  // Answers may come in any order; nothing happens until the last one.
  o = order::handle(s, ok_answer("B", 500, item_kind::service), at(t0 + 5));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.resolves.empty());
  BOOST_TEST(s.st == order::status::none);
  o = order::handle(s, ok_answer("A", 1000, item_kind::service), at(t0 + 10));
  BOOST_TEST(o.event == "created");
  BOOST_TEST(!o.cause.empty());
  BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
  BOOST_TEST(o.resolves[0].tag == "create");
  BOOST_TEST(!o.resolves[0].err);
  BOOST_TEST(!order::busy(s));
  BOOST_TEST(s.st == order::status::pending_payment);
  BOOST_TEST(s.version == 1u);
  BOOST_TEST(s.user_id == "u1");
  BOOST_TEST(s.token == 7u);
  BOOST_REQUIRE_EQUAL(s.items.size(), 2u);
  BOOST_TEST(s.items[0].sku == "A");
  BOOST_TEST(s.items[0].quantity == 2);
  BOOST_TEST(s.items[0].unit_price == 1000);
  BOOST_TEST(s.items[1].sku == "B");
  BOOST_TEST((s.items[1].kind == item_kind::service));
  BOOST_TEST(s.amount == 2500);
  BOOST_TEST(s.discount == 0);
  BOOST_TEST(s.payable == 2500);
  BOOST_TEST(s.coupon_id.empty());
  BOOST_TEST(s.affiliate_id.empty());
  BOOST_TEST(s.fingerprint == order::fingerprint_hash("fp1"));
  // No affiliate, no commission, and the admin SMS is the order's own
  // (order_admin_sms): no message at all. The report shard of its
  // partition counts it as placed, in this turn.
  BOOST_TEST(o.outbox.empty());
  std::map<std::string, reports::state> shards;
  ordo::test::count(o, shards);
  BOOST_REQUIRE_EQUAL(shards.size(), 1u);
  const auto& shard = shards.begin()->second;
  BOOST_TEST(shard.shard == "o0000");
  BOOST_TEST(shard.placed.count == 1);
  BOOST_TEST(shard.placed.amount == 2500);
  BOOST_TEST(shard.paid.count == 0);
  BOOST_TEST(shard.version == 1u);
  BOOST_TEST(s.created_at == t0 + 10);
  BOOST_TEST(s.updated_at == t0 + 10);
  // Counted from the create's arrival: the deadline the SKUs were given.
  BOOST_TEST(s.pay_deadline == t0 + ocfg.payment_timeout);
  // One timer: the SMS's cooling period ends before the deadline.
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].name == "wake");
  BOOST_TEST(o.timers[0].due == t0 + 10 + ocfg.notify.notify_delay);
  BOOST_TEST(order::wake_at(s) == o.timers[0].due);
}

BOOST_AUTO_TEST_CASE(create_merges_duplicate_skus_in_first_seen_order) {
  auto s = fresh();
  auto o = start(s, make_create({{"B", 1}, {"A", 2}, {"B", 3}}), at(t0));
  BOOST_REQUIRE_EQUAL(o.requests.size(), 2u);
  BOOST_TEST(o.requests[0].to.id == "B");
  BOOST_TEST(o.requests[0].body["quantity"] == 4);
  BOOST_TEST(o.requests[1].to.id == "A");
  order::handle(s, ok_answer("A", 10), at(t0));
  order::handle(s, ok_answer("B", 100), at(t0));
  BOOST_REQUIRE_EQUAL(s.items.size(), 2u);
  BOOST_TEST(s.items[0].sku == "B");
  BOOST_TEST(s.items[0].quantity == 4);
  BOOST_TEST(s.amount == 420);
}

BOOST_AUTO_TEST_CASE(create_refuses_a_total_beyond_the_limit_before_reserving) {
  auto s = fresh();
  order::handle(s, make_create({{"A", 1'000'000}, {"B", 1'000'000}}), at(t0));
  order::handle(s, quoted("A", 1'000'000'000'000), at(t0));
  auto o = order::handle(s, quoted("B", 1'000'000'000'000), at(t0));
  BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
  BOOST_REQUIRE(o.resolves[0].err);
  BOOST_CHECK(o.resolves[0].err->code == errc::bad_request);
  BOOST_TEST(s.st == order::status::none);
  BOOST_TEST(!order::busy(s));
  // Nothing was reserved, so nothing goes back.
  BOOST_TEST(o.requests.empty());
  BOOST_TEST(o.outbox.empty());
}

BOOST_AUTO_TEST_CASE(create_refuses_a_total_beyond_the_limit_after_reserving) {
  // The prices rose between the quote and the reservation.
  auto s = fresh();
  start(s, make_create({{"A", 1'000'000}, {"B", 1'000'000}}), at(t0));
  order::handle(s, ok_answer("A", 1'000'000'000'000), at(t0));
  auto o = order::handle(s, ok_answer("B", 1'000'000'000'000), at(t0));
  BOOST_TEST(o.resolves.empty());
  BOOST_TEST(s.st == order::status::none);
  BOOST_TEST(order::busy(s));
  // Both reservations go back, durably and as requests.
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 2u);
  BOOST_TEST(o.outbox[0].type == "release");
  BOOST_TEST(o.outbox[1].type == "release");
  BOOST_REQUIRE_EQUAL(o.requests.size(), 2u);
  BOOST_TEST(o.requests[0].type == "release");
  BOOST_TEST(o.requests[1].type == "release");
  order::handle(s, order::released{"B"}, at(t0));
  o = order::handle(s, order::released{"A"}, at(t0));
  BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
  BOOST_REQUIRE(o.resolves[0].err);
  BOOST_CHECK(o.resolves[0].err->code == errc::bad_request);
  BOOST_TEST(!order::busy(s));
}

BOOST_AUTO_TEST_CASE(create_rejects_malformed_requests_without_change) {
  std::vector<order::create> bad{
    make_create({}),
    make_create({{"A", 0}}),
    make_create({{"A", 1}, {"B", -2}}),
    make_create({{"", 1}}),
  };
  auto no_user = make_create({{"A", 1}});
  no_user.user_id.clear();
  bad.push_back(no_user);
  for (const auto& c : bad) {
    auto s = fresh();
    auto before = dump(s);
    auto o = order::handle(s, c, at(t0));
    BOOST_REQUIRE(o.err);
    BOOST_TEST((o.err->code == errc::bad_request));
    BOOST_TEST(o.requests.empty());
    BOOST_TEST(o.defer_tag.empty());
    BOOST_TEST(!order::busy(s));
    BOOST_TEST(dump(s) == before);
  }
}

BOOST_AUTO_TEST_CASE(create_fails_and_releases_when_one_sku_short) {
  auto s = fresh();
  start(s, make_create({{"A", 2}, {"B", 1}, {"C", 1}}), at(t0));
  order::handle(s, ok_answer("A", 1000), at(t0));
  order::handle(s, failed_answer("B", errc::insufficient_stock), at(t0));
  auto o = order::handle(s, ok_answer("C", 300), at(t0));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(s.version == 0u);
  BOOST_TEST(s.st == order::status::none);
  // Only the SKUs that reserved get a release, under the attempt's token.
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 2u);
  BOOST_TEST(o.outbox[0].to.id == "A");
  BOOST_TEST(o.outbox[0].type == "release");
  BOOST_TEST(o.outbox[0].body == (json{{"order_id", "o1"}, {"token", 7}}));
  BOOST_TEST(o.outbox[0].id == "order/o1#r7.0");
  BOOST_TEST(o.outbox[1].to.id == "C");
  BOOST_TEST(o.outbox[1].id == "order/o1#r7.1");
  BOOST_TEST(o.timers.empty());
  // The create is answered only once both releases are back.
  BOOST_REQUIRE_EQUAL(o.requests.size(), 2u);
  BOOST_TEST(o.requests[0].to.id == "A");
  BOOST_TEST(o.requests[0].type == "release");
  BOOST_TEST(o.requests[0].body == (json{{"order_id", "o1"}, {"token", 7}}));
  BOOST_TEST(o.requests[1].to.id == "C");
  BOOST_TEST(o.resolves.empty());
  BOOST_TEST(order::busy(s));
  o = order::handle(s, order::released{"C"}, at(t0));
  BOOST_TEST(o.resolves.empty());
  o = order::handle(s, order::released{"Z"}, at(t0)); // not asked: ignored
  BOOST_TEST(o.resolves.empty());
  o = order::handle(s, order::released{"A"}, at(t0));
  BOOST_TEST(!order::busy(s));
  BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
  BOOST_TEST(o.resolves[0].tag == "create");
  BOOST_REQUIRE(o.resolves[0].err);
  BOOST_TEST((o.resolves[0].err->code == errc::insufficient_stock));
  BOOST_TEST(s.token == 0u);
  BOOST_TEST(s.user_id.empty());
}

BOOST_AUTO_TEST_CASE(create_refused_at_the_checks_reserves_nothing) {
  // An unknown SKU next to a known one, or one line short: refused at once.
  for (auto code : {errc::not_found, errc::insufficient_stock}) {
    auto s = fresh();
    order::handle(s, make_create({{"A", 2}, {"B", 1}}), at(t0));
    order::handle(s, quoted("A", 1000), at(t0));
    auto o = order::handle(s, quote_failed("B", code), at(t0));
    BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
    BOOST_REQUIRE(o.resolves[0].err);
    BOOST_TEST((o.resolves[0].err->code == code));
    BOOST_TEST(o.requests.empty());
    BOOST_TEST(o.outbox.empty());
    BOOST_TEST(!order::busy(s));
    BOOST_TEST(s.st == order::status::none);
  }
}

BOOST_AUTO_TEST_CASE(create_refused_for_the_coupon_at_the_checks) {
  // Another user's coupon, and a minimum the order does not reach.
  order::coupon_locked others;
  others.coupon_id = "c1";
  others.err = error{errc::coupon_unavailable, "another user's"};
  others.check = true;
  order::coupon_locked minimum;
  minimum.coupon_id = "c1";
  minimum.discount = 100;
  minimum.min_amount = 5000;
  minimum.check = true;
  for (const auto& answer : {others, minimum}) {
    auto s = fresh();
    auto c = make_create({{"A", 2}});
    c.coupon_id = "c1";
    auto o = order::handle(s, c, at(t0));
    BOOST_REQUIRE_EQUAL(o.requests.size(), 2u);
    BOOST_TEST(o.requests[1].type == "check");
    BOOST_TEST(o.requests[1].body
               == (json{{"order_id", "o1"}, {"user_id", "u1"}}));
    order::handle(s, quoted("A", 1000), at(t0));
    o = order::handle(s, answer, at(t0));
    BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
    BOOST_REQUIRE(o.resolves[0].err);
    BOOST_TEST((o.resolves[0].err->code == errc::coupon_unavailable));
    BOOST_TEST(o.requests.empty());
    BOOST_TEST(o.outbox.empty());
    BOOST_TEST(!order::busy(s));
  }
}

BOOST_AUTO_TEST_CASE(create_limits_the_quantity_of_an_sku_after_merging) {
  auto s = fresh();
  auto before = dump(s);
  auto o
    = order::handle(s, make_create({{"A", 600'000}, {"A", 400'001}}), at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::bad_request));
  BOOST_TEST(o.requests.empty());
  BOOST_TEST(!order::busy(s));
  BOOST_TEST(dump(s) == before);
  // Up to the limit, merged lines are fine.
  o = order::handle(s, make_create({{"A", 600'000}, {"A", 400'000}}), at(t0));
  BOOST_TEST(!o.err);
  BOOST_REQUIRE_EQUAL(o.requests.size(), 1u);
  BOOST_TEST(o.requests[0].body["quantity"] == 1'000'000);
}

BOOST_AUTO_TEST_CASE(
  create_failure_reports_the_first_failure_in_request_order) {
  auto s = fresh();
  start(s, make_create({{"A", 1}, {"B", 1}}), at(t0));
  order::handle(s, failed_answer("B", errc::insufficient_stock), at(t0));
  auto o = order::handle(s, failed_answer("A", errc::not_found), at(t0));
  BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
  BOOST_TEST((o.resolves[0].err->code == errc::not_found));
  BOOST_TEST(o.outbox.empty());
}

BOOST_AUTO_TEST_CASE(failed_create_releases_skus_whose_answer_is_unknown) {
  auto s = fresh();
  start(s, make_create({{"A", 1}, {"B", 1}}), at(t0));
  order::handle(s, failed_answer("A", errc::unavailable), at(t0));
  auto o
    = order::handle(s, failed_answer("B", errc::insufficient_stock), at(t0));
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  BOOST_TEST(o.outbox[0].to.id == "A");
  BOOST_REQUIRE_EQUAL(o.requests.size(), 1u);
  BOOST_TEST(o.requests[0].to.id == "A");
  BOOST_TEST(o.resolves.empty());
  // A release the SKU could not confirm either still ends the wait (the
  // outbox's release is on its way).
  o = order::handle(s, order::released{"A"}, at(t0));
  BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
  BOOST_REQUIRE(o.resolves[0].err);
  BOOST_TEST((o.resolves[0].err->code == errc::unavailable));
}

BOOST_AUTO_TEST_CASE(stray_reserve_answers_are_ignored) {
  auto s = fresh();
  auto o = order::handle(s, ok_answer("A", 1), at(t0));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(!o.err);
  start(s, make_create({{"A", 1}, {"B", 1}}), at(t0));
  // Not requested, then answered twice: neither completes the create.
  o = order::handle(s, ok_answer("Z", 1), at(t0));
  BOOST_TEST(o.resolves.empty());
  order::handle(s, ok_answer("A", 1), at(t0));
  o = order::handle(s, ok_answer("A", 1), at(t0));
  BOOST_TEST(o.resolves.empty());
  BOOST_TEST(order::busy(s));
  o = order::handle(s, ok_answer("B", 1), at(t0));
  BOOST_TEST(o.event == "created");
  // Late answers to a finished create change nothing.
  auto before = dump(s);
  o = order::handle(s, ok_answer("B", 99), at(t0));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(same_key_same_body_returns_existing) {
  auto s = pending();
  auto before = dump(s);
  auto o
    = start(s, make_create({{"A", 2}, {"B", 1}}, "fp1", 99), at(t0 + minute));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.result == "existing");
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.requests.empty());
  BOOST_TEST(o.defer_tag.empty());
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(same_key_other_body_is_rejected) {
  auto s = pending();
  auto before = dump(s);
  auto o = start(s, make_create({{"A", 3}}, "fp2"), at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::idempotency_key_reused));
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(duplicate_create_while_creating_defers) {
  auto s = fresh();
  start(s, make_create({{"A", 1}}), at(t0));
  auto o = start(s, make_create({{"A", 1}}, "fp1", 8), at(t0 + 1));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.defer_tag == "create");
  BOOST_TEST(o.requests.empty());
  BOOST_TEST(s.creating->request.token == 7u);
  o = start(s, make_create({{"A", 2}}, "fp2", 9), at(t0 + 2));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::idempotency_key_reused));
  BOOST_TEST(o.defer_tag.empty());
  // One answer resolves every deferred requester under the same tag.
  o = order::handle(s, ok_answer("A", 5), at(t0 + 3));
  BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
  BOOST_TEST(o.resolves[0].tag == "create");
}

BOOST_AUTO_TEST_CASE(create_after_a_failed_create_starts_again) {
  auto s = fresh();
  start(s, make_create({{"A", 1}}, "fp1", 7), at(t0));
  order::handle(s, failed_answer("A", errc::insufficient_stock), at(t0));
  BOOST_TEST(s.st == order::status::none);
  auto o = start(s, make_create({{"A", 1}}, "fp1", 8), at(t0 + 1));
  BOOST_REQUIRE_EQUAL(o.requests.size(), 1u);
  BOOST_TEST(o.requests[0].type == "reserve");
  BOOST_TEST(o.requests[0].body["token"] == 8);
  o = order::handle(s, ok_answer("A", 5), at(t0 + 2));
  BOOST_TEST(o.event == "created");
  BOOST_TEST(s.token == 8u);
  BOOST_TEST(s.version == 1u);
}

BOOST_AUTO_TEST_CASE(cancel_pending_releases_closes_and_disarms) {
  auto s = pending();
  auto o = order::handle(s, order::cancel{}, at(t0 + minute));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "cancelled");
  BOOST_TEST(o.cause == "cancel reason=user");
  BOOST_TEST(s.st == order::status::cancelled);
  BOOST_TEST(s.cancel_reason == "user");
  BOOST_TEST(s.version == 2u);
  BOOST_TEST(s.updated_at == t0 + minute);
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 3u);
  std::map<std::string, reports::state> shards;
  ordo::test::count(o, shards);
  const auto& shard = shards["o0000"];
  BOOST_TEST(shard.cancelled.count == 1);
  BOOST_TEST(shard.flash.count == 1); // a minute after create
  BOOST_TEST(shard.flash_by_user.at("u1") == 1);
  BOOST_TEST(o.outbox[0].type == "release");
  BOOST_TEST(o.outbox[0].to.id == "A");
  BOOST_TEST(o.outbox[0].body == (json{{"order_id", "o1"}, {"token", 7}}));
  BOOST_TEST(o.outbox[1].to.id == "B");
  BOOST_TEST(o.outbox[2].type == "close");
  BOOST_TEST(o.outbox[2].to.kind == "payment");
  BOOST_TEST(o.outbox[2].to.id == "");
  BOOST_TEST(o.outbox[2].body == (json{{"order_id", "o1"}}));
  BOOST_TEST(o.outbox[0].id == "order/o1#2.0");
  BOOST_TEST(o.outbox[2].id == "order/o1#2.2");
  // Nothing left to wait for: no deadline, the SMS suppressed
  // (order_admin_sms).
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].name == "wake");
  BOOST_TEST(o.timers[0].due == 0);
}

BOOST_AUTO_TEST_CASE(cancel_keeps_the_given_reason) {
  auto s = pending();
  order::handle(s, order::cancel{"changed my mind"}, at(t0));
  BOOST_TEST(s.cancel_reason == "changed my mind");
}

BOOST_AUTO_TEST_CASE(cancel_twice_returns_the_cancelled_order_unchanged) {
  auto s = pending();
  order::handle(s, order::cancel{}, at(t0));
  auto before = dump(s);
  auto o = order::handle(s, order::cancel{"again"}, at(t0 + 1));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(pay_then_cancel_is_refused) {
  for (auto make : {+[] {
                      return paid();
                    },
                    +[] {
                      auto s = paid();
                      order::handle(s, order::complete{}, at(t0));
                      return s;
                    }}) {
    auto s = make();
    auto before = dump(s);
    auto o = order::handle(s, order::cancel{}, at(t0 + 2 * minute));
    BOOST_REQUIRE(o.err);
    BOOST_TEST((o.err->code == errc::already_paid));
    BOOST_TEST(o.err->message == "order is paid; use the refund path");
    BOOST_TEST(o.outbox.empty());
    BOOST_TEST(dump(s) == before);
  }
}

BOOST_AUTO_TEST_CASE(cancel_of_unknown_or_creating_order_is_not_found) {
  auto s = fresh();
  auto o = order::handle(s, order::cancel{}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::not_found));
  start(s, make_create({{"A", 1}}), at(t0));
  o = order::handle(s, order::cancel{}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::not_found));
  BOOST_TEST(order::busy(s));
}

BOOST_AUTO_TEST_CASE(cancel_in_manual_intervention_is_an_invalid_transition) {
  auto s = pending();
  s.st = order::status::manual_intervention;
  auto o = order::handle(s, order::cancel{}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::invalid_transition));
}

BOOST_AUTO_TEST_CASE(pay_captures_and_confirms_the_stock) {
  auto s = pending();
  auto o = order::handle(s, order::pay{"t1", 2500, true}, at(t0 + minute));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.result == "captured");
  BOOST_TEST(o.event == "paid");
  BOOST_TEST(s.st == order::status::paid);
  BOOST_TEST(s.version == 2u);
  BOOST_REQUIRE_EQUAL(s.payments.size(), 1u);
  BOOST_TEST(s.payments[0].txn_id == "t1");
  BOOST_TEST(s.payments[0].amount == 2500);
  BOOST_TEST((s.payments[0].status == order::payment_status::captured));
  auto confirms = of_type(o, "confirm");
  BOOST_REQUIRE_EQUAL(confirms.size(), 2u);
  BOOST_TEST(confirms[0]->to.id == "A");
  BOOST_TEST(confirms[0]->body
             == (json{{"order_id", "o1"}, {"token", 7}, {"quantity", 2}}));
  BOOST_TEST(confirms[1]->body["quantity"] == 1);
  // B is a service: the dispatcher starts its cooling period.
  auto paid_notes = of_type(o, "order_paid");
  BOOST_REQUIRE_EQUAL(paid_notes.size(), 1u);
  BOOST_TEST(paid_notes[0]->to.kind == "dispatcher");
  BOOST_TEST(paid_notes[0]->to.id == "o1");
  BOOST_TEST(o.outbox.size() == 3u);
  std::map<std::string, reports::state> shards;
  ordo::test::count(o, shards); // the report counts it paid
  BOOST_REQUIRE_EQUAL(shards.size(), 1u);
  BOOST_TEST(shards.begin()->second.paid.count == 1);
  // No timer op: the order's one timer still waits for its admin SMS.
  BOOST_TEST(o.timers.empty());
  BOOST_TEST(order::wake_at(s) == t0 + ocfg.notify.notify_delay);
  BOOST_TEST(!has_signal(o, "refund_anomaly"));
}

BOOST_AUTO_TEST_CASE(pay_exactly_at_the_deadline_is_captured) {
  auto s = pending();
  auto o = order::handle(s, order::pay{"t1", 2500, true}, at(s.pay_deadline));
  BOOST_TEST(o.result == "captured");
}

BOOST_AUTO_TEST_CASE(cancel_then_pay_refunds_once) {
  auto s = pending();
  order::handle(s, order::cancel{}, at(t0 + minute));
  auto o = order::handle(s, order::pay{"t1", 2500, true}, at(t0 + minute + 1));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.result == "refunded");
  BOOST_TEST(o.event == "payment_refunded");
  BOOST_TEST(has_signal(o, "refund_anomaly"));
  BOOST_TEST(s.st == order::status::cancelled);
  BOOST_REQUIRE_EQUAL(s.payments.size(), 1u);
  BOOST_TEST((s.payments[0].status == order::payment_status::refund_pending));
  BOOST_TEST(s.payments[0].refund_id == "rf-t1");
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  BOOST_TEST(o.outbox[0].type == "refund");
  BOOST_TEST(o.outbox[0].to.kind == "payment");
  BOOST_TEST(o.outbox[0].body
             == (json{{"refund_id", "rf-t1"},
                      {"txn_id", "t1"},
                      {"amount", 2500},
                      {"order_id", "o1"}}));
  // The provider retries: every retry is a duplicate and owes nothing more.
  auto before = dump(s);
  for (int i = 0; i < 3; ++i) {
    o = order::handle(s, order::pay{"t1", 2500, true}, at(t0 + 2 * minute));
    BOOST_TEST(o.result == "duplicate");
    BOOST_TEST(!o.err);
    BOOST_TEST(o.event.empty());
    BOOST_TEST(o.outbox.empty());
    BOOST_TEST(o.signals.empty());
  }
  BOOST_TEST(dump(s) == before);
  // The refund completes once.
  o = order::handle(s, order::refund_done{"rf-t1"}, at(t0 + 3 * minute));
  BOOST_TEST(o.event == "refund_completed");
  BOOST_TEST((s.payments[0].status == order::payment_status::refunded));
  o = order::handle(s, order::pay{"t1", 2500, true}, at(t0 + 4 * minute));
  BOOST_TEST(o.result == "duplicate");
}

BOOST_AUTO_TEST_CASE(pay_after_deadline_cancels_and_refunds) {
  auto s = pending();
  auto o
    = order::handle(s, order::pay{"t1", 2500, true}, at(s.pay_deadline + 1));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.result == "refunded");
  BOOST_TEST(o.event == "timed_out+payment_refunded");
  BOOST_TEST(s.version == 2u);
  BOOST_TEST(s.st == order::status::cancelled);
  BOOST_TEST(s.cancel_reason == "timeout");
  BOOST_TEST(of_type(o, "release").size() == 2u);
  BOOST_TEST(of_type(o, "close").size() == 1u);
  BOOST_REQUIRE_EQUAL(of_type(o, "refund").size(), 1u);
  BOOST_TEST(of_type(o, "refund")[0]->body["refund_id"] == "rf-t1");
  BOOST_TEST(of_type(o, "confirm").empty());
  BOOST_TEST(has_signal(o, "refund_anomaly"));
  // Nothing left to wait for.
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].name == "wake");
  BOOST_TEST(o.timers[0].due == 0);
  std::set<std::string> ids;
  for (const auto& e : o.outbox) {
    ids.insert(e.id);
  }
  BOOST_TEST(ids.size() == o.outbox.size());
  // The deadline timer, if it still fires, finds nothing to do.
  o = order::handle(s, order::deadline{}, at(s.pay_deadline + 2));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.outbox.empty());
}

BOOST_AUTO_TEST_CASE(wrong_amount_refunds_and_keeps_pending) {
  auto s = pending();
  auto o = order::handle(s, order::pay{"t1", 2499, true}, at(t0 + minute));
  BOOST_TEST(o.result == "refunded");
  BOOST_TEST(o.event == "payment_refunded");
  BOOST_TEST(s.st == order::status::pending_payment);
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  BOOST_TEST(o.outbox[0].type == "refund");
  BOOST_TEST(o.outbox[0].body["amount"] == 2499);
  BOOST_TEST(o.timers.empty());
  // The right amount later still pays the order.
  o = order::handle(s, order::pay{"t2", 2500, true}, at(t0 + 2 * minute));
  BOOST_TEST(o.result == "captured");
  BOOST_TEST(s.st == order::status::paid);
  BOOST_TEST(s.payments.size() == 2u);
}

BOOST_AUTO_TEST_CASE(second_txn_on_paid_order_refunds) {
  auto s = paid();
  auto o = order::handle(s, order::pay{"t2", 2500, true}, at(t0 + 2 * minute));
  BOOST_TEST(o.result == "refunded");
  BOOST_TEST(s.st == order::status::paid);
  BOOST_REQUIRE_EQUAL(s.payments.size(), 2u);
  BOOST_TEST((s.payments[0].status == order::payment_status::captured));
  BOOST_TEST((s.payments[1].status == order::payment_status::refund_pending));
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  BOOST_TEST(o.outbox[0].body["txn_id"] == "t2");
  BOOST_TEST(of_type(o, "confirm").empty());
}

BOOST_AUTO_TEST_CASE(payment_to_a_finished_order_is_refunded) {
  for (auto st :
       {order::status::refunded, order::status::completed,
        order::status::dispatched, order::status::manual_intervention}) {
    auto s = paid();
    s.st = st;
    auto o = order::handle(s, order::pay{"t9", 2500, true}, at(t0));
    BOOST_TEST(o.result == "refunded");
    BOOST_TEST((s.st == st));
    BOOST_TEST(of_type(o, "refund").size() == 1u);
  }
}

BOOST_AUTO_TEST_CASE(failed_payment_is_ignored_and_not_recorded) {
  auto s = pending();
  auto before = dump(s);
  auto o = order::handle(s, order::pay{"t1", 2500, false}, at(t0));
  BOOST_TEST(o.result == "ignored");
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
  // The same txn id may still succeed later.
  o = order::handle(s, order::pay{"t1", 2500, true}, at(t0));
  BOOST_TEST(o.result == "captured");
}

BOOST_AUTO_TEST_CASE(pay_for_unknown_or_creating_order_is_not_found) {
  auto s = fresh();
  auto o = order::handle(s, order::pay{"t1", 1, true}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::not_found));
  start(s, make_create({{"A", 1}}), at(t0));
  o = order::handle(s, order::pay{"t1", 1, true}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::not_found));
  BOOST_TEST(s.payments.empty());
}

BOOST_AUTO_TEST_CASE(deadline_timer_cancels_pending_and_is_ignored_after_pay) {
  auto s = pending();
  auto o = order::handle(s, order::deadline{}, at(s.pay_deadline));
  BOOST_TEST(o.event == "timed_out");
  BOOST_TEST(o.cause == "timer deadline");
  BOOST_TEST(s.st == order::status::cancelled);
  BOOST_TEST(s.cancel_reason == "timeout");
  BOOST_TEST(of_type(o, "release").size() == 2u);
  BOOST_TEST(of_type(o, "close").size() == 1u);

  auto p = paid();
  auto before = dump(p);
  o = order::handle(p, order::deadline{}, at(p.pay_deadline));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(dump(p) == before);
}

BOOST_AUTO_TEST_CASE(refund_done_marks_refunded) {
  auto s = pending();
  order::handle(s, order::cancel{}, at(t0));
  order::handle(s, order::pay{"t1", 2500, true}, at(t0 + 1));
  auto v = s.version;
  auto o = order::handle(s, order::refund_done{"rf-nope"}, at(t0 + 2));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(s.version == v);
  o = order::handle(s, order::refund_done{"rf-t1"}, at(t0 + 3));
  BOOST_TEST(o.event == "refund_completed");
  BOOST_TEST(s.version == v + 1);
  BOOST_TEST((s.payments[0].status == order::payment_status::refunded));
  o = order::handle(s, order::refund_done{"rf-t1"}, at(t0 + 4));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(s.version == v + 1);
}

BOOST_AUTO_TEST_CASE(admin_refund_of_paid_order_refunds_and_restocks) {
  auto s = paid();
  auto o = order::handle(s, order::refund{}, at(t0 + 5 * minute));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "refunded");
  BOOST_TEST(s.st == order::status::refunded);
  BOOST_TEST((s.payments[0].status == order::payment_status::refund_pending));
  BOOST_TEST(s.payments[0].refund_id == "rf-t1");
  BOOST_REQUIRE_EQUAL(of_type(o, "refund").size(), 1u);
  auto restocks = of_type(o, "restock");
  BOOST_REQUIRE_EQUAL(restocks.size(), 2u);
  BOOST_TEST(restocks[0]->to.id == "A");
  BOOST_TEST(restocks[0]->body == (json{{"order_id", "o1"}, {"quantity", 2}}));
  BOOST_TEST(restocks[1]->to.id == "B");
  // Refunding again changes nothing.
  auto before = dump(s);
  o = order::handle(s, order::refund{}, at(t0 + 6 * minute));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(admin_refund_of_shipped_order_does_not_restock) {
  for (auto st : {order::status::completed, order::status::dispatched}) {
    auto s = paid();
    s.st = st;
    auto o = order::handle(s, order::refund{}, at(t0));
    BOOST_TEST(o.event == "refunded");
    BOOST_TEST(of_type(o, "refund").size() == 1u);
    BOOST_TEST(of_type(o, "restock").empty());
  }
}

BOOST_AUTO_TEST_CASE(admin_refund_refunds_only_captured_payments) {
  auto s = paid();
  order::handle(s, order::pay{"t2", 2500, true}, at(t0)); // anomaly
  auto o = order::handle(s, order::refund{}, at(t0));
  auto refunds = of_type(o, "refund");
  BOOST_REQUIRE_EQUAL(refunds.size(), 1u);
  BOOST_TEST(refunds[0]->body["txn_id"] == "t1");
}

BOOST_AUTO_TEST_CASE(admin_refund_outside_paid_states_is_refused) {
  auto none = fresh();
  auto o = order::handle(none, order::refund{}, at(t0));
  BOOST_TEST((o.err && o.err->code == errc::not_found));
  auto s = pending();
  o = order::handle(s, order::refund{}, at(t0));
  BOOST_TEST((o.err && o.err->code == errc::invalid_transition));
  order::handle(s, order::cancel{}, at(t0));
  o = order::handle(s, order::refund{}, at(t0));
  BOOST_TEST((o.err && o.err->code == errc::invalid_transition));
  s.st = order::status::manual_intervention;
  o = order::handle(s, order::refund{}, at(t0));
  BOOST_TEST((o.err && o.err->code == errc::invalid_transition));
}

BOOST_AUTO_TEST_CASE(complete_moves_paid_orders_only) {
  auto s = paid();
  auto o = order::handle(s, order::complete{}, at(t0));
  BOOST_TEST(o.event == "completed");
  BOOST_TEST(s.st == order::status::completed);
  o = order::handle(s, order::complete{}, at(t0));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());

  auto d = paid();
  d.st = order::status::dispatched;
  o = order::handle(d, order::complete{}, at(t0));
  BOOST_TEST(o.event == "completed");

  auto none = fresh();
  o = order::handle(none, order::complete{}, at(t0));
  BOOST_TEST((o.err && o.err->code == errc::not_found));
  auto p = pending();
  o = order::handle(p, order::complete{}, at(t0));
  BOOST_TEST((o.err && o.err->code == errc::invalid_transition));
  order::handle(p, order::cancel{}, at(t0));
  o = order::handle(p, order::complete{}, at(t0));
  BOOST_TEST((o.err && o.err->code == errc::invalid_transition));
  auto r = paid();
  order::handle(r, order::refund{}, at(t0));
  o = order::handle(r, order::complete{}, at(t0));
  BOOST_TEST((o.err && o.err->code == errc::invalid_transition));
}

BOOST_AUTO_TEST_CASE(shortfall_on_paid_order_refunds_and_restocks_others) {
  auto s = paid();
  auto o = order::handle(s, order::shortfall{"A"}, at(t0 + minute));
  BOOST_TEST(o.event == "stock_shortfall");
  BOOST_TEST(has_signal(o, "stock_shortfall"));
  BOOST_TEST(s.st == order::status::refunded);
  BOOST_TEST(s.cancel_reason == "stock_shortfall");
  BOOST_TEST((s.payments[0].status == order::payment_status::refund_pending));
  BOOST_TEST(of_type(o, "refund").size() == 1u);
  auto restocks = of_type(o, "restock");
  BOOST_REQUIRE_EQUAL(restocks.size(), 1u);
  BOOST_TEST(restocks[0]->to.id == "B");
  // A second SKU's shortfall on the now refunded order is a no-op.
  auto before = dump(s);
  o = order::handle(s, order::shortfall{"B"}, at(t0 + minute));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(shortfall_is_ignored_unless_paid) {
  auto s = pending();
  auto before = dump(s);
  auto o = order::handle(s, order::shortfall{"A"}, at(t0));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
  auto p = paid();
  before = dump(p);
  o = order::handle(p, order::shortfall{"not-in-order"}, at(t0));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(p) == before);
}

BOOST_AUTO_TEST_CASE(outbox_ids_are_unique_across_a_lifetime) {
  auto s = pending();
  std::set<std::string> ids;
  std::size_t n = 0;
  auto add = [&](const outcome& o) {
    for (const auto& e : o.outbox) {
      ids.insert(e.id);
      ++n;
    }
  };
  add(order::handle(s, order::pay{"t1", 2500, true}, at(t0)));
  add(order::handle(s, order::pay{"t2", 2500, true}, at(t0)));
  add(order::handle(s, order::pay{"t3", 2500, true}, at(t0)));
  add(order::handle(s, order::refund{}, at(t0)));
  // pay: 2 confirms + dispatcher; 2 anomaly refunds; refund: 1 refund, 2
  // restocks, dispatcher (the reports count through additions).
  BOOST_TEST(n == 3u + 1u + 1u + 4u);
  BOOST_TEST(ids.size() == n);
  BOOST_TEST(ids.count("order/o1#2.0") == 1u);
  BOOST_TEST(ids.count("order/o1#5.2") == 1u);
}

BOOST_AUTO_TEST_CASE(handle_is_deterministic) {
  auto a = pending();
  auto b = pending();
  std::vector<order::input> inputs{
    order::pay{"t1", 1, true}, order::pay{"t2", 2500, true},
    order::shortfall{"B"}, order::refund_done{"rf-t2"}};
  for (const auto& in : inputs) {
    auto oa = order::handle(a, in, at(t0 + 7));
    auto ob = order::handle(b, in, at(t0 + 7));
    BOOST_TEST(oa.event == ob.event);
    BOOST_REQUIRE_EQUAL(oa.outbox.size(), ob.outbox.size());
    for (std::size_t i = 0; i < oa.outbox.size(); ++i) {
      BOOST_TEST(oa.outbox[i].id == ob.outbox[i].id);
      BOOST_TEST(oa.outbox[i].body == ob.outbox[i].body);
    }
    BOOST_TEST(dump(a) == dump(b));
  }
}

BOOST_AUTO_TEST_CASE(decode_reads_reserve_replies) {
  outcome ok;
  ok.reply = json{{"unit_price", 1999}, {"kind", "service"}};
  auto r = order::decode(
    envelope{"x", {"order", "o1"}, "reserve.reply", reply_body("A", ok)});
  BOOST_REQUIRE(r.ok());
  auto* res = std::get_if<order::reserved>(&r.value());
  BOOST_REQUIRE(res != nullptr);
  BOOST_TEST(res->sku == "A");
  BOOST_TEST(!res->err);
  BOOST_TEST(res->unit_price == 1999);
  BOOST_TEST((res->kind == item_kind::service));

  auto failed = outcome::fail(errc::insufficient_stock, "1 available");
  r = order::decode(
    envelope{"x", {"order", "o1"}, "reserve.reply", reply_body("B", failed)});
  BOOST_REQUIRE(r.ok());
  res = std::get_if<order::reserved>(&r.value());
  BOOST_REQUIRE(res != nullptr);
  BOOST_TEST(res->sku == "B");
  BOOST_REQUIRE(res->err);
  BOOST_TEST((res->err->code == errc::insufficient_stock));
  BOOST_TEST(res->err->message == "1 available");

  // Unknown codes and garbled answers from a known SKU are failures.
  for (const auto& body :
       {json{{"from", "C"}, {"ok", false}, {"error", "weird"}},
        json{{"from", "C"}, {"ok", "yes"}},
        json{{"from", "C"}, {"ok", true}, {"unit_price", "1"}},
        json{{"from", "C"}, {"ok", true}, {"unit_price", 1}, {"kind", "x"}}}) {
    r = order::decode(envelope{"x", {"order", "o1"}, "reserve.reply", body});
    BOOST_REQUIRE(r.ok());
    res = std::get_if<order::reserved>(&r.value());
    BOOST_REQUIRE(res != nullptr);
    BOOST_REQUIRE(res->err);
    BOOST_TEST((res->err->code == errc::internal));
  }
}

BOOST_AUTO_TEST_CASE(decode_reads_what_skus_and_the_provider_send) {
  auto r = order::decode(envelope{
    "x", {"order", "o1"}, "refund_done", json{{"refund_id", "rf-t1"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<order::refund_done>(r.value()).refund_id == "rf-t1");

  r = order::decode(
    envelope{"x", {"order", "o1"}, "timer", json{{"name", "deadline"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::holds_alternative<order::deadline>(r.value()));

  // What an SKU emits on a confirm it cannot serve.
  inventory::state inv;
  inv.sku = "A";
  inventory::config icfg;
  inventory::handle(inv, inventory::put{100, 0, item_kind::goods},
                    inventory::context{t0, &icfg});
  auto o = inventory::handle(inv, inventory::confirm{"o1", 7, 1},
                             inventory::context{t0, &icfg});
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  BOOST_TEST(o.outbox[0].to.kind == "order");
  BOOST_TEST(o.outbox[0].to.id == "o1");
  r = order::decode(o.outbox[0]);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<order::shortfall>(r.value()).sku == "A");
}

BOOST_AUTO_TEST_CASE(decode_rejects_garbage_as_bad_request) {
  std::vector<envelope> garbage{
    {"x", {"order", "o1"}, "pay", json{{"txn_id", "t1"}}},
    {"x", {"order", "o1"}, "reserve.reply", json{{"ok", true}}},
    {"x", {"order", "o1"}, "reserve.reply", json{{"from", 5}}},
    {"x", {"order", "o1"}, "reserve.reply", json::array()},
    {"x", {"order", "o1"}, "refund_done", json::object()},
    {"x", {"order", "o1"}, "refund_done", json{{"refund_id", 1}}},
    {"x", {"order", "o1"}, "shortfall", json{{"sku", nullptr}}},
    {"x", {"order", "o1"}, "timer", json{{"name", "res:o1"}}},
    {"x", {"order", "o1"}, "timer", json("deadline")},
    {"x", {"order", "o1"}, "", json()},
  };
  for (const auto& e : garbage) {
    auto r = order::decode(e);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST((r.err().code == errc::bad_request));
  }
}

BOOST_AUTO_TEST_CASE(state_json_round_trips) {
  auto s = paid();
  order::handle(s, order::pay{"t2", 10, true}, at(t0));
  s.parent_id = "p1";
  s.children = {{"c1", item_kind::goods, 5, order::status::cancelled, 2, ""},
                {"c2", item_kind::service, 6, order::status::paid, 3, "no"}};
  s.saga = order::saga_state{"cancel", "user", t0};
  s.manual_reason = "why";
  s.discount = 3;
  json j;
  order::to_json(j, s);
  order::state back;
  order::from_json(j, back);
  BOOST_TEST(dump(back) == j.dump());
  BOOST_TEST(back.order_id == "o1");
  BOOST_TEST(back.st == order::status::paid);
  BOOST_TEST(back.version == s.version);
  BOOST_TEST(back.items.size() == 2u);
  BOOST_TEST((back.items[1].kind == item_kind::service));
  BOOST_TEST(back.payments.size() == 2u);
  BOOST_TEST(
    (back.payments[1].status == order::payment_status::refund_pending));
  BOOST_TEST(back.payments[1].refund_id == "rf-t2");
  BOOST_TEST(back.children.size() == 2u);
  BOOST_TEST((back.children[1].st == order::status::paid));
  BOOST_TEST(back.children[1].refused == "no");
  BOOST_TEST(back.saga.has_value());
  BOOST_TEST(order::why_manual(back) == "why");
  BOOST_TEST(back.token == 7u);
  BOOST_TEST(!order::busy(back));
  // Through text as well (the stored form).
  order::state again;
  order::from_json(json::parse(j.dump()), again);
  BOOST_TEST(dump(again) == j.dump());
}

BOOST_AUTO_TEST_CASE(from_json_tolerates_missing_fields) {
  order::state s;
  order::from_json(json{{"id", "o9"}, {"st", "CANCELLED"}, {"v", 4}}, s);
  BOOST_TEST(s.order_id == "o9");
  BOOST_TEST(s.st == order::status::cancelled);
  BOOST_TEST(s.version == 4u);
  BOOST_TEST(s.items.empty());
  BOOST_TEST(s.payments.empty());
  order::from_json(json::object(), s);
  BOOST_TEST(s.st == order::status::none);
}

BOOST_AUTO_TEST_CASE(fingerprints_are_kept_as_a_stable_hash) {
  // FNV-1a 64: stored hashes must mean the same in every later build.
  BOOST_TEST(order::fingerprint_hash("") == 0xcbf29ce484222325ULL);
  BOOST_TEST(order::fingerprint_hash("a") == 0xaf63dc4c8601ec8cULL);
  BOOST_TEST(order::fingerprint_hash("fp1") != order::fingerprint_hash("fp2"));
  // A store written before the hash kept the fingerprint itself: it reads
  // as its hash, so a retry of that create still answers "existing".
  order::state old;
  order::from_json(json{{"id", "o9"}, {"st", "PAID"}, {"fp", "fp1"}}, old);
  BOOST_TEST(old.fingerprint == order::fingerprint_hash("fp1"));
  auto o = order::handle(old, make_create({{"A", 1}}, "fp1"), at(t0));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.result == "existing");
  o = order::handle(old, make_create({{"A", 1}}, "fp2"), at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::idempotency_key_reused));
}

BOOST_AUTO_TEST_SUITE_END()

// The admin SMS an order keeps (DESIGN.md rule 8): actors/notifier.hpp's
// machine run inside the order's own turns.
BOOST_AUTO_TEST_SUITE(order_admin_sms)

const envelope* sms_message(const outcome& o) {
  const envelope* found = nullptr;
  for (const auto& e : o.outbox) {
    if (e.to.kind == "sms") {
      BOOST_REQUIRE(found == nullptr);
      found = &e;
    }
  }
  return found;
}

bool tells_kind(const outcome& o, const std::string& kind) {
  return std::any_of(o.outbox.begin(), o.outbox.end(), [&](const envelope& e) {
    return e.to.kind == kind;
  });
}

const timer_op* timer_named(const outcome& o, const std::string& name) {
  const timer_op* found = nullptr;
  for (const auto& t : o.timers) {
    if (t.name == name) {
      BOOST_REQUIRE(found == nullptr); // one op per timer and turn
      found = &t;
    }
  }
  return found;
}

millis cooled() {
  return t0 + ocfg.notify.notify_delay;
}

BOOST_AUTO_TEST_CASE(the_create_keeps_the_sms_and_arms_its_cooling_timer) {
  auto s = fresh();
  start(s, make_create({{"A", 1}}), at(t0));
  auto o = order::handle(s, ok_answer("A", 1000), at(t0));
  BOOST_REQUIRE(s.st == order::status::pending_payment);
  BOOST_REQUIRE(s.sms);
  BOOST_TEST(order::sms_of(s)->order_id == "o1");
  BOOST_REQUIRE(order::sms_of(s)->new_order);
  BOOST_TEST((order::sms_of(s)->new_order->st == notifier::status::pending));
  BOOST_TEST(order::sms_of(s)->new_order->notification_id == "o1:new_order");
  BOOST_TEST(order::sms_of(s)->new_order->created_at == t0);
  // No message and no turn of another actor: the timer is the order's own,
  // in the create's batch.
  BOOST_TEST(!tells_kind(o, "notifier"));
  BOOST_TEST(!tells_kind(o, "sms"));
  const auto* t = timer_named(o, "wake");
  BOOST_REQUIRE(t != nullptr);
  BOOST_TEST(t->due == cooled());
  BOOST_TEST(o.event == "created");
}

BOOST_AUTO_TEST_CASE(a_cancel_in_the_cooling_period_suppresses_the_sms) {
  auto s = pending();
  auto o = order::handle(s, order::cancel{}, at(t0 + 1000));
  BOOST_REQUIRE(s.st == order::status::cancelled);
  BOOST_TEST((order::sms_of(s)->new_order->st == notifier::status::suppressed));
  BOOST_TEST(order::sms_of(s)->cancelled);
  BOOST_TEST(!tells_kind(o, "notifier"));
  BOOST_TEST(!tells_kind(o, "sms")); // no cancel notice without a new-order
  const auto* t = timer_named(o, "wake");
  BOOST_REQUIRE(t != nullptr);
  BOOST_TEST(t->due == 0); // disarmed in the cancel's own batch
  BOOST_TEST(std::count(o.signals.begin(), o.signals.end(), "sms_suppressed")
             == 1);
  // A firing that raced the disarm changes nothing.
  auto late = order::handle(s, order::wake{}, at(cooled()));
  BOOST_TEST(late.event.empty());
  BOOST_TEST(late.outbox.empty());
}

BOOST_AUTO_TEST_CASE(the_cooling_timer_checks_the_orders_own_status_and_sends) {
  auto s = paid();
  auto version = s.version;
  auto early = order::handle(s, order::wake{}, at(cooled() - 1));
  BOOST_TEST(early.event.empty()); // stale: not due yet
  auto o = order::handle(s, order::wake{}, at(cooled()));
  BOOST_TEST(o.requests.empty()); // the order answers its own status check
  BOOST_TEST(o.event == "sms checking+sms_requested");
  BOOST_TEST(s.version == version + 1);
  const auto* m = sms_message(o);
  BOOST_REQUIRE(m != nullptr);
  BOOST_TEST(m->type == "sms");
  BOOST_TEST(m->id == "order/o1#" + std::to_string(s.version) + ".0");
  BOOST_TEST(m->body.at("notification_id") == "o1:new_order");
  BOOST_TEST(m->body.at("template") == "new_order");
  BOOST_TEST(m->body.at("confirm_to") == "order");
  BOOST_TEST(order::sms_of(s)->new_order->in_flight);
  BOOST_TEST(!order::sms_of(s)->checking);
  // Paid and the SMS handed over: nothing left to wait for.
  const auto* t = timer_named(o, "wake");
  BOOST_REQUIRE(t != nullptr);
  BOOST_TEST(t->due == 0);

  auto sent
    = order::handle(s, order::sms_sent{"o1:new_order"}, at(cooled() + 5));
  BOOST_TEST(sent.event == "sms new_order_sent");
  BOOST_TEST((order::sms_of(s)->new_order->st == notifier::status::sent));
  BOOST_TEST(order::sms_of(s)->new_order->sent_at == cooled() + 5);
  auto again
    = order::handle(s, order::sms_sent{"o1:new_order"}, at(cooled() + 6));
  // A repeat changes nothing and sends nothing: the adapter confirms
  // without a dedupe id (runtime/detail/sms.cpp) and relies on this.
  BOOST_TEST(again.event.empty());
  BOOST_TEST(again.outbox.empty());
  BOOST_TEST(again.signals.empty());
  BOOST_TEST(order::sms_of(s)->new_order->sent_at == cooled() + 5);
}

BOOST_AUTO_TEST_CASE(one_timer_wakes_the_order_for_its_sms_then_its_deadline) {
  auto s = pending();
  BOOST_TEST(order::wake_at(s) == cooled()); // before the deadline
  auto o = order::handle(s, order::wake{}, at(cooled()));
  BOOST_REQUIRE(sms_message(o) != nullptr);
  const auto* t = timer_named(o, "wake");
  BOOST_REQUIRE(t != nullptr);
  BOOST_TEST(t->due == s.pay_deadline); // armed again, for what comes next
  o = order::handle(s, order::wake{}, at(s.pay_deadline));
  BOOST_TEST(s.st == order::status::cancelled);
  BOOST_TEST(s.cancel_reason == "timeout");
  t = timer_named(o, "wake");
  BOOST_REQUIRE(t != nullptr);
  BOOST_TEST(t->due == 0);
  BOOST_TEST(!has_signal(o, "order_wake_unresolved"));
}

BOOST_AUTO_TEST_CASE(an_early_wake_changes_nothing_and_moves_no_timer) {
  // A firing that a later turn overtook (its timer was moved meanwhile).
  auto s = pending();
  auto version = s.version;
  auto o = order::handle(s, order::wake{}, at(cooled() - 1));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.timers.empty());
  BOOST_TEST(o.signals.empty());
  BOOST_TEST(s.version == version);
}

BOOST_AUTO_TEST_CASE(a_cancelled_order_checked_at_its_timer_sends_nothing) {
  // The cancel's disarm was lost with a crash, say: the check still reads
  // the order's status and suppresses.
  auto s = pending();
  s.st = order::status::cancelled;
  auto o = order::handle(s, order::wake{}, at(cooled()));
  BOOST_TEST(sms_message(o) == nullptr);
  BOOST_TEST((order::sms_of(s)->new_order->st == notifier::status::suppressed));
  BOOST_TEST(o.event == "sms checking+suppressed");
}

BOOST_AUTO_TEST_CASE(a_cancel_after_the_sms_went_out_sends_the_cancel_notice) {
  auto s = pending();
  auto check = order::handle(s, order::wake{}, at(cooled()));
  BOOST_REQUIRE(sms_message(check) != nullptr); // PENDING_PAYMENT is live
  order::handle(s, order::sms_sent{"o1:new_order"}, at(cooled() + 1));
  auto o = order::handle(s, order::cancel{}, at(cooled() + 2));
  BOOST_REQUIRE(s.st == order::status::cancelled);
  const auto* m = sms_message(o);
  BOOST_REQUIRE(m != nullptr);
  BOOST_TEST(m->body.at("template") == "order_cancelled");
  BOOST_TEST(m->body.at("confirm_to") == "order");
  BOOST_TEST(!tells_kind(o, "notifier"));
}

BOOST_AUTO_TEST_CASE(an_order_stored_without_sms_tells_its_notifier_actor) {
  // An order placed before orders kept their SMS: its notifier actor has it.
  auto s = pending();
  s.sms.reset();
  auto o = order::handle(s, order::cancel{}, at(t0 + minute));
  auto told = of_type(o, "order_cancelled");
  BOOST_REQUIRE_EQUAL(told.size(), 1u);
  BOOST_TEST(told[0]->to.kind == "notifier");
  BOOST_TEST(told[0]->to.id == "o1");
  BOOST_TEST(told[0]->body == (json{{"order_id", "o1"}, {"at", t0 + minute}}));
  BOOST_TEST(!s.sms);
  auto timer = order::handle(s, order::wake{}, at(cooled()));
  BOOST_TEST(timer.event.empty());
}

BOOST_AUTO_TEST_CASE(the_sms_is_part_of_the_stored_form) {
  auto s = pending();
  order::handle(s, order::wake{}, at(cooled()));
  json j = s;
  auto back = j.get<order::state>();
  BOOST_REQUIRE(back.sms);
  BOOST_TEST(json(*order::sms_of(back)) == json(*order::sms_of(s)));
  BOOST_TEST(order::sms_of(back)->new_order->in_flight);
  auto legacy = j;
  legacy.erase("sms");
  BOOST_TEST(!legacy.get<order::state>().sms);
}

BOOST_AUTO_TEST_CASE(decode_reads_the_sms_timer_and_its_confirmation) {
  auto t = order::decode(
    envelope{"x", {"order", "o1"}, "timer", json{{"name", "wake"}}});
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(std::holds_alternative<order::wake>(t.value()));
  auto sent
    = order::decode(envelope{"x",
                             {"order", "o1"},
                             "sms_sent",
                             json{{"notification_id", "o1:new_order"}}});
  BOOST_REQUIRE(sent.ok());
  BOOST_TEST(std::get<order::sms_sent>(sent.value()).notification_id
             == "o1:new_order");
  auto bad
    = order::decode(envelope{"x", {"order", "o1"}, "sms_sent", json::object()});
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST((bad.err().code == errc::bad_request));
}

BOOST_AUTO_TEST_SUITE_END()

// -- an order and its SKUs, wired through decode/handle ----------------------

namespace {

/// A tiny, synchronous stand-in for the runtime: requests are answered at
/// once, outbox messages queue until deliver() and are deduped on id.
struct world {
  order::config ocfg;
  inventory::config icfg;
  order::state ord = fresh();
  std::map<std::string, inventory::state> skus;
  coupon::config ccfg;
  std::map<std::string, coupon::state> coupons;
  std::map<std::string, attribution::state> affiliates;
  std::map<std::string, reports::state> report_shards;
  std::deque<envelope> in_flight;
  std::vector<envelope> to_provider;
  /// Messages to kinds the world does not run (notifier, dispatcher).
  std::vector<envelope> others;
  std::set<std::string> consumed;
  millis now = t0;

  world() {
    for (auto [sku, stock] : {std::pair{"A", 5}, std::pair{"B", 3}}) {
      auto& inv = skus[sku];
      inv.sku = sku;
      sku_turn(inv, inventory::put{sku == std::string{"A"} ? 1000 : 500, stock,
                                   item_kind::goods});
    }
  }

  outcome sku_turn(inventory::state& inv, const inventory::input& in) {
    auto o = inventory::handle(inv, in, inventory::context{now, &icfg});
    BOOST_REQUIRE(inventory::conserved(inv));
    absorb(o);
    return o;
  }

  outcome coupon_turn(const std::string& id, const coupon::input& in) {
    auto& c = coupons[id];
    c.coupon_id = id;
    auto o = coupon::handle(c, in, coupon::context{now, &ccfg});
    BOOST_REQUIRE(coupon::consistent(c));
    absorb(o);
    return o;
  }

  /// Answers a request of the order at once.
  outcome answer(const envelope& req) {
    if (req.to.kind == "coupon") {
      auto in = coupon::decode(req);
      BOOST_REQUIRE(in.ok());
      return coupon_turn(req.to.id, in.value());
    }
    BOOST_REQUIRE(req.to.kind == "sku");
    auto in = inventory::decode(req);
    BOOST_REQUIRE(in.ok());
    return sku_turn(skus.at(req.to.id), in.value());
  }

  /// How the last deferred create was answered.
  std::optional<error> created_error;

  outcome order_turn(const order::input& in) {
    auto o = order::handle(ord, in, order::context{now, &ocfg});
    for (const auto& r : o.resolves) {
      if (r.tag == "create") {
        created_error = r.err;
      }
    }
    for (const auto& req : o.requests) {
      auto reply = answer(req);
      auto answer = order::decode(envelope{req.id + ".reply",
                                           {"order", ord.order_id},
                                           req.type + ".reply",
                                           reply_body(req.to.id, reply)});
      BOOST_REQUIRE(answer.ok());
      order_turn(answer.value());
    }
    absorb(o);
    return o;
  }

  void absorb(const outcome& o) {
    for (const auto& e : o.outbox) {
      BOOST_REQUIRE(!e.id.empty());
      in_flight.push_back(e);
    }
    ordo::test::count(o, report_shards);
  }

  /// Delivers every queued message (twice, to exercise dedupe).
  void deliver() {
    while (!in_flight.empty()) {
      auto e = in_flight.front();
      in_flight.pop_front();
      if (!consumed.insert(e.id).second) {
        continue;
      }
      in_flight.push_back(e); // a redelivery the receiver must drop
      if (e.to.kind == "sku") {
        auto in = inventory::decode(e);
        BOOST_REQUIRE(in.ok());
        sku_turn(skus.at(e.to.id), in.value());
      } else if (e.to.kind == "order") {
        auto in = order::decode(e);
        BOOST_REQUIRE(in.ok());
        order_turn(in.value());
      } else if (e.to.kind == "coupon") {
        auto in = coupon::decode(e);
        BOOST_REQUIRE(in.ok());
        coupon_turn(e.to.id, in.value());
      } else if (e.to.kind == "affiliate") {
        auto in = attribution::decode(e);
        BOOST_REQUIRE(in.ok());
        auto& a = affiliates[e.to.id];
        a.affiliate_id = e.to.id;
        absorb(attribution::handle(a, in.value(), {now, nullptr}));
        BOOST_REQUIRE(attribution::balanced(a));
      } else if (e.to.kind == "payment") {
        to_provider.push_back(e);
      } else {
        others.push_back(e);
      }
    }
  }

  std::size_t provider_calls(const std::string& type) const {
    return static_cast<std::size_t>(std::count_if(
      to_provider.begin(), to_provider.end(), [&](const envelope& e) {
        return e.type == type;
      }));
  }

  std::size_t others_of(const std::string& kind,
                        const std::string& type) const {
    return static_cast<std::size_t>(
      std::count_if(others.begin(), others.end(), [&](const envelope& e) {
        return e.to.kind == kind && e.type == type;
      }));
  }

  /// Coupon c1 of user u1: 500 off orders of at least `min_amount`.
  void add_coupon(std::int64_t min_amount = 1000) {
    auto o = coupon_turn("c1", coupon::put{"u1", 500, min_amount});
    BOOST_REQUIRE(!o.err);
  }

  /// Creates with coupon c1 and affiliate aff1; the create's error, if any.
  std::optional<error>
  create_with_coupon(std::vector<order::requested_item> items
                     = {{"A", 2}, {"B", 1}},
                     std::uint64_t token = 7) {
    auto c = make_create(std::move(items), "fp1", token);
    c.coupon_id = "c1";
    c.affiliate_id = "aff1";
    auto o = order_turn(c);
    BOOST_REQUIRE(o.defer_tag == "create");
    return created_error;
  }

  void create() {
    auto o = order_turn(make_create({{"A", 2}, {"B", 1}}));
    BOOST_REQUIRE(o.defer_tag == "create");
    BOOST_REQUIRE(ord.st == order::status::pending_payment);
    BOOST_REQUIRE_EQUAL(skus["A"].reserved, 2);
    BOOST_REQUIRE_EQUAL(skus["B"].reserved, 1);
  }

  /// The order ended in exactly one of: PAID with the stock sold, or
  /// CANCELLED with the stock back and exactly one refund.
  void check_exactly_one_outcome() {
    for (const auto& [sku, inv] : skus) {
      BOOST_TEST(inventory::conserved(inv));
      BOOST_TEST(inv.reserved == 0);
    }
    if (ord.st == order::status::paid) {
      BOOST_REQUIRE_EQUAL(ord.payments.size(), 1u);
      BOOST_TEST((ord.payments[0].status == order::payment_status::captured));
      BOOST_TEST(skus["A"].sold == 2);
      BOOST_TEST(skus["B"].sold == 1);
      BOOST_TEST(provider_calls("refund") == 0u);
    } else {
      BOOST_REQUIRE(ord.st == order::status::cancelled);
      BOOST_REQUIRE_EQUAL(ord.payments.size(), 1u);
      BOOST_TEST(
        (ord.payments[0].status == order::payment_status::refund_pending));
      BOOST_TEST(provider_calls("refund") == 1u);
      BOOST_TEST(provider_calls("close") == 1u);
      BOOST_TEST(skus["A"].available == 5);
      BOOST_TEST(skus["B"].available == 3);
      BOOST_TEST(skus["A"].sold + skus["B"].sold == 0);
    }
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(order_with_inventory)

BOOST_AUTO_TEST_CASE(pay_before_cancel_sells_and_refuses_the_cancel) {
  world w;
  w.create();
  w.now += minute;
  BOOST_TEST(w.order_turn(order::pay{"t1", 2500, true}).result == "captured");
  auto o = w.order_turn(order::cancel{});
  BOOST_TEST((o.err && o.err->code == errc::already_paid));
  w.order_turn(order::pay{"t1", 2500, true}); // provider retry
  w.deliver();
  BOOST_TEST(w.ord.st == order::status::paid);
  w.check_exactly_one_outcome();
}

BOOST_AUTO_TEST_CASE(cancel_before_pay_releases_and_refunds_once) {
  world w;
  w.create();
  w.now += minute;
  BOOST_TEST(!w.order_turn(order::cancel{}).err);
  BOOST_TEST(w.order_turn(order::pay{"t1", 2500, true}).result == "refunded");
  BOOST_TEST(w.order_turn(order::pay{"t1", 2500, true}).result == "duplicate");
  w.deliver();
  BOOST_TEST(w.ord.st == order::status::cancelled);
  w.check_exactly_one_outcome();
}

BOOST_AUTO_TEST_CASE(interleaved_deliveries_still_end_consistent) {
  // Messages of the first command are delivered before or after the second
  // command runs; both orders of pay and cancel.
  for (bool pay_first : {true, false}) {
    for (bool deliver_between : {true, false}) {
      world w;
      w.create();
      w.now += minute;
      auto first = pay_first ? order::input{order::pay{"t1", 2500, true}}
                             : order::input{order::cancel{}};
      auto second = pay_first ? order::input{order::cancel{}}
                              : order::input{order::pay{"t1", 2500, true}};
      w.order_turn(first);
      if (deliver_between) {
        w.deliver();
      }
      w.order_turn(second);
      w.deliver();
      BOOST_TEST(
        (w.ord.st
         == (pay_first ? order::status::paid : order::status::cancelled)));
      w.check_exactly_one_outcome();
    }
  }
}

BOOST_AUTO_TEST_CASE(late_pay_after_timeout_and_expiry_refunds_once) {
  world w;
  w.create();
  w.now = w.ord.pay_deadline + 1;
  // The reservations expired on their own before anyone acted.
  for (auto& [sku, inv] : w.skus) {
    w.sku_turn(inv, inventory::expire{"o1"});
  }
  BOOST_TEST(w.order_turn(order::pay{"t1", 2500, true}).result == "refunded");
  w.order_turn(order::deadline{}); // the stale timer fires late
  w.deliver();
  BOOST_TEST(w.ord.cancel_reason == "timeout");
  w.check_exactly_one_outcome();
}

BOOST_AUTO_TEST_CASE(a_create_short_of_one_sku_reserves_nothing) {
  world w;
  auto o = w.order_turn(make_create({{"A", 2}, {"B", 4}}));
  BOOST_TEST(o.defer_tag == "create");
  BOOST_TEST(w.ord.st == order::status::none);
  BOOST_REQUIRE(w.created_error);
  BOOST_TEST((w.created_error->code == errc::insufficient_stock));
  // Refused at the checks: A was never reserved, nothing is on its way.
  BOOST_TEST(w.skus["A"].reserved == 0);
  BOOST_TEST(w.in_flight.empty());
  w.deliver();
  BOOST_TEST(w.skus["A"].reserved == 0);
  BOOST_TEST(w.skus["A"].available == 5);
  BOOST_TEST(w.skus["B"].available == 3);
}

BOOST_AUTO_TEST_CASE(reservation_outlives_a_payment_accepted_at_the_deadline) {
  // Reservations and deadline last equally long; the SKU reserves first and
  // the order becomes pending only when the last answer arrives, later.
  world w;
  w.icfg.reservation_ttl = w.ocfg.payment_timeout;
  const millis margin = 60'000; // order::config's default reservation margin
  auto o = order::handle(w.ord, make_create({{"A", 2}}),
                         order::context{w.now, &w.ocfg});
  // One SKU, no coupon: the create reserves at once.
  BOOST_REQUIRE_EQUAL(o.requests.size(), 1u);
  const auto& req = o.requests[0];
  BOOST_REQUIRE_EQUAL(req.type, "reserve");
  auto reply = w.answer(req); // the SKU's turn, at t0
  w.now += 50;
  auto answer = order::decode(envelope{req.id + ".reply",
                                       {"order", "o1"},
                                       "reserve.reply",
                                       reply_body("A", reply)});
  BOOST_REQUIRE(answer.ok());
  w.order_turn(answer.value());
  BOOST_REQUIRE(w.ord.st == order::status::pending_payment);
  auto& inv = w.skus["A"];
  BOOST_REQUIRE_EQUAL(inv.reservations.count("o1"), 1u);
  BOOST_TEST(inv.reservations.at("o1").expires_at
             == w.ord.pay_deadline + margin);

  // At the deadline: every timer due by now has fired, then the payment
  // arrives, on time.
  w.now = w.ord.pay_deadline;
  w.sku_turn(inv, inventory::expire{"o1"});
  BOOST_TEST(inv.reservations.count("o1") == 1u);
  BOOST_TEST(w.order_turn(order::pay{"t1", 2000, true}).result == "captured");
  // The confirm takes its time through the outbox, within the margin.
  w.now += margin - 1;
  w.sku_turn(inv, inventory::expire{"o1"});
  BOOST_TEST(inv.reservations.count("o1") == 1u);
  auto sold = w.sku_turn(
    inv, inventory::confirm{"o1", w.ord.token, 2}); // as the outbox carries it
  BOOST_TEST(sold.event == "sold"); // from the reservation, not available
  w.in_flight.clear();
  BOOST_TEST(inv.sold == 2);
  BOOST_TEST(inv.reserved == 0);
  BOOST_TEST(inv.available == 3);
  BOOST_TEST(w.ord.st == order::status::paid);
}

BOOST_AUTO_TEST_CASE(shortfall_after_expiry_refunds_and_restocks) {
  world w;
  w.create();
  // Paid at the deadline, but the confirms are held up beyond the margin:
  // the reservations have expired when they arrive.
  w.now = w.ord.pay_deadline;
  BOOST_TEST(w.order_turn(order::pay{"t1", 2500, true}).result == "captured");
  auto confirms = std::move(w.in_flight);
  w.in_flight.clear();
  w.now += w.ocfg.reservation_margin;
  for (auto& [sku, inv] : w.skus) {
    w.sku_turn(inv, inventory::expire{"o1"});
    BOOST_TEST(inv.reservations.empty());
  }
  // Someone else buys all of B meanwhile.
  w.sku_turn(w.skus["B"], inventory::reserve{"o2", 1, 3});
  w.sku_turn(w.skus["B"], inventory::confirm{"o2", 1, 3});
  w.in_flight = std::move(confirms);
  w.deliver();
  BOOST_TEST(w.ord.st == order::status::refunded);
  BOOST_TEST(w.ord.cancel_reason == "stock_shortfall");
  BOOST_TEST(w.provider_calls("refund") == 1u);
  BOOST_TEST(w.skus["A"].available == 5);
  BOOST_TEST(w.skus["A"].sold == 0);
  BOOST_TEST(w.skus["B"].sold == 3);
  BOOST_TEST(w.skus["B"].shortfalls.empty() == false);
  for (const auto& [sku, inv] : w.skus) {
    BOOST_TEST(inventory::conserved(inv));
  }
}

BOOST_AUTO_TEST_CASE(coupon_is_locked_consumed_and_commission_settled_once) {
  world w;
  w.add_coupon();
  BOOST_REQUIRE(!w.create_with_coupon());
  BOOST_TEST(w.ord.amount == 2500);
  BOOST_TEST(w.ord.discount == 500);
  BOOST_TEST(w.ord.payable == 2000);
  BOOST_TEST((w.coupons["c1"].st == coupon::status::locked));
  BOOST_TEST(w.coupons["c1"].order_id == "o1");
  w.deliver();
  BOOST_TEST(w.affiliates["aff1"].sums.pending == 100); // 5% of 2000
  BOOST_TEST(
    w.ord.sms.has_value()); // the order keeps its SMS: no notifier message
  BOOST_TEST(w.others_of("notifier", "order_created") == 0u);
  w.now += minute;
  BOOST_TEST(w.order_turn(order::pay{"t1", 2000, true}).result == "captured");
  w.deliver();
  BOOST_TEST((w.coupons["c1"].st == coupon::status::used));
  BOOST_TEST(w.others_of("dispatcher", "order_paid") == 0u); // goods only
  BOOST_TEST(!w.order_turn(order::complete{}).err);
  w.deliver();
  auto& aff = w.affiliates["aff1"];
  BOOST_TEST(aff.sums.settled == 100);
  BOOST_TEST(aff.sums.pending == 0);
  BOOST_TEST((aff.entries.at("o1").st == attribution::status::settled));
}

BOOST_AUTO_TEST_CASE(cancel_returns_the_coupon_and_voids_the_commission) {
  world w;
  w.add_coupon();
  BOOST_REQUIRE(!w.create_with_coupon());
  w.now += minute;
  BOOST_TEST(!w.order_turn(order::cancel{}).err);
  BOOST_TEST(!w.order_turn(order::cancel{}).err); // a repeat changes nothing
  w.deliver();
  BOOST_TEST((w.coupons["c1"].st == coupon::status::available));
  BOOST_TEST(w.coupons["c1"].order_id.empty());
  auto& aff = w.affiliates["aff1"];
  BOOST_TEST(aff.sums.invalid == 100);
  BOOST_TEST(aff.sums.pending + aff.sums.settled == 0);
  BOOST_TEST(
    (order::sms_of(w.ord)->new_order->st == notifier::status::suppressed));
  BOOST_TEST(w.others_of("notifier", "order_cancelled") == 0u);
  // A payment racing in after the cancel is refunded; the coupon stays free.
  BOOST_TEST(w.order_turn(order::pay{"t1", 2000, true}).result == "refunded");
  w.deliver();
  BOOST_TEST((w.coupons["c1"].st == coupon::status::available));
  // The returned coupon backs the user's next order.
  w.ord = fresh("o2");
  BOOST_TEST(!w.create_with_coupon({{"A", 1}, {"B", 1}}, 9));
  BOOST_TEST(w.coupons["c1"].order_id == "o2");
}

BOOST_AUTO_TEST_CASE(
  a_locked_coupon_refuses_a_second_order_and_changes_nothing) {
  world w;
  w.add_coupon();
  BOOST_REQUIRE(!w.create_with_coupon());
  w.deliver();
  auto first = w.coupons["c1"];
  w.ord = fresh("o2");
  auto err = w.create_with_coupon({{"A", 1}, {"B", 1}}, 9);
  BOOST_REQUIRE(err);
  BOOST_TEST((err->code == errc::coupon_unavailable));
  BOOST_TEST((w.ord.st == order::status::none));
  // o2 was refused at the checks: it reserved nothing.
  BOOST_TEST(w.skus["A"].reserved == 2);
  BOOST_TEST(w.skus["B"].reserved == 1);
  BOOST_TEST(w.in_flight.empty());
  w.deliver();
  // o1 still holds the coupon and its stock.
  BOOST_TEST(w.skus["A"].reserved == 2);
  BOOST_TEST(w.skus["B"].reserved == 1);
  BOOST_TEST(w.coupons["c1"].order_id == "o1");
  BOOST_TEST(w.coupons["c1"].token == first.token);
  BOOST_TEST(w.affiliates["aff1"].entries.count("o2") == 0u);
}

BOOST_AUTO_TEST_CASE(a_foreign_or_missing_coupon_is_unavailable) {
  world w;
  auto c = w.coupon_turn("c1", coupon::put{"someone-else", 500, 0});
  BOOST_REQUIRE(!c.err);
  auto err = w.create_with_coupon();
  BOOST_REQUIRE(err);
  BOOST_TEST((err->code == errc::coupon_unavailable));
  // Refused before anything was reserved.
  BOOST_TEST(w.skus["A"].reserved == 0);
  BOOST_TEST(w.in_flight.empty());
  w.deliver();
  BOOST_TEST((w.coupons["c1"].st == coupon::status::available));
  BOOST_TEST(w.skus["A"].reserved == 0);

  world missing; // no coupon c1 at all
  err = missing.create_with_coupon();
  BOOST_REQUIRE(err);
  BOOST_TEST((err->code == errc::coupon_unavailable));
  BOOST_TEST(err->message.find("does not exist") != std::string::npos);
  missing.deliver();
  BOOST_TEST(missing.skus["A"].reserved == 0);
}

BOOST_AUTO_TEST_CASE(
  an_order_below_the_minimum_takes_neither_coupon_nor_stock) {
  world w;
  w.add_coupon(2600); // the order totals 2500
  auto err = w.create_with_coupon();
  BOOST_REQUIRE(err);
  BOOST_TEST((err->code == errc::coupon_unavailable));
  BOOST_TEST(err->message.find("2600") != std::string::npos);
  // The minimum is checked at the quoted prices, before locking or
  // reserving anything.
  BOOST_TEST((w.coupons["c1"].st == coupon::status::available));
  BOOST_TEST(w.skus["A"].reserved == 0);
  BOOST_TEST(w.skus["B"].reserved == 0);
  BOOST_TEST(w.in_flight.empty());
  w.deliver();
  BOOST_TEST((w.coupons["c1"].st == coupon::status::available));
  BOOST_TEST(w.skus["A"].reserved == 0);
  BOOST_TEST(w.skus["B"].reserved == 0);
  BOOST_TEST(w.others.empty()); // no notifier, no affiliate
  BOOST_TEST(w.affiliates.empty());
}

BOOST_AUTO_TEST_CASE(a_create_refused_after_reserving_answers_once_released) {
  // B is quoted with stock, then sold out before the reservation: A's
  // reservation is released, and confirmed released, before the answer.
  world w;
  auto o = order::handle(w.ord, make_create({{"A", 2}, {"B", 1}}), at(t0));
  BOOST_REQUIRE_EQUAL(o.requests.size(), 2u);
  auto checks = o.requests;
  for (const auto& req : checks) {
    auto reply = w.answer(req);
    auto in = order::decode(envelope{req.id + ".reply",
                                     {"order", "o1"},
                                     req.type + ".reply",
                                     reply_body(req.to.id, reply)});
    BOOST_REQUIRE(in.ok());
    o = order::handle(w.ord, in.value(), at(t0));
  }
  BOOST_REQUIRE_EQUAL(o.requests.size(), 2u); // the reservations
  BOOST_REQUIRE(o.requests[0].type == "reserve");
  w.sku_turn(w.skus["B"], inventory::put{500, 0, item_kind::goods});
  outcome last;
  for (const auto& req : o.requests) {
    auto reply = w.answer(req);
    auto in = order::decode(envelope{req.id + ".reply",
                                     {"order", "o1"},
                                     req.type + ".reply",
                                     reply_body(req.to.id, reply)});
    BOOST_REQUIRE(in.ok());
    last = order::handle(w.ord, in.value(), at(t0));
  }
  BOOST_TEST(last.resolves.empty());
  BOOST_TEST(w.skus["A"].reserved == 2);
  BOOST_REQUIRE_EQUAL(last.requests.size(), 1u);
  BOOST_TEST(last.requests[0].type == "release");
  auto reply = w.answer(last.requests[0]);
  BOOST_TEST(w.skus["A"].reserved == 0);
  auto in = order::decode(
    envelope{"r", {"order", "o1"}, "release.reply", reply_body("A", reply)});
  BOOST_REQUIRE(in.ok());
  o = order::handle(w.ord, in.value(), at(t0));
  BOOST_REQUIRE_EQUAL(o.resolves.size(), 1u);
  BOOST_REQUIRE(o.resolves[0].err);
  BOOST_TEST((o.resolves[0].err->code == errc::insufficient_stock));
  // The outbox's release, delivered later, changes nothing.
  w.absorb(last);
  w.deliver();
  BOOST_TEST(w.skus["A"].reserved == 0);
  BOOST_TEST(w.skus["A"].available == 5);
}

BOOST_AUTO_TEST_CASE(discount_never_exceeds_the_amount) {
  world w;
  auto c = w.coupon_turn("c1", coupon::put{"u1", 1'000'000, 0});
  BOOST_REQUIRE(!c.err);
  BOOST_REQUIRE(!w.create_with_coupon());
  BOOST_TEST(w.ord.discount == 2500);
  BOOST_TEST(w.ord.payable == 0);
}

BOOST_AUTO_TEST_CASE(refund_voids_commission_and_recalls_the_dispatch) {
  world w;
  w.skus["A"].kind = item_kind::service;
  w.skus["B"].kind = item_kind::service;
  w.add_coupon();
  BOOST_REQUIRE(!w.create_with_coupon());
  BOOST_TEST(w.order_turn(order::pay{"t1", 2000, true}).result == "captured");
  w.deliver();
  BOOST_TEST(w.others_of("dispatcher", "order_paid") == 1u);
  auto d = order::decode(
    envelope{"dispatcher/o1#2.0",
             {"order", "o1"},
             "dispatched",
             {{"dispatch_id", "o1:dispatch"}, {"technician", "ann"}}});
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(w.order_turn(d.value()).event == "dispatched");
  BOOST_TEST((w.ord.st == order::status::dispatched));
  BOOST_TEST(w.ord.technician == "ann");
  BOOST_TEST(!w.order_turn(order::refund{}).err);
  w.deliver();
  BOOST_TEST(w.others_of("dispatcher", "order_refunded") == 1u);
  BOOST_TEST(w.affiliates["aff1"].sums.invalid == 100);
  BOOST_TEST(w.provider_calls("refund") == 1u);
  // The coupon was spent on a delivered order: it stays USED.
  BOOST_TEST((w.coupons["c1"].st == coupon::status::used));
}

BOOST_AUTO_TEST_CASE(coupon_conflict_refunds_a_paid_order_in_full) {
  world w;
  w.ccfg.lock_ttl = minute; // shorter than the payment timeout, on purpose
  w.add_coupon();
  BOOST_REQUIRE(!w.create_with_coupon());
  w.now += 2 * minute;
  w.coupon_turn("c1", coupon::expire{}); // o1's lock lapses
  auto o2 = order::state{};
  std::swap(o2, w.ord);
  w.ord = fresh("o2");
  BOOST_REQUIRE(!w.create_with_coupon({{"A", 1}, {"B", 1}}, 9));
  std::swap(o2, w.ord); // back to o1, which now pays
  BOOST_TEST(w.order_turn(order::pay{"t1", 2000, true}).result == "captured");
  w.deliver();
  BOOST_TEST((w.ord.st == order::status::refunded));
  BOOST_TEST(w.ord.cancel_reason == "coupon_conflict");
  BOOST_TEST(w.provider_calls("refund") == 1u);
  BOOST_TEST(w.coupons["c1"].order_id == "o2");
  BOOST_TEST(w.skus["A"].sold == 0);
}

BOOST_AUTO_TEST_CASE(status_requests_answer_the_current_status) {
  auto s = fresh();
  auto o = order::handle(s, order::status_query{}, at(t0));
  BOOST_TEST((o.err && o.err->code == errc::not_found));
  s = pending();
  auto q = order::decode(
    envelope{"", {"order", "o1"}, "status", {{"order_id", "o1"}}});
  BOOST_REQUIRE(q.ok());
  o = order::handle(s, q.value(), at(t0));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.reply == (json{{"status", "PENDING_PAYMENT"}}));
  order::handle(s, order::cancel{}, at(t0));
  o = order::handle(s, order::status_query{}, at(t0));
  BOOST_TEST(o.reply == (json{{"status", "CANCELLED"}}));
}

BOOST_AUTO_TEST_CASE(commission_is_floor_of_rate_times_payable) {
  BOOST_TEST(order::commission(2000, 50'000) == 100);
  BOOST_TEST(order::commission(1999, 50'000) == 99);
  BOOST_TEST(order::commission(0, 50'000) == 0);
  BOOST_TEST(order::commission(1000, 0) == 0);
  BOOST_TEST(order::commission(order::max_amount, 1'000'000)
             == order::max_amount);
  BOOST_TEST(order::commission(order::max_amount, 333'333)
             == 333'333'000'000'000);
}

BOOST_AUTO_TEST_SUITE_END()
