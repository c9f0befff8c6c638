// Tests of split orders (DESIGN.md rule 9) against the pure state machines:
// a parent, its children, their SKUs, a coupon and the report shards
// exchanging messages as the runtime would deliver them.

#include <algorithm>
#include <deque>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/coupon.hpp"
#include "actors/inventory.hpp"
#include "actors/order.hpp"
#include "actors/reports.hpp"
#include "tests/actors/report_sums.hpp"

using namespace ordo::actors;
using nlohmann::json;

namespace ordo::actors::order {
std::ostream& operator<<(std::ostream& os, status st);
} // namespace ordo::actors::order

namespace {

constexpr millis t0 = 1'700'000'000'000;
using order::status;

/// Orders, SKUs, one coupon and the report shards, with the runtime's
/// delivery: every outbox message once (deduped by id), requests answered at
/// once, deferred replies tracked by tag.
struct split_world {
  order::config ocfg;
  inventory::config icfg;
  coupon::config ccfg;
  std::map<std::string, order::state> orders;
  std::map<std::string, inventory::state> skus;
  std::map<std::string, coupon::state> coupons;
  std::map<std::string, reports::state> shards;
  std::deque<envelope> in_flight;
  std::vector<envelope> to_provider;
  std::vector<envelope> to_dispatcher;
  std::set<std::string> consumed;
  /// Deferred tags resolved, per order ("o1:create", ...).
  std::multiset<std::string> resolved;
  millis now = t0;

  split_world() {
    put_sku("A", 10, 1000, item_kind::goods);
    put_sku("S", 5, 500, item_kind::service);
    auto& c = coupons["c1"];
    c.coupon_id = "c1";
    BOOST_REQUIRE(
      !coupon::handle(c, coupon::put{"u1", 300, 0}, {now, &ccfg}).err);
  }

  void put_sku(const std::string& id, std::int64_t stock, std::int64_t price,
               item_kind kind) {
    auto& inv = skus[id];
    inv.sku = id;
    sku_turn(inv, inventory::put{price, stock, kind});
  }

  outcome sku_turn(inventory::state& inv, const inventory::input& in) {
    auto o = inventory::handle(inv, in, {now, &icfg});
    BOOST_REQUIRE(inventory::conserved(inv));
    absorb(o);
    return o;
  }

  outcome order_turn(const std::string& id, const order::input& in) {
    auto& s = orders[id];
    s.order_id = id;
    auto o = order::handle(s, in, {now, &ocfg});
    for (const auto& r : o.resolves) {
      resolved.insert(id + ":" + r.tag);
    }
    for (const auto& req : o.requests) {
      outcome reply;
      if (req.to.kind == "coupon") {
        auto in2 = coupon::decode(req);
        BOOST_REQUIRE(in2.ok());
        reply
          = coupon::handle(coupons.at(req.to.id), in2.value(), {now, &ccfg});
        absorb(reply);
      } else {
        auto in2 = inventory::decode(req);
        BOOST_REQUIRE(in2.ok());
        reply = sku_turn(skus.at(req.to.id), in2.value());
      }
      auto back = order::decode(envelope{req.id + ".reply",
                                         {"order", id},
                                         req.type + ".reply",
                                         reply_body(req.to.id, reply)});
      BOOST_REQUIRE(back.ok());
      order_turn(id, back.value());
    }
    absorb(o);
    return o;
  }

  void absorb(const outcome& o) {
    for (const auto& e : o.outbox) {
      BOOST_REQUIRE(!e.id.empty());
      in_flight.push_back(e);
    }
    ordo::test::count(o, shards);
  }

  void deliver_one(const envelope& e) {
    if (!consumed.insert(e.id).second) {
      return;
    }
    if (e.to.kind == "order") {
      auto in = order::decode(e);
      BOOST_REQUIRE_MESSAGE(in.ok(), e.type << ": " << e.body.dump());
      order_turn(e.to.id, in.value());
    } else if (e.to.kind == "sku") {
      auto in = inventory::decode(e);
      BOOST_REQUIRE(in.ok());
      sku_turn(skus.at(e.to.id), in.value());
    } else if (e.to.kind == "coupon") {
      auto in = coupon::decode(e);
      BOOST_REQUIRE(in.ok());
      absorb(coupon::handle(coupons.at(e.to.id), in.value(), {now, &ccfg}));
    } else if (e.to.kind == "payment") {
      to_provider.push_back(e);
    } else if (e.to.kind == "dispatcher") {
      to_dispatcher.push_back(e);
    }
  }

