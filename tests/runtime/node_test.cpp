// The node end to end through its face: real RocksDB, real actors, a manual
// clock. The HTTP layer is tested separately (tests/integration).

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "runtime/detail/kinds.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "tests/runtime/node_fixture.hpp"

using namespace ordo;
using ordo::test::eventually;
using status = actors::order::status;
using pstatus = actors::order::payment_status;
using ordo::test::await;

namespace {

std::int64_t refunds_of(runtime::node& n, const std::string& order_id) {
  std::int64_t count = 0;
  for (auto& c : test::sandbox_calls_of(n)) {
    if (c.kind == "refund" && c.order_id == order_id) {
      ++count;
    }
  }
  return count;
}

/// Holds the storage commit thread at store.before_commit while closed, so
/// a test knows that a batch is not yet durable. Thread-safe.
struct commit_gate {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false; // guarded by mu
  int held = 0;        // commits held so far, guarded by mu

  static std::function<bool(const char*)>
  hook(const std::shared_ptr<commit_gate>& g) {
    return [g](const char* point) {
      if (std::string_view{point} == "store.before_commit") {
        std::unique_lock<std::mutex> lock{g->mu};
        if (g->closed) {
          ++g->held;
          g->cv.notify_all();
          g->cv.wait(lock, [&] {
            return !g->closed;
          });
        }
      }
      return false;
    };
  }
  void close() {
    std::lock_guard<std::mutex> guard{mu};
    closed = true;
    held = 0;
  }
  void open() {
    std::lock_guard<std::mutex> guard{mu};
    closed = false;
    cv.notify_all();
  }
  /// Waits until a commit is held; false after 30 s.
  bool wait_held() {
    std::unique_lock<std::mutex> lock{mu};
    return cv.wait_for(lock, std::chrono::seconds{30}, [&] {
      return held > 0;
    });
  }
  bool holding() {
    std::lock_guard<std::mutex> guard{mu};
    return closed && held > 0;
  }
};

void check_conserved(const actors::inventory::state& s) {
  BOOST_CHECK_EQUAL(s.available + s.reserved + s.sold, s.stocked);
  BOOST_CHECK_GE(s.available, 0);
  BOOST_CHECK_GE(s.reserved, 0);
  BOOST_CHECK_GE(s.sold, 0);
}

/// The rest of a cluster as a node sees it (runtime::remote): affiliate
/// "aff-<node>" lives on that node (a create naming it sends it "pending").
/// A peer answers `unavailable` ("node starting") until the test lets it up,
/// then acknowledges. Each delivery is recorded once it is answered (the
/// relay has decided the lane's next step by then). Thread-safe.
class two_peers : public runtime::remote {
public:
  using steady = std::chrono::steady_clock;
  struct attempt {
    steady::time_point at;
    bool ok = false;
  };

  std::optional<std::string>
  elsewhere(const actors::address& to) const override {
    if (to.kind != "affiliate" || to.id.rfind("aff-", 0) != 0) {
      return std::nullopt;
    }
    return to.id.substr(4);
  }

  void deliver(const std::string& node, const actors::envelope&,
               const std::string&, runtime::remote_done done) override {
    bool up = false;
    {
      std::lock_guard<std::mutex> guard{mu_};
      up = up_.count(node) > 0;
    }
    done(
      up ? runtime::turn_reply{std::nullopt, "ok", {}}
         : runtime::turn_reply{
           actors::error{actors::errc::unavailable, "node starting"}, "", {}});
    std::lock_guard<std::mutex> guard{mu_};
    attempts_[node].push_back({steady::now(), up});
    cv_.notify_all();
  }

  void let_up(const std::string& node) {
    std::lock_guard<std::mutex> guard{mu_};
    up_.insert(node);
  }

  /// Waits until `pred(attempts to node)` holds; false after 30 s.
  template <class Pred>
  bool wait(const std::string& node, Pred pred) {
    std::unique_lock<std::mutex> lock{mu_};
    return cv_.wait_for(lock, std::chrono::seconds{30}, [&] {
      return pred(attempts_[node]);
    });
  }

