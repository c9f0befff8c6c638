// Split orders (DESIGN.md rule 9) end to end through a real node (RocksDB
// in a temp dir, real actors, a manual clock): a parent and its children
// paid and cancelled together, a child that cannot cancel, a saga that
// times out, and a saga interrupted by a stop that finishes after restart.

#include <boost/test/unit_test.hpp>

#include <future>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/faults.hpp"
#include "tests/runtime/node_fixture.hpp"

namespace ordo::actors::order {
// Lets BOOST_TEST print statuses on failure.
inline std::ostream& operator<<(std::ostream& os, status st) {
  return os << to_string(st);
}
} // namespace ordo::actors::order
namespace ordo::actors::coupon {
inline std::ostream& operator<<(std::ostream& os, status st) {
  return os << to_string(st);
}
} // namespace ordo::actors::coupon

using namespace ordo;
using ordo::test::eventually;
using status = actors::order::status;
using cstatus = actors::coupon::status;

namespace {

/// SKUs G (goods) and S (service), coupon c1 of u1 (100 off), and a split
/// order of u1: G x2 at 1000, S x1 at 500; payable 2400.
struct saga_fixture : test::node_fixture {
  std::string parent;

  saga_fixture() {
    runtime::faults::global().clear_all();
    BOOST_REQUIRE(put_sku("G", 10, 1000, actors::item_kind::goods));
    BOOST_REQUIRE(put_sku("S", 5, 500, actors::item_kind::service));
    BOOST_REQUIRE(put_coupon("c1", "u1", 100, 0));
    actors::order::create cmd;
    cmd.user_id = "u1";
    cmd.items = {{"G", 2}, {"S", 1}};
    cmd.coupon_id = "c1";
    cmd.fingerprint = "split";
    auto r = create("k-split", cmd);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
    parent = r->order.order_id;
  }
  ~saga_fixture() {
    runtime::faults::global().clear_all();
  }