  /// Delivers until nothing is in flight, each message twice (the second
  /// delivery must be a no-op); messages `drop` says true for are lost.
  template <class Drop>
  void deliver(Drop drop) {
    while (!in_flight.empty()) {
      auto e = in_flight.front();
      in_flight.pop_front();
      if (drop(e)) {
        continue;
      }
      deliver_one(e);
      deliver_one(e);
    }
  }
  void deliver() {
    deliver([](const envelope&) {
      return false;
    });
  }

  /// "o1": A x2 (goods) and S x1 (service) with coupon c1; 2500 - 300.
  void create_split(bool with_coupon = true) {
    order::create c;
    c.user_id = "u1";
    c.items = {{"A", 2}, {"S", 1}};
    c.fingerprint = "fp";
    c.token = 9;
    if (with_coupon) {
      c.coupon_id = "c1";
    }
    auto o = order_turn("o1", c);
    BOOST_REQUIRE(!o.err);
  }

  const order::state& parent() {
    return orders.at("o1");
  }
  const order::state& child(int n) {
    return orders.at("o1-" + std::to_string(n));
  }

  std::size_t provider(const std::string& type) const {
    return static_cast<std::size_t>(std::count_if(
      to_provider.begin(), to_provider.end(), [&](const envelope& e) {
        return e.type == type;
      }));
  }

  reports::totals totals() const {
    std::vector<reports::state> all;
    for (const auto& [id, s] : shards) {
      all.push_back(s);
    }
    return reports::merge(all, 10);
  }
};

/// A split order whose children exist and have reported.
split_world created() {
  split_world w;
  w.create_split();
  w.deliver();
  BOOST_REQUIRE(w.parent().st == status::pending_payment);
  return w;
}

} // namespace

BOOST_AUTO_TEST_SUITE(split_orders)

BOOST_AUTO_TEST_CASE(items_of_two_kinds_make_a_parent_with_a_child_per_kind) {
  split_world w;
  w.create_split();
  const auto& p = w.parent();
  BOOST_TEST(p.st == status::pending_payment);
  BOOST_REQUIRE_EQUAL(p.children.size(), 2u);
  BOOST_TEST(p.children[0].order_id == "o1-1");
  BOOST_TEST((p.children[0].kind == item_kind::goods));
  BOOST_TEST(p.children[1].order_id == "o1-2");
  BOOST_TEST((p.children[1].kind == item_kind::service));
  // The create waits for the children.
  BOOST_TEST(w.resolved.count("o1:create") == 0u);
  w.deliver();
  BOOST_TEST(w.resolved.count("o1:create") >= 1u);
  BOOST_TEST(w.child(1).st == status::pending_payment);
  BOOST_TEST(w.child(1).parent_id == "o1");
  BOOST_REQUIRE_EQUAL(w.child(1).items.size(), 1u);
  BOOST_TEST(w.child(1).items[0].sku == "A");
  BOOST_TEST(w.child(2).items[0].sku == "S");
  // The discount is shared in proportion; the shares add up.
  BOOST_TEST(w.parent().payable == 2200);
  BOOST_TEST(w.child(1).amount == 2000);
  BOOST_TEST(w.child(1).discount == 240);
  BOOST_TEST(w.child(2).discount == 60);
  BOOST_TEST(w.child(1).payable + w.child(2).payable == w.parent().payable);
  BOOST_TEST(w.parent().children[0].st == status::pending_payment);
  BOOST_TEST(w.parent().children[1].st == status::pending_payment);
  // Stock is held in the parent's name; the coupon by the parent.
  BOOST_TEST(w.skus["A"].reservations.count("o1") == 1u);
  BOOST_TEST(w.skus["S"].reservations.count("o1") == 1u);
  BOOST_TEST(w.coupons["c1"].order_id == "o1");
  // Reports count the order once, as the user placed it.
  BOOST_TEST(w.totals().placed.count == 1);
  BOOST_TEST(w.totals().placed.amount == 2200);
}