  std::vector<attempt> attempts(const std::string& node) const {
    std::lock_guard<std::mutex> guard{mu_};
    auto i = attempts_.find(node);
    return i == attempts_.end() ? std::vector<attempt>{} : i->second;
  }

private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::set<std::string> up_;
  std::map<std::string, std::vector<attempt>> attempts_;
};

/// A node whose affiliates live on the two peers above. The node stops
/// before the peers go away.
struct peers_fixture : test::node_fixture {
  two_peers peers;

  peers_fixture() {
    node->stop();
    node.reset();
    opts.cluster = &peers;
    opts.outbox_backoff_cap = 60'000;
    start();
  }
  ~peers_fixture() {
    node->stop();
    node.reset();
  }
};

/// The shortest backoff the relay waits after the `n`th failed delivery of
/// a message (100 ms doubling, drawn from [half, all] of it).
std::chrono::milliseconds least_backoff(std::size_t n) {
  return std::chrono::milliseconds{50 << (n - 1)};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(node, test::node_fixture)

BOOST_AUTO_TEST_CASE(create_reserves_stock_and_pay_sells_it) {
  BOOST_REQUIRE(put_sku("A", 10, 1999));
  auto c = create("u1", "k1", {{"A", 2}});
  BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.err().message));
  BOOST_CHECK(c->created);
  BOOST_CHECK(c->order.st == status::pending_payment);
  BOOST_CHECK_EQUAL(c->order.payable, 3998);
  auto s = sku("A");
  BOOST_CHECK_EQUAL(s->available, 8);
  BOOST_CHECK_EQUAL(s->reserved, 2);
  auto p = pay(c->order.order_id, "t1", 3998);
  BOOST_REQUIRE(p);
  BOOST_CHECK_EQUAL(p->result, "captured");
  BOOST_CHECK(p->order.st == status::paid);
  BOOST_REQUIRE(node->quiesce(10'000));
  s = sku("A");
  BOOST_CHECK_EQUAL(s->reserved, 0);
  BOOST_CHECK_EQUAL(s->sold, 2);
  check_conserved(s.value());
}

BOOST_AUTO_TEST_CASE(insufficient_stock_changes_nothing) {
  BOOST_REQUIRE(put_sku("A", 5));
  BOOST_REQUIRE(put_sku("B", 1));
  auto c = create("u1", "k1", {{"A", 2}, {"B", 3}});
  BOOST_REQUIRE(!c);
  BOOST_CHECK(c.err().code == actors::errc::insufficient_stock);
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK_EQUAL(sku("A")->available, 5);
  BOOST_CHECK_EQUAL(sku("B")->available, 1);
  auto unknown = create("u1", "k2", {{"nope", 1}});
  BOOST_REQUIRE(!unknown);
  BOOST_CHECK(unknown.err().code == actors::errc::not_found);
}

BOOST_AUTO_TEST_CASE(same_key_returns_same_order_other_body_is_refused) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto first = create("u1", "k1", {{"A", 1}}, "body-1");
  BOOST_REQUIRE(first);
  auto again = create("u1", "k1", {{"A", 1}}, "body-1");
  BOOST_REQUIRE(again);
  BOOST_CHECK(!again->created);
  BOOST_CHECK_EQUAL(again->order.order_id, first->order.order_id);
  auto other = create("u1", "k1", {{"A", 2}}, "body-2");
  BOOST_REQUIRE(!other);
  BOOST_CHECK(other.err().code == actors::errc::idempotency_key_reused);
  BOOST_CHECK_EQUAL(sku("A")->reserved, 1);
}

BOOST_AUTO_TEST_CASE(concurrent_creates_with_one_key_make_one_order) {
  BOOST_REQUIRE(put_sku("A", 100));
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  std::atomic<int> created{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto c = create("u1", "same-key", {{"A", 3}});
      BOOST_REQUIRE(c);
      if (c->created) {
        ++created;
      }
      std::lock_guard<std::mutex> guard{mu};
      ids.insert(c->order.order_id);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  BOOST_CHECK_EQUAL(ids.size(), 1u);
  BOOST_CHECK_EQUAL(created.load(), 1);
  auto s = sku("A");
  BOOST_CHECK_EQUAL(s->reserved, 3);
  BOOST_CHECK_EQUAL(s->available, 97);
}

BOOST_AUTO_TEST_CASE(cancel_then_pay_refunds_exactly_once) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 2}});
  BOOST_REQUIRE(c);
  auto id = c->order.order_id;
  auto x = cancel(id);
  BOOST_REQUIRE(x);
  BOOST_CHECK(x->st == status::cancelled);
  BOOST_CHECK_EQUAL(x->cancel_reason, "user");
  for (int i = 0; i < 3; ++i) {
    auto p = pay(id, "t1", c->order.payable);
    BOOST_REQUIRE(p);
    BOOST_CHECK_EQUAL(p->result, i == 0 ? "refunded" : "duplicate");
  }
  BOOST_REQUIRE(node->quiesce(10'000));
  auto o = order(id);
  BOOST_REQUIRE_EQUAL(o->payments.size(), 1u);
  BOOST_CHECK(o->payments[0].status == pstatus::refunded);
  BOOST_CHECK_EQUAL(refunds_of(*node, id), 1);
  auto s = sku("A");
  BOOST_CHECK_EQUAL(s->available, 10);
  check_conserved(s.value());
  BOOST_CHECK_EQUAL(node->stats().refund_anomalies, 1u);
}

// A message delivered again while its first turn is still committing is
// dropped: the in-flight dedupe keys cover the window before the dedupe
// family has the first one.
BOOST_AUTO_TEST_CASE(a_repeat_racing_the_first_commit_is_applied_once) {
  // The first copy's batch is held at the commit point while the repeats
  // arrive: they find its dedupe key in flight, not in the store.
  auto gate = std::make_shared<commit_gate>();
  opts.store_fault = commit_gate::hook(gate);
  restart();
  BOOST_REQUIRE(put_sku("A", 30));
  auto c = create("u1", "k1", {{"A", 20}});
  BOOST_REQUIRE(c);
  BOOST_REQUIRE(pay(c->order.order_id, "t1", c->order.payable));
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_REQUIRE_EQUAL(sku("A")->sold, 20);
  for (int round = 0; round < 20; ++round) {
    auto id = "test/restock#" + std::to_string(round);
    actors::envelope msg{id,
                         {"sku", "A"},
                         "restock",
                         {{"order_id", "o-elsewhere"}, {"quantity", 1}}};
    std::vector<std::future<runtime::turn_reply>> answers;
    auto send = [&] {
      auto p = std::make_shared<std::promise<runtime::turn_reply>>();
      answers.push_back(p->get_future());
      node->receive(msg, id, [p](runtime::turn_reply r) {
        p->set_value(std::move(r));
      });
    };
    gate->close();
    send();
    BOOST_REQUIRE(gate->wait_held()); // the first copy's batch, not durable
    send();
    send();
    // Both repeats have been taken by the SKU while the commit is held.
    BOOST_REQUIRE(eventually([&] {
      return node->stats().mailbox_depth == 0;
    }));
    BOOST_REQUIRE(gate->holding());
    for (auto& a : answers) {
      BOOST_REQUIRE(a.wait_for(std::chrono::milliseconds{0})
                    != std::future_status::ready); // nothing is durable yet
    }
    gate->open();
    int duplicates = 0;
    for (auto& a : answers) {
      BOOST_REQUIRE(a.wait_for(std::chrono::seconds{30})
                    == std::future_status::ready);
      auto r = a.get();
      BOOST_REQUIRE(!r.err);
      duplicates += r.result == "duplicate" ? 1 : 0;
    }
    BOOST_CHECK_EQUAL(duplicates, 2);
    BOOST_CHECK_EQUAL(sku("A")->sold, 19 - round);
  }
  auto s = sku("A");
  BOOST_CHECK_EQUAL(s->available, 30);
  check_conserved(s.value());
}

BOOST_AUTO_TEST_CASE(dedupe_ids_are_kept_for_the_retention_then_dropped) {
  opts.dedupe_retention = 10 * 60'000;
  restart();
  BOOST_REQUIRE(put_sku("A", 30));
  auto c = create("u1", "k1", {{"A", 20}});
  BOOST_REQUIRE(c);
  BOOST_REQUIRE(pay(c->order.order_id, "t1", c->order.payable));
  BOOST_REQUIRE(node->quiesce(10'000));
  const std::string id = "test/restock#1";
  actors::envelope msg{id,
                       {"sku", "A"},
                       "restock",
                       {{"order_id", "o-elsewhere"}, {"quantity", 1}}};
  auto deliver = [&] {
    return await<runtime::turn_reply>([&](auto cb) {
      node->receive(msg, id, [cb](runtime::turn_reply r) {
        cb(std::move(r));
      });
    });
  };
  auto first = deliver();
  BOOST_REQUIRE(first);
  BOOST_REQUIRE(!first->err);
  BOOST_REQUIRE_NE(first->result, "duplicate");
  BOOST_REQUIRE_EQUAL(sku("A")->sold, 19);
  BOOST_REQUIRE(node->quiesce(10'000));

  // Compacts the dedupe family on the stopped node's store, by its clock;
  // true if the id is still there afterwards.
  auto compact_and_look = [&] {
    node->stop();
    node.reset();
    storage::store_options so;
    so.path = opts.data_dir;
    so.dedupe_retention_ms = opts.dedupe_retention;
    so.now = [t = time] {
      return t->now();
    };
    std::string err;
    auto db = storage::store::open(so, &err);
    BOOST_REQUIRE_MESSAGE(db, err);
    auto st = db->compact(storage::cf::dedupe);
    BOOST_REQUIRE_MESSAGE(st.ok(), st.message());
    bool kept
      = db->get(storage::cf::dedupe, storage::keys::owned("sku", "A", id))
          .has_value();
    db->close();
    db.reset();
    start();
    return kept;
  };

  time->advance(9 * 60'000); // inside the window
  BOOST_REQUIRE(compact_and_look());
  auto repeat = deliver();
  BOOST_REQUIRE(repeat);
  BOOST_REQUIRE(!repeat->err);
  BOOST_TEST(repeat->result == "duplicate");
  BOOST_TEST(sku("A")->sold == 19);

  time->advance(60'000 + 1); // past it
  BOOST_TEST(!compact_and_look());
}

BOOST_AUTO_TEST_CASE(cancel_after_pay_is_refused) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 1}});
  BOOST_REQUIRE(pay(c->order.order_id, "t1", c->order.payable));
  auto x = cancel(c->order.order_id);
  BOOST_REQUIRE(!x);
  BOOST_CHECK(x.err().code == actors::errc::already_paid);
  BOOST_CHECK(order(c->order.order_id)->st == status::paid);
}

BOOST_AUTO_TEST_CASE(payment_deadline_cancels_and_releases) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 4}});
  BOOST_REQUIRE(c);
  auto id = c->order.order_id;
  time->advance(opts.payment_timeout + 1);
  BOOST_REQUIRE(eventually([&] {
    auto o = order(id);
    return o && o->st == status::cancelled;
  }));
  BOOST_CHECK_EQUAL(order(id)->cancel_reason, "timeout");
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK_EQUAL(sku("A")->available, 10);
  // The SKU's expiry timer stays until the reservation would have expired,
  // then finds nothing due and is not armed again.
  BOOST_CHECK_EQUAL(node->stats().timers_pending, 1u);
  time->advance(actors::order::config{}.reservation_margin);
  BOOST_CHECK(eventually([&] {
    return node->stats().timers_pending == 0u;
  }));
  BOOST_CHECK_EQUAL(sku("A")->available, 10);
}