  std::string child(int n) const {
    return parent + "-" + std::to_string(n);
  }
  status st(const std::string& id) {
    auto o = order(id);
    BOOST_REQUIRE_MESSAGE(o, (o ? "" : o.err().message));
    return o->st;
  }
  void arm(const std::string& spec) {
    std::vector<runtime::fault_rule> rules;
    std::string why;
    BOOST_REQUIRE_MESSAGE(runtime::parse_fault_spec(spec, &rules, &why), why);
    for (const auto& r : rules) {
      BOOST_REQUIRE_MESSAGE(runtime::faults::global().arm(r, &why), why);
    }
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(split_saga, saga_fixture)

BOOST_AUTO_TEST_CASE(the_create_answers_once_every_child_exists) {
  auto p = order(parent);
  BOOST_REQUIRE(p);
  BOOST_REQUIRE_EQUAL(p->children.size(), 2u);
  BOOST_TEST(p->payable == 2400);
  // Right after the reply, without waiting: both children are stored.
  auto goods = order(child(1));
  auto service = order(child(2));
  BOOST_REQUIRE(goods);
  BOOST_REQUIRE(service);
  BOOST_TEST(goods->parent_id == parent);
  BOOST_TEST(goods->payable + service->payable == 2400);
  BOOST_TEST(p->children[0].st == status::pending_payment);
  BOOST_TEST(p->children[1].st == status::pending_payment);
  // A retry of the create is the same parent.
  actors::order::create again;
  again.user_id = "u1";
  again.items = {{"G", 2}, {"S", 1}};
  again.coupon_id = "c1";
  again.fingerprint = "split";
  auto r = create("k-split", again);
  BOOST_REQUIRE(r);
  BOOST_TEST(!r->created);
  BOOST_TEST(r->order.order_id == parent);
}

BOOST_AUTO_TEST_CASE(cancelling_the_parent_cancels_every_child) {
  // A child cannot be cancelled on its own.
  auto lone = cancel(child(1));
  BOOST_REQUIRE(!lone);
  BOOST_TEST((lone.err().code == actors::errc::invalid_transition));
  BOOST_TEST(st(child(1)) == status::pending_payment);
  auto c = cancel(parent);
  BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.err().message));
  // Answered when the saga is over, with the parent's final state.
  BOOST_TEST(c->st == status::cancelled);
  BOOST_TEST(st(child(1)) == status::cancelled);
  BOOST_TEST(st(child(2)) == status::cancelled);
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_TEST(sku("G")->available == 10);
  BOOST_TEST(sku("G")->reserved == 0);
  BOOST_TEST(sku("S")->available == 5);
  BOOST_TEST(coupon("c1")->st == cstatus::available);
  std::size_t closes = 0;
  for (const auto& call : test::sandbox_calls_of(*node)) {
    closes += call.kind == "close" && call.id == parent ? 1 : 0;
  }
  BOOST_TEST(closes == 1u);
}

BOOST_AUTO_TEST_CASE(paying_the_parent_pays_every_child) {
  auto p = pay(parent, "t1", 2400);
  BOOST_REQUIRE(p);
  BOOST_TEST(p->result == "captured");
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_TEST(st(child(1)) == status::paid);
  BOOST_TEST(st(child(2)) == status::paid);
  BOOST_TEST(sku("G")->sold == 2);
  BOOST_TEST(sku("S")->sold == 1);
  BOOST_TEST(coupon("c1")->st == cstatus::used);
  // Only the service child is dispatched; the parent is refunded per child.
  BOOST_TEST(dispatches(child(2))->exists);
  BOOST_TEST(!dispatches(child(1))->exists);
  BOOST_REQUIRE(!refund(parent));
  auto r = refund(child(1));
  BOOST_REQUIRE(r);
  BOOST_TEST(r->st == status::refunded);
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_TEST(sku("G")->available == 10);
  BOOST_TEST(order(parent)->children[0].st == status::refunded);
}

BOOST_AUTO_TEST_CASE(a_paid_child_drives_the_parent_to_manual_intervention) {
  auto share = order(child(2))->payable;
  auto direct = pay(child(2), "t-child", share);
  BOOST_REQUIRE(direct);
  BOOST_TEST(direct->result == "captured");
  auto c = cancel(parent);
  BOOST_REQUIRE(c);
  BOOST_TEST(c->st == status::manual_intervention);
  BOOST_TEST(actors::order::why_manual(c.value()).find(child(2) + " is PAID")
             != std::string::npos);
  BOOST_TEST(st(child(1)) == status::cancelled);
  BOOST_TEST(st(child(2)) == status::paid);
  BOOST_REQUIRE(node->quiesce(10'000));
  // Nothing was undone silently: the coupon stays with the parent, the
  // auditor reports the order, the operator decides.
  BOOST_TEST(coupon("c1")->st == cstatus::locked);
  BOOST_TEST(sku("G")->available == 10);
  BOOST_TEST(sku("S")->sold == 1);
  auto run = test::await<runtime::audit_run>([&](auto cb) {
    node->audit(cb);
  });
  BOOST_REQUIRE(run);
  const auto* a = &run->report;
  BOOST_TEST(!a->ok());
  bool reported = false;
  for (const auto& v : a->violations) {
    reported
      = reported
        || (v.rule == "manual_intervention" && v.subject == "order/" + parent);
    BOOST_TEST(v.rule == "manual_intervention");
  }
  BOOST_TEST(reported);
  // And a cancel again is refused with the reason.
  auto again = cancel(parent);
  BOOST_REQUIRE(!again);
  BOOST_TEST((again.err().code == actors::errc::invalid_transition));
}

BOOST_AUTO_TEST_CASE(the_deadline_cancels_the_whole_split_order) {
  time->advance(opts.payment_timeout + 1);
  BOOST_REQUIRE(eventually([&] {
    return st(parent) == status::cancelled;
  }));
  BOOST_TEST(order(parent)->cancel_reason == "timeout");
  BOOST_TEST(st(child(1)) == status::cancelled);
  BOOST_TEST(st(child(2)) == status::cancelled);
}

BOOST_AUTO_TEST_CASE(a_silent_child_times_the_saga_out_then_the_cancel_ends) {
  // Every delivery fails (retried later): the children hear nothing.
  arm("relay.deliver=error");
  std::promise<actors::result<actors::order::state>> answered;
  node->cancel_order(parent, {}, [&](actors::result<actors::order::state> r) {
    answered.set_value(std::move(r));
  });
  BOOST_REQUIRE(eventually([&] {
    return order(parent)->saga.has_value();
  }));
  time->advance(opts.saga_timeout + 1);
  auto r = answered.get_future().get();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->st == status::manual_intervention);
  BOOST_TEST(actors::order::why_manual(r.value()).find("did not answer")
             != std::string::npos);
  // The children come back: the cancel completes after all.
  runtime::faults::global().clear_all(); // the relay retries on its own
  BOOST_REQUIRE(eventually([&] {
    return st(parent) == status::cancelled;
  }));
  BOOST_TEST(st(child(1)) == status::cancelled);
  BOOST_TEST(st(child(2)) == status::cancelled);
  BOOST_TEST(!order(parent)->manual_reason);
}

BOOST_AUTO_TEST_CASE(a_saga_stopped_midway_finishes_after_restart) {
  arm("relay.deliver=error");
  node->cancel_order(parent, {}, [](actors::result<actors::order::state>) {});
  BOOST_REQUIRE(eventually([&] {
    return order(parent)->saga.has_value();
  }));
  BOOST_TEST(st(child(1)) == status::pending_payment);
  node->stop();
  runtime::faults::global().clear_all();
  restart();
  BOOST_REQUIRE(eventually([&] {
    return st(parent) == status::cancelled;
  }));
  BOOST_TEST(st(child(1)) == status::cancelled);
  BOOST_TEST(st(child(2)) == status::cancelled);
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_TEST(sku("G")->available == 10);
  BOOST_TEST(coupon("c1")->st == cstatus::available);
}

BOOST_AUTO_TEST_SUITE_END()
