// The auditor (rule 13) on hand-made snapshots: what it reports, and the
// heals it sends, for each rule; and the order's side of a heal.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/auditor.hpp"

using namespace ordo::actors;
using nlohmann::json;

namespace {

constexpr millis t0 = 1'700'000'000'000;
constexpr millis minute = 60'000;

const auditor::config cfg{};

order::state make_order(const std::string& id, order::status st) {
  order::state o;
  o.order_id = id;
  o.user_id = "u1";
  o.st = st;
  o.version = 1;
  o.items = {{"A", 2, 100, item_kind::goods}};
  o.amount = o.payable = 200;
  o.token = 7;
  return o;
}

/// SKU A: 10 stocked, 2 reserved by `order_id` until `expires`.
inventory::state sku_with_reservation(const std::string& order_id,
                                      millis expires) {
  inventory::state s;
  s.sku = "A";
  s.exists = true;
  s.stocked = 10;
  s.available = 8;
  s.reserved = 2;
  s.reservations[order_id] = {2, 7, expires};
  return s;
}

/// A snapshot at t0 with order o1 (in `st`) holding 2 units of A.
auditor::snapshot base(order::status st) {
  auditor::snapshot s;
  s.now = t0;
  s.orders["o1"] = make_order("o1", st);
  s.skus["A"] = sku_with_reservation("o1", t0 + 10 * minute);
  return s;
}

const auditor::violation* find(const auditor::report& r,
                               const std::string& rule) {
  auto i = std::find_if(r.violations.begin(), r.violations.end(),
                        [&](const auditor::violation& v) {
                          return v.rule == rule;
                        });
  return i == r.violations.end() ? nullptr : &*i;
}

} // namespace

BOOST_AUTO_TEST_SUITE(auditor_checks)

BOOST_AUTO_TEST_CASE(a_consistent_snapshot_is_ok) {
  auto r = auditor::audit(base(order::status::pending_payment), cfg);
  BOOST_TEST(r.ok());
  BOOST_TEST(r.violations.empty());
  BOOST_TEST(r.heals.empty());
}

BOOST_AUTO_TEST_CASE(stock_that_does_not_add_up_is_reported) {
  auto s = base(order::status::pending_payment);
  s.skus["A"].available = 9; // one unit appeared from nowhere
  auto r = auditor::audit(s, cfg);
  const auto* v = find(r, "stock_conservation");
  BOOST_REQUIRE(v);
  BOOST_TEST(v->subject == "sku/A");
  BOOST_TEST(!v->healed);
}

BOOST_AUTO_TEST_CASE(a_cancelled_orders_reservation_is_released) {
  auto s = base(order::status::cancelled);
  auto r = auditor::audit(s, cfg);
  const auto* v = find(r, "orphaned_reservation");
  BOOST_REQUIRE(v);
  BOOST_TEST(v->healed);
  BOOST_REQUIRE_EQUAL(r.heals.size(), 1u);
  BOOST_TEST(r.heals[0].to.kind == "sku");
  BOOST_TEST(r.heals[0].to.id == "A");
  BOOST_TEST(r.heals[0].type == "release");
  BOOST_TEST(r.heals[0].body == (json{{"order_id", "o1"}, {"token", 7}}));
  // The same while its own release is still in the outbox: nothing.
  s.settling.insert("order/o1");
  BOOST_TEST(auditor::audit(s, cfg).violations.empty());
}

BOOST_AUTO_TEST_CASE(a_reservation_without_an_order_waits_for_its_expiry) {
  auditor::snapshot s;
  s.now = t0;
  s.skus["A"] = sku_with_reservation("ghost", t0 - 1);
  BOOST_TEST(auditor::audit(s, cfg).violations.empty()); // grace period
  s.now = t0 + cfg.grace + 1;
  auto r = auditor::audit(s, cfg);
  BOOST_REQUIRE_EQUAL(r.heals.size(), 1u);
  BOOST_TEST(r.heals[0].type == "timer");
  BOOST_TEST(r.heals[0].body == (json{{"name", "res:ghost"}}));
}