BOOST_AUTO_TEST_CASE(restart_keeps_state_and_rearms_the_deadline) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 4}});
  BOOST_REQUIRE(c);
  auto paid = create("u2", "k1", {{"A", 1}});
  BOOST_REQUIRE(pay(paid->order.order_id, "t9", paid->order.payable));
  BOOST_REQUIRE(node->quiesce(10'000));
  restart();
  BOOST_CHECK(order(paid->order.order_id)->st == status::paid);
  // The SKU's reservation expiry, and each order's one timer (for the
  // end of its admin SMS's cooling period, before the pending one's
  // payment deadline).
  BOOST_CHECK_EQUAL(node->stats().timers_pending, 3u);
  time->advance(opts.payment_timeout + 1);
  BOOST_REQUIRE(eventually([&] {
    return order(c->order.order_id)->st == status::cancelled;
  }));
  BOOST_REQUIRE(node->quiesce(10'000));
  auto s = sku("A");
  BOOST_CHECK_EQUAL(s->available, 9);
  BOOST_CHECK_EQUAL(s->sold, 1);
  check_conserved(s.value());
}

BOOST_AUTO_TEST_CASE(idle_orders_leave_memory_and_come_back) {
  node->stop();
  node.reset();
  opts.passivate_after = 20;
  start();
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 1}});
  BOOST_REQUIRE(c);
  BOOST_REQUIRE(eventually([&] {
    return node->stats().active_orders == 0;
  }));
  BOOST_CHECK_GE(node->stats().passivations, 1u);
  auto p = pay(c->order.order_id, "t1", c->order.payable);
  BOOST_REQUIRE(p);
  BOOST_CHECK_EQUAL(p->result, "captured");
  BOOST_CHECK_EQUAL(p->order.version, c->order.version + 1);
}