BOOST_AUTO_TEST_CASE(free_items_split_without_dividing_by_zero) {
  split_world w;
  w.put_sku("F", 5, 0, item_kind::goods);
  w.put_sku("FS", 5, 0, item_kind::service);
  order::create c;
  c.user_id = "u1";
  c.items = {{"F", 1}, {"FS", 1}};
  c.token = 4;
  c.coupon_id = "c1";
  w.order_turn("o3", c);
  w.deliver();
  BOOST_TEST(w.orders["o3"].st == status::pending_payment);
  BOOST_TEST(w.orders["o3"].payable == 0);
  BOOST_TEST(w.orders["o3-1"].payable == 0);
  BOOST_TEST(w.orders["o3-2"].payable == 0);
}

BOOST_AUTO_TEST_CASE(one_kind_is_not_split) {
  split_world w;
  order::create c;
  c.user_id = "u1";
  c.items = {{"A", 1}};
  c.token = 3;
  auto o = w.order_turn("o2", c);
  BOOST_TEST(w.orders["o2"].children.empty());
  BOOST_TEST(w.resolved.count("o2:create") == 1u);
}

BOOST_AUTO_TEST_CASE(paying_the_parent_pays_every_child) {
  auto w = created();
  auto o = w.order_turn("o1", order::pay{"t1", 2200, true});
  BOOST_TEST(o.result == "captured");
  w.deliver();
  BOOST_TEST(w.parent().st == status::paid);
  BOOST_TEST(w.child(1).st == status::paid);
  BOOST_TEST(w.child(2).st == status::paid);
  BOOST_TEST(w.child(1).payments.at(0).txn_id == "t1");
  BOOST_TEST(w.child(1).payments.at(0).amount == w.child(1).payable);
  BOOST_TEST(w.skus["A"].sold == 2);
  BOOST_TEST(w.skus["S"].sold == 1);
  BOOST_TEST(w.skus["A"].reserved == 0);
  BOOST_TEST((w.coupons["c1"].st == coupon::status::used));
  // Only the service child is dispatched.
  BOOST_REQUIRE_EQUAL(w.to_dispatcher.size(), 1u);
  BOOST_TEST(w.to_dispatcher[0].to.id == "o1-2");
  BOOST_TEST(w.parent().children[1].st == status::paid);
  BOOST_TEST(w.totals().paid.count == 1);
  BOOST_TEST(w.totals().paid.amount == 2200);
  BOOST_TEST(w.provider("refund") == 0u);
}

BOOST_AUTO_TEST_CASE(cancelling_the_parent_cancels_every_child) {
  auto w = created();
  auto o = w.order_turn("o1", order::cancel{});
  BOOST_TEST(o.defer_tag == "cancel");
  BOOST_TEST(o.event == "cancelling");
  BOOST_TEST(w.parent().saga.has_value());
  BOOST_TEST(w.resolved.count("o1:cancel") == 0u);
  w.deliver();
  BOOST_TEST(w.resolved.count("o1:cancel") == 1u);
  BOOST_TEST(w.parent().st == status::cancelled);
  BOOST_TEST(!w.parent().saga.has_value());
  BOOST_TEST(w.child(1).st == status::cancelled);
  BOOST_TEST(w.child(2).st == status::cancelled);
  BOOST_TEST(w.skus["A"].available == 10);
  BOOST_TEST(w.skus["S"].available == 5);
  BOOST_TEST(w.skus["A"].reservations.empty());
  BOOST_TEST((w.coupons["c1"].st == coupon::status::available));
  BOOST_TEST(w.provider("close") == 1u);
  BOOST_TEST(w.totals().cancelled.count == 1);
  BOOST_TEST(w.totals().flash.count == 1);
  // A second cancel changes nothing.
  auto again = w.order_turn("o1", order::cancel{});
  BOOST_TEST(!again.err);
  BOOST_TEST(again.event.empty());
}

