// Storage faults seen from a node: a failed batch is never built
// upon. Real RocksDB in a temp dir, real actors; the one commit to fail is
// chosen by a storage hook the test holds, so the window between a failed
// batch and the next turn's batch is hit every time, not by chance.

#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "actors/inventory.hpp"
#include "runtime/faults.hpp"
#include "tests/runtime/held_point.hpp"
#include "tests/runtime/node_fixture.hpp"

using namespace ordo;
using ordo::test::await;
using ordo::test::eventually;

namespace {

/// A node whose store runs `hook` at its fault points.
struct held_node : test::node_fixture {
  std::shared_ptr<test::held_point> hook = std::make_shared<test::held_point>(
    "store.before_commit", test::held_point::mode::hold_next_and_fail);

  held_node() {
    test::hold_with(opts, hook);
    restart();
  }
  ~held_node() {
    hook->release(); // never leave the commit thread waiting
  }

  /// Delivers a message to the SKU `sku` as a peer node would.
  std::future<runtime::turn_reply> to_sku(const std::string& sku,
                                          const std::string& msg_id,
                                          const std::string& type,
                                          nlohmann::json body) {
    auto p = std::make_shared<std::promise<runtime::turn_reply>>();
    auto f = p->get_future();
    node->receive({msg_id, {"sku", sku}, type, std::move(body)}, msg_id,
                  [p](runtime::turn_reply r) {
                    p->set_value(std::move(r));
                  });
    return f;
  }