// An order stored before orders kept their admin SMS has none in its
// snapshot and its deadline in a timer of its own; its notifier actor keeps
// the SMS and the SMS's timer. Cancelled, the order tells that actor, which
// suppresses the SMS, and GET /v1/notifications reads it there.
BOOST_AUTO_TEST_CASE(
  an_order_stored_before_it_kept_its_sms_tells_its_notifier) {
  namespace rd = runtime::detail;
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 1}});
  BOOST_REQUIRE(c);
  auto id = c->order.order_id;
  BOOST_REQUIRE(node->quiesce(10'000));
  tamper([&](storage::store& db) {
    actors::order::state o;
    rd::order_kind::init(o, id);
    rd::order_kind::restore(db, id, o);
    BOOST_REQUIRE(o.sms.has_value());
    auto sms = *actors::order::sms_of(o);
    o.sms.reset();
    auto timer = [&](const char* kind, const char* name, actors::millis due) {
      return std::make_pair(
        storage::keys::owned(kind, id, name),
        storage::keys::be64(static_cast<std::uint64_t>(due)));
    };
    storage::batch b;
    rd::order_kind::persist(o, {}, actors::order::status_query{}, b);
    rd::notifier_kind::persist(sms, {}, actors::notifier::check{}, b);
    b.del(storage::cf::timers, storage::keys::owned("order", id, "wake"));
    for (auto [key, due] : {timer("order", "deadline", o.pay_deadline),
                            timer("notifier", "new_order", sms.due)}) {
      b.put(storage::cf::timers, key, due);
    }
    BOOST_REQUIRE(db.commit_sync(std::move(b)).ok());
  });
  using nstatus = actors::notifier::status;
  auto before = notifications(id);
  BOOST_REQUIRE(before);
  BOOST_REQUIRE(before->new_order);
  BOOST_CHECK(before->new_order->st == nstatus::pending);
  BOOST_REQUIRE(cancel(id));
  BOOST_REQUIRE(eventually([&] {
    auto n = notifications(id);
    return n && n->new_order && n->new_order->st == nstatus::suppressed;
  }));
  BOOST_CHECK(!order(id)->sms); // still the notifier's
}

BOOST_AUTO_TEST_CASE(unknown_orders_are_not_found_and_not_activated) {
  auto x = cancel("o0000-0000000000000000");
  BOOST_REQUIRE(!x);
  BOOST_CHECK(x.err().code == actors::errc::not_found);
  auto p = pay("nope", "t1", 1);
  BOOST_REQUIRE(!p);
  BOOST_CHECK(p.err().code == actors::errc::not_found);
  BOOST_CHECK_EQUAL(node->stats().active_orders, 0u);
}

// Messages held for a peer that comes back go at once (the mesh
// calls peer_up when it sees the peer again, or when the peer says it now
// serves), not after the backoff its "node starting" answers built up; the
// messages for other peers keep theirs.
BOOST_FIXTURE_TEST_CASE(a_peer_seen_up_gets_its_held_messages_at_once,
                        peers_fixture) {
  using namespace std::chrono_literals;
  using attempts = std::vector<two_peers::attempt>;
  BOOST_REQUIRE(put_sku("A", 10));
  auto for_affiliate = [](const std::string& user, const std::string& aff) {
    actors::order::create cmd;
    cmd.user_id = user;
    cmd.items = {{"A", 1}};
    cmd.fingerprint = "fp";
    cmd.affiliate_id = aff;
    return cmd;
  };
  BOOST_REQUIRE(create("k1", for_affiliate("u1", "aff-n2"))); // pending -> n2
  BOOST_REQUIRE(peers.wait("n2", [](const attempts& a) {
    return !a.empty();
  }));
  BOOST_REQUIRE(create("k2", for_affiliate("u2", "aff-n3"))); // pending -> n3
  // Six failures: n2's next retry is 1.6 to 3.2 s away.
  constexpr std::size_t failures = 6;
  BOOST_REQUIRE(peers.wait("n2", [](const attempts& a) {
    return a.size() >= failures;
  }));
  auto held = node->outbox(false, 10);
  BOOST_REQUIRE_EQUAL(held.size(), 2u);
  for (const auto& m : held) {
    BOOST_TEST(m.last_error.find("node starting") != std::string::npos);
  }
  auto before = peers.attempts("n2");
  BOOST_REQUIRE_EQUAL(before.size(), failures); // in backoff, not retried
  peers.let_up("n2");
  node->peer_up("n2");
  BOOST_REQUIRE(peers.wait("n2", [](const attempts& a) {
    return !a.empty() && a.back().ok;
  }));
  auto after = peers.attempts("n2");
  BOOST_REQUIRE_EQUAL(after.size(), failures + 1);
  BOOST_TEST(
    (after.back().at - before.back().at < least_backoff(failures)),
    "delivered " << std::chrono::duration_cast<std::chrono::milliseconds>(
                      after.back().at - before.back().at)
                      .count()
                 << " ms after the last failure");

  // n3 was not asked for: it comes through at the end of a backoff only.
  peers.let_up("n3");
  BOOST_REQUIRE(peers.wait("n3", [](const attempts& a) {
    return !a.empty() && a.back().ok;
  }));
  auto n3 = peers.attempts("n3");
  for (std::size_t k = 1; k < n3.size(); ++k) {
    BOOST_TEST((n3[k].at - n3[k - 1].at >= least_backoff(k) - 50ms),
               "attempt " << k + 1 << " came early");
  }
  BOOST_REQUIRE(node->quiesce(10'000));
}

BOOST_AUTO_TEST_SUITE(inspection)

BOOST_AUTO_TEST_CASE(an_actor_shows_state_journal_timers_and_activity) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 2}});
  BOOST_REQUIRE(c);
  auto id = c->order.order_id;
  BOOST_REQUIRE(cancel(id));
  BOOST_REQUIRE(node->quiesce(10'000));
  auto v = await<runtime::actor_view>([&](auto cb) {
    node->inspect("order", id, cb);
  });
  BOOST_REQUIRE(v);
  BOOST_CHECK(v->exists);
  BOOST_CHECK(v->active);
  BOOST_CHECK_EQUAL(v->mailbox_size, 0);
  BOOST_CHECK_EQUAL(v->version, 2u);
  BOOST_CHECK_EQUAL(v->state["st"], "CANCELLED");
  BOOST_REQUIRE_EQUAL(v->journal.size(), 2u);
  BOOST_CHECK_EQUAL(v->journal[0].event, "created");
  BOOST_CHECK_EQUAL(v->journal[1].event, "cancelled");
  BOOST_CHECK_EQUAL(v->journal[1].cause, "cancel reason=user");
  BOOST_CHECK(v->timers.empty()); // the deadline was disarmed
  BOOST_CHECK(v->outbox.empty()); // releases and close acknowledged

  // The SKU's reservation history, and its entries in the state.
  auto s = await<runtime::actor_view>([&](auto cb) {
    node->inspect("sku", "A", cb);
  });
  BOOST_REQUIRE(s);
  BOOST_CHECK_EQUAL(s->journal.size(), 3u); // put, reserved, released
  BOOST_CHECK_EQUAL(s->state["avail"], 10);

  auto bad = await<runtime::actor_view>([&](auto cb) {
    node->inspect("gizmo", "x", cb);
  });
  BOOST_REQUIRE(!bad);
  BOOST_CHECK(bad.err().code == actors::errc::not_found);
  auto none = await<runtime::actor_view>([&](auto cb) {
    node->inspect("coupon", "nope", cb);
  });
  BOOST_REQUIRE(none);
  BOOST_CHECK(!none->exists);
  BOOST_CHECK(!none->active);
}

BOOST_AUTO_TEST_CASE(reading_a_passivated_actor_does_not_activate_it) {
  node->stop();
  node.reset();
  opts.passivate_after = 20;
  start();
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 1}});
  BOOST_REQUIRE(c);
  BOOST_REQUIRE(eventually([&] {
    return node->stats().active_orders == 0;
  }));
  auto activations = node->stats().activations;
  auto v = await<runtime::actor_view>([&](auto cb) {
    node->inspect("order", c->order.order_id, cb);
  });
  BOOST_REQUIRE(v);
  BOOST_CHECK(v->exists);
  BOOST_CHECK(!v->active);
  BOOST_CHECK_EQUAL(v->mailbox_size, -1);
  // Its one timer, for the first of its admin SMS's cooling period and
  // its payment deadline.
  BOOST_REQUIRE_EQUAL(v->timers.size(), 1u);
  BOOST_CHECK_EQUAL(v->timers[0].name, "wake");
  BOOST_CHECK_EQUAL(
    v->timers[0].due,
    std::min(c->order.pay_deadline, c->order.created_at + opts.notify_delay));
  BOOST_CHECK_EQUAL(node->stats().activations, activations);
  BOOST_CHECK_EQUAL(node->stats().active_orders, 0u);
}

