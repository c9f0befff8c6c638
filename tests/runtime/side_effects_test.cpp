// What an order causes outside itself, end to end through a real node
// (RocksDB in a temp dir, real actors, a manual clock): coupons (rule 6),
// commissions (rule 7), the delayed admin SMS and O2O dispatch (rule 8).

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "tests/runtime/node_fixture.hpp"

using namespace ordo;
using ordo::test::eventually;
using status = actors::order::status;
using cstatus = actors::coupon::status;
using nstatus = actors::notifier::status;
using dstatus = actors::dispatcher::status;

namespace {

constexpr actors::millis second = 1000;

/// A node with side effects configured and a payment timeout long enough
/// for every cooling period to end first.
struct effects_fixture : test::node_fixture {
  effects_fixture() {
    node->stop();
    node.reset();
    opts.payment_timeout = 600 * second;
    opts.reservation_ttl = 600 * second;
    opts.notify_delay = 180 * second;
    opts.notify_ttl = 300 * second;
    opts.dispatch_delay = 90 * second;
    opts.technicians = {"ann", "bob"};
    start();
  }

  actors::result<runtime::created_order>
  create_with(const std::string& user, const std::string& key,
              std::vector<actors::order::requested_item> items,
              const std::string& coupon_id,
              const std::string& affiliate_id = "") {
    actors::order::create cmd;
    cmd.user_id = user;
    cmd.items = std::move(items);
    cmd.coupon_id = coupon_id;
    cmd.affiliate_id = affiliate_id;
    cmd.fingerprint = key;
    return create(key, std::move(cmd));
  }

  /// SMS the built-in log sink sent for `order_id`.
  std::vector<runtime::sent_sms> sms_of(const std::string& order_id) {
    std::vector<runtime::sent_sms> out;
    for (auto& m : test::sms_log_of(*node)) {
      if (m.order_id == order_id) {
        out.push_back(m);
      }
    }
    return out;
  }