BOOST_AUTO_TEST_CASE(a_child_paid_already_drives_the_parent_to_manual) {
  auto w = created();
  auto direct
    = w.order_turn("o1-2", order::pay{"t9", w.child(2).payable, true});
  BOOST_TEST(direct.result == "captured");
  w.deliver();
  BOOST_TEST(w.parent().children[1].st == status::paid);
  w.order_turn("o1", order::cancel{});
  w.deliver();
  BOOST_TEST(w.resolved.count("o1:cancel") == 1u);
  BOOST_TEST(w.parent().st == status::manual_intervention);
  BOOST_TEST(order::why_manual(w.parent()).find("o1-2 is PAID")
             != std::string::npos);
  // The goods child did cancel; nothing else was undone silently.
  BOOST_TEST(w.child(1).st == status::cancelled);
  BOOST_TEST(w.child(2).st == status::paid);
  BOOST_TEST(w.skus["A"].available == 10);
  BOOST_TEST(w.skus["S"].sold == 1);
  BOOST_TEST((w.coupons["c1"].st == coupon::status::locked));
  BOOST_TEST(w.totals().manual.count == 1);
  BOOST_TEST(w.totals().cancelled.count == 0);
  // The parent refuses another cancel and its payment is refunded.
  auto again = w.order_turn("o1", order::cancel{});
  BOOST_REQUIRE(again.err);
  BOOST_TEST((again.err->code == errc::invalid_transition));
  auto late = w.order_turn("o1", order::pay{"t1", 2200, true});
  BOOST_TEST(late.result == "refunded");
}

BOOST_AUTO_TEST_CASE(a_child_cannot_be_cancelled_on_its_own) {
  auto w = created();
  auto o = w.order_turn("o1-1", order::cancel{});
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::invalid_transition));
  BOOST_TEST(w.child(1).st == status::pending_payment);
  // Nor does it time out on its own: the parent's deadline does it.
  auto t = w.order_turn("o1-1", order::deadline{});
  BOOST_TEST(t.event.empty());
}

BOOST_AUTO_TEST_CASE(the_deadline_cancels_the_whole_split_order) {
  auto w = created();
  w.now = w.parent().pay_deadline + 1;
  auto o = w.order_turn("o1", order::deadline{});
  BOOST_TEST(o.event == "cancelling");
  w.deliver();
  BOOST_TEST(w.parent().st == status::cancelled);
  BOOST_TEST(w.parent().cancel_reason == "timeout");
  BOOST_TEST(w.child(1).cancel_reason == "timeout");
  BOOST_TEST(w.child(2).st == status::cancelled);
  BOOST_TEST(w.totals().flash.count == 0); // a timeout is no flash cancel
}

BOOST_AUTO_TEST_CASE(
  a_silent_child_times_the_saga_out_and_a_late_answer_ends_it) {
  auto w = created();
  w.order_turn("o1", order::cancel{});
  std::vector<envelope> held;
  w.deliver([&](const envelope& e) {
    if (e.type == "parent_cancel" && e.to.id == "o1-1") {
      held.push_back(e);
      return true;
    }
    return false;
  });
  BOOST_REQUIRE_EQUAL(held.size(), 1u);
  BOOST_TEST(w.parent().saga.has_value());
  BOOST_TEST(w.resolved.count("o1:cancel") == 0u);
  w.now += w.ocfg.saga_timeout;
  auto o = w.order_turn("o1", order::saga_timeout{});
  BOOST_TEST(o.event == "manual_intervention");
  BOOST_TEST(w.resolved.count("o1:cancel") == 1u);
  BOOST_TEST(order::why_manual(w.parent()).find("o1-1 did not answer")
             != std::string::npos);
  // The child comes back: the cancel completes after all.
  w.in_flight.push_back(held[0]);
  w.deliver();
  BOOST_TEST(w.child(1).st == status::cancelled);
  BOOST_TEST(w.parent().st == status::cancelled);
  BOOST_TEST(!w.parent().manual_reason);
  BOOST_TEST((w.coupons["c1"].st == coupon::status::available));
}

BOOST_AUTO_TEST_CASE(a_payment_during_the_cancel_is_refunded) {
  auto w = created();
  w.order_turn("o1", order::cancel{});
  auto o = w.order_turn("o1", order::pay{"t1", 2200, true});
  BOOST_TEST(o.result == "refunded");
  w.deliver();
  BOOST_TEST(w.parent().st == status::cancelled);
  BOOST_TEST(w.provider("refund") == 1u);
  BOOST_TEST(w.child(1).payments.empty());
}