BOOST_AUTO_TEST_CASE(the_journal_keeps_the_last_entries_only) {
  node->stop();
  node.reset();
  opts.journal_keep = 3;
  start();
  for (int stock = 1; stock <= 10; ++stock) {
    BOOST_REQUIRE(put_sku("A", stock));
  }
  auto v = await<runtime::actor_view>([&](auto cb) {
    node->inspect("sku", "A", cb);
  });
  BOOST_REQUIRE(v);
  BOOST_CHECK_EQUAL(v->version, 10u);
  BOOST_REQUIRE_EQUAL(v->journal.size(), 3u);
  BOOST_CHECK_EQUAL(v->journal[0].version, 8u);
  BOOST_CHECK_EQUAL(v->journal[2].version, 10u);
}

// The store trims a journal with one range delete every 32 transitions, so
// what it holds stays between journal_keep and journal_keep + 31 entries.
BOOST_AUTO_TEST_CASE(the_stored_journal_is_trimmed_in_steps) {
  node->stop();
  node.reset();
  opts.journal_keep = 3;
  start();
  auto stored = [&] {
    node->stop();
    node.reset();
    auto v = runtime::inspect_offline(opts.data_dir, "sku", "A");
    start();
    BOOST_REQUIRE(v);
    return v->journal;
  };
  for (int stock = 1; stock <= 63; ++stock) {
    BOOST_REQUIRE(put_sku("A", stock));
  }
  auto before = stored(); // version 63: trimmed at 32, up to 29
  BOOST_REQUIRE_EQUAL(before.size(), 34u);
  BOOST_CHECK_EQUAL(before.front().version, 30u);
  BOOST_REQUIRE(put_sku("A", 64)); // version 64: trimmed up to 61
  auto after = stored();
  BOOST_REQUIRE_EQUAL(after.size(), 3u);
  BOOST_CHECK_EQUAL(after.front().version, 62u);
  BOOST_CHECK_EQUAL(after.back().version, 64u);
}

BOOST_AUTO_TEST_CASE(a_data_directory_keeps_its_partition_count) {
  node->stop();
  node.reset();
  opts.partitions = 32;
  std::string err;
  BOOST_TEST(!runtime::node::start(opts, &err));
  BOOST_TEST(err.find("was written with --partitions 64, not 32")
               != std::string::npos,
             err);
  opts.partitions = 0;
  BOOST_TEST(!runtime::node::start(opts, &err));
  BOOST_TEST(err.find("1..65536") != std::string::npos, err);
  opts.partitions = 64;
  start(); // the same count starts as before
  BOOST_TEST(node->ready());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()