BOOST_AUTO_TEST_CASE(a_refund_owed_without_one_on_its_way_is_reissued) {
  auto s = base(order::status::cancelled);
  s.skus.clear();
  s.orders["o1"].payments.push_back(
    {"t1", 200, order::payment_status::captured, ""});
  auto r = auditor::audit(s, cfg);
  const auto* v = find(r, "refund_owed");
  BOOST_REQUIRE(v);
  BOOST_TEST(v->healed);
  BOOST_REQUIRE_EQUAL(r.heals.size(), 1u);
  BOOST_TEST(r.heals[0].to.kind == "order");
  BOOST_TEST(r.heals[0].type == "reissue_refunds");

  // The order's side: the captured payment goes back once, by refund_id.
  auto in = order::decode(r.heals[0]);
  BOOST_REQUIRE(in.ok());
  auto& o = s.orders["o1"];
  auto out = order::handle(o, in.value(), {t0, nullptr});
  BOOST_TEST(out.event == "refunds_reissued");
  BOOST_REQUIRE_EQUAL(out.outbox.size(), 1u);
  BOOST_TEST(out.outbox[0].type == "refund");
  BOOST_TEST(out.outbox[0].body["refund_id"] == "rf-t1");
  BOOST_TEST((o.payments[0].status == order::payment_status::refund_pending));
  // Again (still pending at the provider): the same refund_id again.
  out = order::handle(o, in.value(), {t0, nullptr});
  BOOST_REQUIRE_EQUAL(out.outbox.size(), 1u);
  BOOST_TEST(out.outbox[0].body["refund_id"] == "rf-t1");
  // A paid order owes nothing.
  auto paid = make_order("o2", order::status::paid);
  paid.payments.push_back({"t2", 200, order::payment_status::captured, ""});
  out = order::handle(paid, in.value(), {t0, nullptr});
  BOOST_TEST(out.outbox.empty());
  BOOST_TEST(out.event.empty());
}

BOOST_AUTO_TEST_CASE(coupon_holders_are_checked_and_healed) {
  auto s = base(order::status::cancelled);
  s.skus.clear();
  s.orders["o1"].coupon_id = "c1";
  coupon::state c;
  c.coupon_id = "c1";
  c.exists = true;
  c.user_id = "u1";
  c.discount = 10;
  c.st = coupon::status::locked;
  c.order_id = "o1";
  c.token = 7;
  c.lock_expires_at = t0 + minute;
  s.coupons["c1"] = c;
  auto r = auditor::audit(s, cfg);
  BOOST_REQUIRE_EQUAL(r.heals.size(), 1u);
  BOOST_TEST(r.heals[0].type == "release");
  BOOST_TEST(r.heals[0].body == (json{{"order_id", "o1"}, {"token", 7}}));

  s.orders["o1"].st = order::status::paid; // consume lost
  r = auditor::audit(s, cfg);
  BOOST_REQUIRE_EQUAL(r.heals.size(), 1u);
  BOOST_TEST(r.heals[0].type == "consume");

  s.orders["o1"].st = order::status::pending_payment;
  BOOST_TEST(auditor::audit(s, cfg).ok());

  s.coupons["c1"].st = coupon::status::used; // used, never paid
  s.coupons["c1"].token = 0;
  s.coupons["c1"].lock_expires_at = 0;
  r = auditor::audit(s, cfg);
  const auto* v = find(r, "coupon_holder");
  BOOST_REQUIRE(v);
  BOOST_TEST(!v->healed);
}