  /// The SKU as stored (entries included), read back into its state.
  actors::inventory::state stored_sku(const std::string& sku) {
    auto v = await<runtime::actor_view>([&](auto cb) {
      node->inspect("sku", sku, cb);
    });
    BOOST_REQUIRE(v);
    actors::inventory::state s;
    from_json(v->state, s);
    return s;
  }
};

runtime::turn_reply get(std::future<runtime::turn_reply>& f) {
  BOOST_REQUIRE(f.wait_for(std::chrono::seconds{30})
                == std::future_status::ready);
  return f.get();
}

nlohmann::json reserve(const std::string& order_id, std::int64_t quantity) {
  return {{"order_id", order_id}, {"token", 1}, {"quantity", quantity}};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(storage_faults, held_node)

// Turn N (reserve 3 for o1) fails in its own group commit while turn N+1
// (reserve 4 for o2), computed on N's in-memory state, waits in the queue.
// N+1 must not be written: it would store "reserved 7" with only o2's entry.
BOOST_AUTO_TEST_CASE(a_turn_computed_on_a_failed_batch_is_not_written) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto failed_before = node->stats().batches_failed;

  hook->arm();
  auto first = to_sku("A", "test/r1", "reserve", reserve("o1", 3));
  BOOST_REQUIRE(hook->wait_entered()); // N's group is held, and alone
  auto second = to_sku("A", "test/r2", "reserve", reserve("o2", 4));
  // N+1 is computed on N's state and queued behind the held group.
  BOOST_REQUIRE(eventually([&] {
    return node->stats().commit_queue >= 1;
  }));
  hook->release();

  auto r1 = get(first);
  auto r2 = get(second);
  BOOST_REQUIRE(r1.err);
  BOOST_CHECK(r1.err->code == actors::errc::unavailable);
  BOOST_REQUIRE_MESSAGE(r2.err, "the turn built on the failed one succeeded");
  BOOST_CHECK(r2.err->code == actors::errc::unavailable);
  BOOST_CHECK_GE(node->stats().batches_failed - failed_before, 2u);

  auto s = stored_sku("A");
  BOOST_CHECK(actors::inventory::conserved(s));
  BOOST_CHECK_EQUAL(s.reserved, 0);
  BOOST_CHECK(s.reservations.empty());

  // The host reloaded: a retry of N+1 is applied (not taken for a repeat),
  // on the stored state, not on the failed turn's.
  auto again = to_sku("A", "test/r2", "reserve", reserve("o2", 4));
  auto r3 = get(again);
  BOOST_REQUIRE_MESSAGE(!r3.err, r3.err->message);
  BOOST_CHECK_NE(r3.result, "duplicate");
  BOOST_CHECK(eventually([&] {
    return node->stats().actors_recovered >= 1;
  }));
  s = stored_sku("A");
  BOOST_CHECK(actors::inventory::conserved(s));
  BOOST_CHECK_EQUAL(s.reserved, 4);
  BOOST_CHECK_EQUAL(s.available, 6);
  BOOST_CHECK_EQUAL(s.reservations.count("o1"), 0u);
  BOOST_CHECK_EQUAL(s.reservations.count("o2"), 1u);

  // And the memory agrees with storage after a restart.
  auto live = sku("A");
  restart();
  auto after = sku("A");
  BOOST_REQUIRE(live && after);
  BOOST_CHECK_EQUAL(live->reserved, after->reserved);
  BOOST_CHECK_EQUAL(live->available, after->available);
}

// A repeat that arrives while its first delivery is in flight is answered
// "duplicate" only if that delivery was written: here it fails.
BOOST_AUTO_TEST_CASE(a_repeat_of_a_failed_delivery_is_not_called_a_duplicate) {
  BOOST_REQUIRE(put_sku("A", 10));
  hook->arm();
  auto first = to_sku("A", "test/r1", "reserve", reserve("o1", 3));
  BOOST_REQUIRE(hook->wait_entered());
  auto repeat = to_sku("A", "test/r1", "reserve", reserve("o1", 3));
  BOOST_REQUIRE(eventually([&] {
    return node->stats().commit_queue >= 1;
  }));
  hook->release();
  auto r1 = get(first);
  auto r2 = get(repeat);
  BOOST_REQUIRE(r1.err);
  BOOST_REQUIRE_MESSAGE(r2.err, "a repeat of a write that failed was "
                                "answered "
                                  + r2.result);
  BOOST_CHECK(r2.err->code == actors::errc::unavailable);
  auto third = to_sku("A", "test/r1", "reserve", reserve("o1", 3));
  auto r3 = get(third);
  BOOST_REQUIRE(!r3.err);
  BOOST_CHECK_NE(r3.result, "duplicate");
  BOOST_CHECK_EQUAL(stored_sku("A").reserved, 3);
}

BOOST_AUTO_TEST_SUITE_END()

// A create whose own turn fails while it is in progress (its reservation
// failed, then the turn that gives it back failed too) leaves nothing of
// that create in memory: the client's retry starts afresh. Before, the
// reload kept the transient create (nothing of the order was stored), and
// the retry joined it and waited for answers that never came.
BOOST_FIXTURE_TEST_CASE(a_create_retried_after_its_turns_failed_starts_afresh,
                        test::node_fixture) {
  BOOST_REQUIRE(put_sku("A", 10));
  runtime::faults::global().clear_all();
  runtime::fault_rule fail_two;
  fail_two.point = "store.before_commit";
  fail_two.action = runtime::fault_action::error;
  fail_two.count = 2; // the SKU's reservation, then the order's release
  std::string why;
  BOOST_REQUIRE_MESSAGE(runtime::faults::global().arm(fail_two, &why), why);
  auto first = create("u1", "k1", {{"A", 2}});
  BOOST_REQUIRE(!first);
  BOOST_CHECK(first.err().code == actors::errc::unavailable);
  // Both commits failed: the window was hit.
  BOOST_REQUIRE(runtime::faults::global().list().empty());
  // The failed batch's callers are answered from the commit thread; the
  // host reloads when it is nudged, a moment later.
  BOOST_CHECK(eventually([&] {
    return node->stats().actors_recovered >= 1;
  }));

  auto again = create("u1", "k1", {{"A", 2}});
  BOOST_REQUIRE_MESSAGE(again, (again ? "" : again.err().message));
  BOOST_CHECK(again->created);
  BOOST_REQUIRE(node->quiesce(10'000));
  auto s = sku("A");
  BOOST_CHECK_EQUAL(s->reserved, 2);
  BOOST_CHECK_EQUAL(s->available, 8);
  runtime::faults::global().clear_all();
}

// --- the durable gate --------------------------------------------------------
// Turns are written without an fsync and reach the other actors of the node
// at once; whatever leaves the process waits for the fsync that covers its
// cause (docs/durability.md). A hook holds the syncer at store.before_sync,
// so the window between "written" and "durable" stays open as long as the
// test needs it.

namespace {

struct held_sync_node : test::node_fixture {
  std::shared_ptr<test::held_point> hook = std::make_shared<test::held_point>(
    "store.before_sync", test::held_point::mode::hold_while_armed);

  held_sync_node() {
    opts.sync = true;
    test::hold_with(opts, hook);
    restart();
  }
  ~held_sync_node() {
    hook->release(); // never leave the syncer waiting
  }

  /// Waits until `n` more batches than `base` were written: the turns a
  /// request causes inside the node ran while the syncer is held.
  void written(std::uint64_t base, std::uint64_t n) {
    BOOST_REQUIRE_MESSAGE(eventually([&] {
                            return node->stats().batches >= base + n;
                          }),
                          "the turns inside the node did not run while the "
                          "fsync was held");
  }
};

template <class T>
bool ready(std::future<T>& f) {
  return f.wait_for(std::chrono::seconds{0}) == std::future_status::ready;
}

template <class T>
std::pair<std::future<actors::result<T>>, runtime::callback<T>> pending() {
  auto p = std::make_shared<std::promise<actors::result<T>>>();
  auto f = p->get_future();
  return {std::move(f), [p](actors::result<T> r) {
            p->set_value(std::move(r));
          }};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(durable_gate, held_sync_node)

// A create's reserve and its order (which keeps its admin SMS) both run
// with the fsync held; its answer waits for the fsync.
BOOST_AUTO_TEST_CASE(an_answer_waits_for_the_fsync_of_its_turns) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto base = node->stats().batches;
  auto syncs = node->stats().wal_syncs;
  hook->arm();
  auto [answer, cb] = pending<runtime::created_order>();
  actors::order::create cmd;
  cmd.user_id = "u1";
  cmd.items = {{"A", 2}};
  cmd.fingerprint = "fp";
  cmd.token = 7;
  node->create_order("k1", cmd, cb);
  BOOST_REQUIRE(hook->wait_entered());
  // reserve, order (counting itself in the report and arming its SMS's
  // cooling timer): the order's turn has answered its caller inside the
  // node.
  written(base, 2);
  BOOST_CHECK_MESSAGE(!ready(answer), "a create was answered before the "
                                      "fsync of its order");
  hook->release();
  BOOST_REQUIRE(answer.wait_for(std::chrono::seconds{30})
                == std::future_status::ready);
  auto r = answer.get();
  BOOST_REQUIRE(r);
  BOOST_CHECK(r->created);
  BOOST_CHECK_GT(node->stats().wal_syncs, syncs);
}

// A flash cancel's call to the payment provider (an effect outside the
// process) waits for the fsync of the cancel, while the SKU's release
// (inside it) does not.
BOOST_AUTO_TEST_CASE(a_provider_call_waits_for_the_fsync_of_its_cause) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto created = create("u1", "k1", {{"A", 2}});
  BOOST_REQUIRE(created);
  auto id = created->order.order_id;
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_REQUIRE(test::sandbox_calls_of(*node).empty());
  auto base = node->stats().batches;
  hook->arm();
  auto [answer, cb] = pending<actors::order::state>();
  node->cancel_order(id, {"user"}, cb);
  BOOST_REQUIRE(hook->wait_entered());
  // cancel (counted in the report and suppressing the SMS in its own
  // batch), the SKU's release.
  written(base, 2);
  BOOST_CHECK_MESSAGE(test::sandbox_calls_of(*node).empty(),
                      "the provider was called before the cancel was durable");
  BOOST_CHECK(!ready(answer));
  hook->release();
  BOOST_REQUIRE(answer.wait_for(std::chrono::seconds{30})
                == std::future_status::ready);
  BOOST_REQUIRE(answer.get());
  BOOST_REQUIRE(eventually([&] {
    return !test::sandbox_calls_of(*node).empty();
  }));
  auto calls = test::sandbox_calls_of(*node);
  BOOST_CHECK_EQUAL(calls.front().kind, "close");
  BOOST_CHECK_EQUAL(calls.front().order_id, id);
  auto s = sku("A");
  BOOST_REQUIRE(s);
  BOOST_CHECK_EQUAL(s->available, 10);
}

// The admin SMS an order decides when its cooling period ends goes to
// the SMS gateway only once the turn that decided it is fsynced: the relay
// has already handed it to the gateway's sink while the sync is held.
BOOST_AUTO_TEST_CASE(an_sms_waits_for_the_fsync_of_the_turn_that_sent_it) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto created = create("u1", "k1", {{"A", 1}});
  BOOST_REQUIRE(created);
  // Paid, so its payment deadline does not cancel it (and suppress the SMS)
  // when the clock jumps past the cooling period.
  BOOST_REQUIRE(pay(created->order.order_id, "t1", created->order.payable));
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_REQUIRE(test::sms_log_of(*node).empty());
  auto base = node->stats();
  hook->arm();
  time->advance(opts.notify_delay);
  // The order's timer turn wrote its decision, and the relay started
  // delivering the SMS: the window is open.
  written(base.batches, 1);
  BOOST_REQUIRE(eventually([&] {
    return node->stats().outbox_attempts > base.outbox_attempts;
  }));
  BOOST_REQUIRE(hook->wait_entered());
  BOOST_CHECK_MESSAGE(test::sms_log_of(*node).empty(),
                      "an SMS went out before the fsync of its turn");
  hook->release();
  BOOST_REQUIRE(eventually([&] {
    return test::sms_log_of(*node).size() == 1u;
  }));
  BOOST_CHECK_EQUAL(test::sms_log_of(*node).front().template_name, "new_order");
  BOOST_CHECK_EQUAL(test::sms_log_of(*node).front().order_id,
                    created->order.order_id);
}

BOOST_AUTO_TEST_SUITE_END()