  /// The status of the order's new_order notification, or none.
  std::optional<nstatus> new_order_status(const std::string& order_id) {
    auto n = notifications(order_id);
    if (!n || !n->new_order) {
      return std::nullopt;
    }
    return n->new_order->st;
  }
};

bool refused_with(const actors::result<runtime::created_order>& r,
                  actors::errc code) {
  return !r && r.err().code == code;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(side_effects, effects_fixture)

BOOST_AUTO_TEST_CASE(coupon_is_locked_returned_reused_and_consumed_once) {
  BOOST_REQUIRE(put_sku("A", 10, 1000));
  BOOST_REQUIRE(put_sku("B", 10, 500));
  BOOST_REQUIRE(put_coupon("c1", "u1", 500, 1000));
  auto o1 = create_with("u1", "k1", {{"A", 2}}, "c1", "aff1");
  BOOST_REQUIRE_MESSAGE(o1, (o1 ? "" : o1.err().message));
  BOOST_CHECK_EQUAL(o1->order.discount, 500);
  BOOST_CHECK_EQUAL(o1->order.payable, 1500);
  auto c = coupon("c1");
  BOOST_CHECK(c->st == cstatus::locked);
  BOOST_CHECK_EQUAL(c->order_id, o1->order.order_id);

  // Reuse while locked, a foreign coupon, an order below the minimum: each
  // refused, and no stock stays reserved for them.
  BOOST_CHECK(refused_with(create_with("u1", "k2", {{"A", 1}}, "c1"),
                           actors::errc::coupon_unavailable));
  BOOST_CHECK(refused_with(create_with("u2", "k3", {{"A", 1}}, "c1"),
                           actors::errc::coupon_unavailable));
  BOOST_CHECK(refused_with(create_with("u1", "k4", {{"A", 1}}, "nope"),
                           actors::errc::coupon_unavailable));
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK_EQUAL(sku("A")->reserved, 2);
  BOOST_CHECK_EQUAL(coupon("c1")->order_id, o1->order.order_id);

  // Cancel returns it; the commission is void.
  BOOST_REQUIRE(cancel(o1->order.order_id));
  BOOST_REQUIRE(node->quiesce(10'000));
  c = coupon("c1");
  BOOST_CHECK(c->st == cstatus::available);
  BOOST_CHECK(c->order_id.empty());
  auto aff = commissions("aff1");
  BOOST_REQUIRE(aff);
  BOOST_CHECK_EQUAL(aff->sums.invalid, 75);
  BOOST_CHECK_EQUAL(aff->sums.pending + aff->sums.settled, 0);

  // Below the minimum now that it is free: refused, coupon and stock back.
  BOOST_CHECK(refused_with(create_with("u1", "k5", {{"B", 1}}, "c1"),
                           actors::errc::coupon_unavailable));
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK(coupon("c1")->st == cstatus::available);
  BOOST_CHECK_EQUAL(sku("B")->reserved, 0);

  // Returned, then reused by the next order, consumed by its payment.
  auto o3 = create_with("u1", "k6", {{"A", 1}}, "c1", "aff1");
  BOOST_REQUIRE(o3);
  BOOST_CHECK_EQUAL(o3->order.payable, 500);
  auto p = pay(o3->order.order_id, "t3", 500);
  BOOST_REQUIRE(p);
  BOOST_CHECK_EQUAL(p->result, "captured");
  BOOST_REQUIRE(complete(o3->order.order_id));
  BOOST_REQUIRE(node->quiesce(10'000));
  c = coupon("c1");
  BOOST_CHECK(c->st == cstatus::used);
  BOOST_CHECK_EQUAL(c->order_id, o3->order.order_id);
  aff = commissions("aff1");
  BOOST_CHECK_EQUAL(aff->sums.settled, 25);
  BOOST_CHECK_EQUAL(aff->sums.invalid, 75);
  BOOST_CHECK_EQUAL(aff->entries.size(), 2u);

  // A used coupon backs nothing else, before or after a restart.
  restart();
  BOOST_CHECK(refused_with(create_with("u1", "k7", {{"A", 1}}, "c1"),
                           actors::errc::coupon_unavailable));
  BOOST_CHECK(coupon("c1")->st == cstatus::used);
}

BOOST_AUTO_TEST_CASE(flash_cancels_send_no_sms_and_live_orders_one) {
  BOOST_REQUIRE(put_sku("A", 100, 1000));
  auto live = create("u1", "k1", {{"A", 1}});
  auto flash1 = create("u2", "k1", {{"A", 1}});
  auto flash2 = create("u3", "k1", {{"A", 1}});
  BOOST_REQUIRE(live && flash1 && flash2);
  time->advance(2 * second);
  BOOST_REQUIRE(cancel(flash1->order.order_id));
  BOOST_REQUIRE(cancel(flash2->order.order_id));
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK(new_order_status(flash1->order.order_id) == nstatus::suppressed);
  BOOST_CHECK(new_order_status(live->order.order_id) == nstatus::pending);

  time->advance(opts.notify_delay);
  BOOST_REQUIRE(eventually([&] {
    return new_order_status(live->order.order_id) == nstatus::sent;
  }));
  BOOST_REQUIRE(node->quiesce(10'000));
  auto sent = sms_of(live->order.order_id);
  BOOST_REQUIRE_EQUAL(sent.size(), 1u);
  BOOST_CHECK_EQUAL(sent[0].template_name, "new_order");
  BOOST_CHECK_EQUAL(sent[0].received, 1u);
  for (const auto* f : {&flash1, &flash2}) {
    const auto& id = (*f)->order.order_id;
    BOOST_CHECK(sms_of(id).empty());
    auto n = notifications(id);
    BOOST_REQUIRE(n);
    BOOST_CHECK(n->new_order->st == nstatus::suppressed);
    BOOST_CHECK(!n->cancel_notice); // nothing went out, nothing to retract
  }
  auto st = node->stats();
  BOOST_CHECK_EQUAL(st.sms_sent, 1u);
  BOOST_CHECK_EQUAL(st.sms_suppressed, 2u);

  // Cancelling the live order now sends the cancel notice, after new_order.
  BOOST_REQUIRE(cancel(live->order.order_id));
  BOOST_REQUIRE(eventually([&] {
    auto n = notifications(live->order.order_id);
    return n && n->cancel_notice && n->cancel_notice->st == nstatus::sent;
  }));
  BOOST_REQUIRE(node->quiesce(10'000));
  sent = sms_of(live->order.order_id);
  BOOST_REQUIRE_EQUAL(sent.size(), 2u);
  // Later time passing sends nothing more.
  time->advance(opts.notify_ttl);
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK_EQUAL(test::sms_log_of(*node).size(), 2u);
}

BOOST_AUTO_TEST_CASE(a_restart_inside_the_cooling_period_still_sends_once) {
  BOOST_REQUIRE(put_sku("A", 10, 1000));
  auto c = create("u1", "k1", {{"A", 1}});
  BOOST_REQUIRE(c);
  BOOST_REQUIRE(node->quiesce(10'000));
  restart();
  time->advance(opts.notify_delay);
  BOOST_REQUIRE(eventually([&] {
    return new_order_status(c->order.order_id) == nstatus::sent;
  }));
  BOOST_REQUIRE(node->quiesce(10'000));
  restart();
  time->advance(opts.notify_ttl);
  BOOST_REQUIRE(node->quiesce(10'000));
  auto sent = sms_of(c->order.order_id);
  BOOST_REQUIRE_EQUAL(sent.size(), 1u);
  BOOST_CHECK_EQUAL(sent[0].received, 1u);
}

BOOST_AUTO_TEST_CASE(service_orders_dispatch_after_the_cooling_period) {
  BOOST_REQUIRE(put_sku("S", 10, 5000, actors::item_kind::service));
  BOOST_REQUIRE(put_sku("G", 10, 100));
  auto kept = create("u1", "k1", {{"S", 1}});
  auto refunded = create("u2", "k1", {{"S", 1}});
  auto unpaid = create("u3", "k1", {{"S", 1}});
  auto goods = create("u4", "k1", {{"G", 1}});
  BOOST_REQUIRE(kept && refunded && unpaid && goods);
  for (const auto* o : {&kept, &refunded, &goods}) {
    auto p = pay((*o)->order.order_id, "t-" + (*o)->order.order_id,
                 (*o)->order.payable);
    BOOST_REQUIRE(p && p->result == "captured");
  }
  BOOST_REQUIRE(cancel(unpaid->order.order_id));
  time->advance(10 * second);
  // Refunded inside the cooling period: never dispatched.
  BOOST_REQUIRE(refund(refunded->order.order_id));
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK(dispatches(refunded->order.order_id)->st == dstatus::suppressed);

  time->advance(opts.dispatch_delay);
  BOOST_REQUIRE(eventually([&] {
    auto o = order(kept->order.order_id);
    return o && o->st == status::dispatched;
  }));
  BOOST_REQUIRE(node->quiesce(10'000));
  auto d = dispatches(kept->order.order_id);
  BOOST_REQUIRE(d);
  BOOST_CHECK(d->st == dstatus::assigned);
  BOOST_CHECK(d->technician == "ann" || d->technician == "bob");
  BOOST_CHECK_EQUAL(order(kept->order.order_id)->technician, d->technician);
  BOOST_CHECK(!dispatches(unpaid->order.order_id)->exists);
  BOOST_CHECK(!dispatches(goods->order.order_id)->exists);
  BOOST_CHECK(dispatches(refunded->order.order_id)->st == dstatus::suppressed);
  BOOST_CHECK_EQUAL(node->stats().dispatch_assigned, 1u);

  // A refund of the dispatched order recalls the technician, once.
  BOOST_REQUIRE(refund(kept->order.order_id));
  BOOST_REQUIRE(eventually([&] {
    return dispatches(kept->order.order_id)->st == dstatus::recalled;
  }));
  BOOST_REQUIRE(refund(kept->order.order_id)); // a repeat changes nothing
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK_EQUAL(node->stats().dispatch_recalled, 1u);
}

BOOST_AUTO_TEST_CASE(inspection_reads_of_unknown_ids) {
  auto n = notifications("o0000-0000000000000000");
  BOOST_REQUIRE(!n);
  BOOST_CHECK(n.err().code == actors::errc::not_found);
  BOOST_CHECK(!dispatches("o0000-0000000000000000"));
  auto c = coupon("nope");
  BOOST_REQUIRE(!c);
  BOOST_CHECK(c.err().code == actors::errc::not_found);
  auto a = commissions("nobody");
  BOOST_REQUIRE(a);
  BOOST_CHECK(a->entries.empty());
  BOOST_CHECK_EQUAL(node->stats().active_others, 0u); // nothing activated
}

BOOST_AUTO_TEST_SUITE_END()