BOOST_AUTO_TEST_CASE(commissions_follow_their_orders) {
  auto s = base(order::status::cancelled);
  s.skus.clear();
  s.orders["o1"].affiliate_id = "aff";
  attribution::state a;
  a.affiliate_id = "aff";
  a.entries["o1"] = {10, true, attribution::status::pending, false};
  a.sums = attribution::sum(a);
  s.affiliates["aff"] = a;
  auto r = auditor::audit(s, cfg);
  BOOST_REQUIRE_EQUAL(r.heals.size(), 1u);
  BOOST_TEST(r.heals[0].type == "invalidate");

  s.orders["o1"].st = order::status::completed;
  r = auditor::audit(s, cfg);
  BOOST_REQUIRE_EQUAL(r.heals.size(), 1u);
  BOOST_TEST(r.heals[0].type == "settle");

  s.affiliates["aff"].entries.clear();
  s.affiliates["aff"].sums = {};
  r = auditor::audit(s, cfg);
  BOOST_REQUIRE_EQUAL(r.heals.size(), 1u);
  BOOST_TEST(r.heals[0].type == "pending");
  BOOST_TEST(r.heals[0].body["amount"] == 10); // 5% of 200

  s.affiliates["aff"].entries["o1"]
    = {10, true, attribution::status::invalid, false};
  s.affiliates["aff"].sums = attribution::sum(s.affiliates["aff"]);
  r = auditor::audit(s, cfg);
  const auto* v = find(r, "commission_status");
  BOOST_REQUIRE(v);
  BOOST_TEST(!v->healed); // a cancelled commission is never revived
}

// What the runtime does at scale: it keeps only the orders other actors
// name and those whose own checks find something; the report is the same
// as with every order.
BOOST_AUTO_TEST_CASE(the_orders_it_needs_give_the_report_all_orders_give) {
  auto s = base(order::status::cancelled); // o1: orphaned reservation
  for (int i = 0; i < 50; ++i) {
    auto id = "clean" + std::to_string(i);
    s.orders[id]
      = make_order(id, i % 2 ? order::status::completed : order::status::paid);
  }
  auto owed = make_order("owed", order::status::cancelled);
  owed.payments.push_back({"t1", 200, order::payment_status::captured, ""});
  s.orders["owed"] = owed;
  auto manual = make_order("manual", order::status::manual_intervention);
  manual.manual_reason = "child did not answer";
  s.orders["manual"] = manual;
  auto unpaid_commission = make_order("aff1", order::status::paid);
  unpaid_commission.affiliate_id = "aff";
  s.orders["aff1"] = unpaid_commission;
  auto settled = make_order("aff2", order::status::cancelled);
  settled.affiliate_id = "aff";
  s.orders["aff2"] = settled;
  attribution::state a;
  a.affiliate_id = "aff";
  a.entries["aff2"] = {10, true, attribution::status::pending, false};
  a.entries["gone"] = {10, true, attribution::status::pending, false};
  a.sums = attribution::sum(a);
  s.affiliates["aff"] = a;
  coupon::state c;
  c.coupon_id = "C";
  c.exists = true;
  c.st = coupon::status::locked;
  c.order_id = "clean3"; // completed, yet its coupon is locked
  c.token = 7;
  s.coupons["C"] = c;

  auto full = auditor::audit(s, cfg);
  auto cut = s;
  cut.orders.clear();
  auto named = auditor::orders_named(s);
  for (const auto& [id, o] : s.orders) {
    if (named.count(id) > 0 || auditor::order_matters(s, cfg, id, o)) {
      cut.orders[id] = o;
    }
  }
  BOOST_TEST(cut.orders.size() == 6u); // o1 owed manual aff1 aff2 clean3
  auto kept = auditor::audit(cut, cfg);
  auto lines = [](const auditor::report& r) {
    std::vector<std::string> out;
    for (const auto& v : r.violations) {
      out.push_back(v.rule + " " + v.subject + " " + v.detail
                    + (v.healed ? " healed" : ""));
    }
    for (const auto& h : r.heals) {
      out.push_back(h.to.kind + "/" + h.to.id + " " + h.type + " "
                    + h.body.dump());
    }
    return out;
  };
  BOOST_TEST(full.violations.size() >= 6u);
  BOOST_TEST(lines(kept) == lines(full), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(old_and_dead_outbox_messages_are_reported) {
  auto s = base(order::status::pending_payment);
  s.oldest_outbox_ms = cfg.outbox_age + 1;
  s.dead_letters = 2;
  auto r = auditor::audit(s, cfg);
  BOOST_TEST(find(r, "outbox_age"));
  BOOST_TEST(find(r, "dead_letters"));
  BOOST_TEST(r.heals.empty());
}

BOOST_AUTO_TEST_SUITE_END()