BOOST_AUTO_TEST_CASE(a_child_paid_twice_refunds_its_share_of_the_parent) {
  auto w = created();
  auto share = w.child(2).payable;
  w.order_turn("o1-2", order::pay{"t9", share, true});
  w.order_turn("o1", order::pay{"t1", 2200, true});
  w.deliver();
  BOOST_TEST(w.parent().st == status::paid);
  BOOST_TEST(w.child(1).st == status::paid);
  BOOST_REQUIRE_EQUAL(w.provider("refund"), 1u);
  const auto& r = *std::find_if(w.to_provider.begin(), w.to_provider.end(),
                                [](const envelope& e) {
                                  return e.type == "refund";
                                });
  BOOST_TEST(r.body["txn_id"] == "t1");
  BOOST_TEST(r.body["amount"] == share);
  BOOST_TEST(r.body["refund_id"] == "rf-t1@o1-2");
}

BOOST_AUTO_TEST_CASE(a_paid_split_order_is_refunded_child_by_child) {
  auto w = created();
  w.order_turn("o1", order::pay{"t1", 2200, true});
  w.deliver();
  auto p = w.order_turn("o1", order::refund{});
  BOOST_REQUIRE(p.err);
  BOOST_TEST((p.err->code == errc::invalid_transition));
  auto c = w.order_turn("o1", order::complete{});
  BOOST_REQUIRE(c.err);
  auto r = w.order_turn("o1-1", order::refund{});
  BOOST_TEST(!r.err);
  w.deliver();
  BOOST_TEST(w.child(1).st == status::refunded);
  BOOST_TEST(w.parent().children[0].st == status::refunded);
  BOOST_TEST(w.skus["A"].available == 10); // restocked
  BOOST_REQUIRE_EQUAL(w.provider("refund"), 1u);
  BOOST_TEST(w.to_provider.back().body["amount"] == w.child(1).payable);
  BOOST_TEST(w.totals().refunded.count == 1);
  BOOST_TEST(w.totals().refunded.amount == w.child(1).payable);
}

BOOST_AUTO_TEST_CASE(a_saga_resumes_from_the_stored_state) {
  auto w = created();
  w.order_turn("o1", order::cancel{});
  // Crash: every actor comes back from its stored form; nothing is lost
  // from the outbox.
  for (auto& [id, s] : w.orders) {
    json j;
    order::to_json(j, s);
    order::state back;
    order::from_json(json::parse(j.dump()), back);
    s = back;
  }
  BOOST_TEST(w.parent().saga.has_value());
  w.deliver();
  BOOST_TEST(w.parent().st == status::cancelled);
  BOOST_TEST(w.child(1).st == status::cancelled);
  BOOST_TEST(w.child(2).st == status::cancelled);
}

BOOST_AUTO_TEST_CASE(a_shortfall_reaches_the_child_that_sold) {
  auto w = created();
  w.order_turn("o1", order::pay{"t1", 2200, true});
  auto o = w.order_turn("o1", order::shortfall{"S"});
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  BOOST_TEST(o.outbox[0].to.id == "o1-2");
  BOOST_TEST(!o.outbox[0].id.empty());
  w.deliver();
  BOOST_TEST(w.child(2).st == status::refunded);
  BOOST_TEST(w.child(1).st == status::paid);
}

BOOST_AUTO_TEST_CASE(saga_messages_decode_and_refuse_garbage) {
  auto bad = [](const std::string& type, json body) {
    auto r = order::decode(envelope{"m", {"order", "o1"}, type, body});
    return !r.ok() && r.err().code == errc::bad_request;
  };
  BOOST_TEST(bad("adopt", json{{"parent_id", "p"}}));
  BOOST_TEST(bad("adopt", json{{"parent_id", "p"},
                               {"user_id", "u"},
                               {"items", json::array({json{{"sku", "A"}}})},
                               {"amount", 1},
                               {"discount", 0},
                               {"payable", 1},
                               {"created_at", 1},
                               {"pay_deadline", 2},
                               {"token", 1}}));
  BOOST_TEST(bad("parent_paid", json{{"txn_id", "t"}, {"amount", -1}}));
  BOOST_TEST(bad("child_status",
                 json{{"order_id", "c"}, {"status", "NOPE"}, {"version", 1}}));
  BOOST_TEST(bad("timer", json{{"name", "nope"}}));
  auto ok = order::decode(
    envelope{"m", {"order", "o1"}, "timer", json{{"name", "saga"}}});
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(std::holds_alternative<order::saga_timeout>(ok.value()));
}

BOOST_AUTO_TEST_SUITE_END()
