// The outbox relay against a scripted sink and a real RocksDB store (behind
// a wrapper that records every committed batch): lane order under retries,
// backoff, dead letters, the per-destination limit, ack timeouts, restart.
// Every wait is on an event (a delivery, a committed batch, an empty relay)
// with a generous timeout; nothing sleeps to let another thread catch up.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/detail/relay.hpp"
#include "runtime/detail/sink.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"

using namespace ordo;
using runtime::detail::relay;
using runtime::detail::relay_options;

namespace {

using steady = std::chrono::steady_clock;
constexpr auto patience = std::chrono::seconds{5};
constexpr actors::millis patience_ms = 5'000;

/// What the scripted sink does with one delivery.
enum class act {
  ok,          ///< answers success at once
  unavailable, ///< answers a retryable failure at once
  bad_request, ///< answers a permanent failure at once
  hold,        ///< keeps the reply for the test thread to answer
};

runtime::turn_reply reply_of(act a) {
  switch (a) {
    case act::unavailable:
      return {actors::error{actors::errc::unavailable, "try later"}, {}, {}};
    case act::bad_request:
      return {
        actors::error{actors::errc::bad_request, "no such thing"}, {}, {}};
    default: return {std::nullopt, "ok", {}};
  }
}

/// A sink that records every delivery and answers it as scripted per message
/// id (one act per delivery; `ok` once the script runs out). Thread-safe.
class scripted_sink : public runtime::detail::sink {
public:
  struct delivery {
    std::string id;
    actors::address to;
    steady::time_point at;
  };

  void script(const std::string& id, std::vector<act> acts) {
    std::lock_guard<std::mutex> guard{mu_};
    scripts_[id].assign(acts.begin(), acts.end());
  }

  void deliver(const actors::envelope& msg, std::string,
               runtime::detail::reply_fn done) override {
    thread_local int depth = 0;
    ++depth;
    act a = act::ok;
    {
      std::lock_guard<std::mutex> guard{mu_};
      max_depth_ = std::max(max_depth_, depth);
      log_.push_back({msg.id, msg.to, steady::now()});
      auto& s = scripts_[msg.id];
      if (!s.empty()) {
        a = s.front();
        s.pop_front();
      }
      if (a == act::hold) {
        held_.push_back({msg.id, std::move(done)});
        max_held_ = std::max(max_held_, held_.size());
      } else if (a == act::ok) {
        ++acks_[msg.id];
      }
      cv_.notify_all();
    }
    if (a != act::hold) {
      done(reply_of(a));
    }
    --depth;
  }

  /// Answers the oldest held reply with `a` (on this thread), waiting for
  /// one to be held; false if none comes.
  bool answer_held(act a) {
    runtime::detail::reply_fn fn;
    {
      std::unique_lock<std::mutex> lock{mu_};
      if (!cv_.wait_for(lock, patience, [this] {
            return !held_.empty();
          })) {
        return false;
      }
      auto h = std::move(held_.front());
      held_.pop_front();
      if (a == act::ok) {
        ++acks_[h.id];
      }
      fn = std::move(h.fn);
    }
    fn(reply_of(a));
    return true;
  }

  /// Waits until `n` deliveries have been made.
  bool wait_deliveries(std::size_t n) {
    std::unique_lock<std::mutex> lock{mu_};
    return cv_.wait_for(lock, patience, [&] {
      return log_.size() >= n;
    });
  }

  std::vector<delivery> log() const {
    std::lock_guard<std::mutex> guard{mu_};
    return log_;
  }

  /// The ids delivered, in order, whose id starts with `prefix`.
  std::vector<std::string> ids(const std::string& prefix = "") const {
    std::vector<std::string> out;
    for (auto& d : log()) {
      if (d.id.compare(0, prefix.size(), prefix) == 0) {
        out.push_back(d.id);
      }
    }
    return out;
  }

  /// How often `id` was answered with success.
  int acks(const std::string& id) const {
    std::lock_guard<std::mutex> guard{mu_};
    auto i = acks_.find(id);
    return i == acks_.end() ? 0 : i->second;
  }

  std::size_t held() const {
    std::lock_guard<std::mutex> guard{mu_};
    return held_.size();
  }

  std::size_t max_held() const {
    std::lock_guard<std::mutex> guard{mu_};
    return max_held_;
  }

  /// Deepest nesting of `deliver` calls seen on one thread.
  int max_depth() const {
    std::lock_guard<std::mutex> guard{mu_};
    return max_depth_;
  }

  /// Forgets the log and drops held replies unanswered (their relay is gone).
  void reset() {
    std::lock_guard<std::mutex> guard{mu_};
    log_.clear();
    held_.clear();
    acks_.clear();
    max_held_ = 0;
    max_depth_ = 0;
  }

private:
  struct held_reply {
    std::string id;
    runtime::detail::reply_fn fn;
  };

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::map<std::string, std::deque<act>> scripts_;
  std::vector<delivery> log_;
  std::deque<held_reply> held_;
  std::map<std::string, int> acks_;
  std::size_t max_held_ = 0;
  int max_depth_ = 0;
};

/// The real store, recording the writes of every batch whose commit
/// callback ran. Thread-safe.
class recording_store : public storage::store {
public:
  explicit recording_store(storage::store& inner) : inner_(inner) {}

  void commit(storage::batch b, callback done) override {
    auto ops = b.ops();
    inner_.commit(std::move(b),
                  [this, ops = std::move(ops),
                   done = std::move(done)](const storage::status& s) {
                    {
                      std::lock_guard<std::mutex> guard{mu_};
                      if (s.ok()) {
                        committed_.push_back(ops);
                      }
                      cv_.notify_all();
                    }
                    if (done) {
                      done(s);
                    }
                  });
  }
  storage::status commit_sync(storage::batch b) override {
    return inner_.commit_sync(std::move(b));
  }
  std::optional<std::string> get(storage::cf family,
                                 std::string_view key) override {
    return inner_.get(family, key);
  }
  void scan(storage::cf family, std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn)
    override {
    inner_.scan(family, prefix, fn);
  }
  void
  scan_from(storage::cf family, std::string_view prefix, std::string_view from,
            const std::function<bool(std::string_view, std::string_view)>& fn)
    override {
    inner_.scan_from(family, prefix, from, fn);
  }
  storage::commit_stats stats() const override {
    return inner_.stats();
  }
  void close() override {
    inner_.close();
  }

  /// Waits for a committed batch that writes (`put`) or deletes `key` in
  /// `family`; returns that batch's writes.
  std::optional<std::vector<storage::write_op>>
  wait_batch(storage::cf family, const std::string& key, bool put) {
    std::unique_lock<std::mutex> lock{mu_};
    std::optional<std::vector<storage::write_op>> found;
    cv_.wait_for(lock, patience, [&] {
      for (auto& ops : committed_) {
        for (auto& op : ops) {
          if (op.family == family && op.key == key
              && op.value.has_value() == put) {
            found = ops;
            return true;
          }
        }
      }
      return false;
    });
    return found;
  }

  /// How many committed batches delete `key` from the outbox.
  int outbox_deletes(const std::string& key) const {
    std::lock_guard<std::mutex> guard{mu_};
    int n = 0;
    for (auto& ops : committed_) {
      for (auto& op : ops) {
        if (op.family == storage::cf::outbox && op.key == key && !op.value) {
          ++n;
        }
      }
    }
    return n;
  }

private:
  storage::store& inner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<storage::write_op>> committed_; // guarded by mu_
};

std::unique_ptr<storage::store> open_store(const test::temp_dir& dir) {
  storage::store_options so;
  so.path = dir.sub("db");
  so.sync = false;
  std::string err;
  auto db = storage::store::open(so, &err);
  if (!db) {
    throw std::runtime_error("cannot open store: " + err);
  }
  return db;
}

actors::address order(const std::string& id) {
  return {"order", id};
}

const actors::address payment{"payment", ""};
const actors::address sms{"sms", ""};
const actors::address sku{"sku", "s1"};

std::string dead_key(std::uint64_t seq) {
  return "deadletter/" + storage::keys::be64(seq);
}

struct relay_fixture {
  test::temp_dir dir;
  std::unique_ptr<storage::store> db = open_store(dir);
  recording_store rec{*db};
  scripted_sink sink;
  runtime::detail::switchboard targets;

  relay_fixture() {
    for (auto kind : {"sku", "payment", "sms"}) {
      targets.add(kind, &sink);
    }
  }
  ~relay_fixture() {
    db->close(); // runs the last callbacks while `rec` is alive
  }

  /// Fast retries; everything else default.
  static relay_options fast() {
    relay_options o;
    o.backoff_base = 4;
    o.backoff_cap = 40;
    return o;
  }

  std::unique_ptr<relay> make(relay_options o = fast()) {
    return std::make_unique<relay>(rec, targets, o);
  }

  /// A message as a turn writes it: its outbox record made durable first.
  relay::entry persist(relay& r, const actors::address& from,
                       const actors::address& to, const std::string& id) {
    return persist_as(r.next_seq(), from, to, id);
  }

  relay::entry persist_as(std::uint64_t seq, const actors::address& from,
                          const actors::address& to, const std::string& id) {
    relay::entry e{seq, from, actors::envelope{id, to, "note", {{"n", seq}}}};
    storage::batch b;
    b.put(storage::cf::outbox, storage::keys::be64(seq), relay::encode(e));
    auto s = db->commit_sync(std::move(b));
    BOOST_REQUIRE_MESSAGE(s.ok(), s.message());
    return e;
  }

  std::size_t outbox_size() {
    std::size_t n = 0;
    db->scan(storage::cf::outbox, "", [&](std::string_view, std::string_view) {
      ++n;
      return true;
    });
    return n;
  }
};

using ids = std::vector<std::string>;

/// Calls `op` with a callback and waits for its answer.
actors::result<std::uint64_t>
operator_action(const std::function<void(relay::operator_done)>& op) {
  auto p = std::make_shared<std::promise<actors::result<std::uint64_t>>>();
  op([p](actors::result<std::uint64_t> r) {
    p->set_value(std::move(r));
  });
  return p->get_future().get();
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(outbox_relay, relay_fixture)

BOOST_AUTO_TEST_CASE(lane_order_holds_under_retries) {
  auto r = make();
  r->start();
  sink.script("a1", {act::unavailable, act::unavailable});
  sink.script("a3", {act::unavailable});
  sink.script("b2", {act::unavailable});
  std::vector<relay::entry> batch;
  for (auto id : {"a1", "b1", "a2", "a3", "b2", "a4", "b3", "a5"}) {
    batch.push_back(persist(*r, order(id[0] == 'a' ? "o1" : "o2"), sku, id));
  }
  r->enqueue(std::move(batch));
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  BOOST_TEST(sink.ids("a")
               == (ids{"a1", "a1", "a1", "a2", "a3", "a3", "a4", "a5"}),
             boost::test_tools::per_element());
  BOOST_TEST(sink.ids("b") == (ids{"b1", "b2", "b2", "b3"}),
             boost::test_tools::per_element());
  auto f = r->stats();
  BOOST_TEST(f.delivered == 8u);
  BOOST_TEST(f.attempts == 12u);
  BOOST_TEST(f.dead == 0u);
  BOOST_TEST(f.backlog == 0u);
  BOOST_TEST(f.oldest_ms == 0);
}

BOOST_AUTO_TEST_CASE(retryable_failure_backs_off_until_acknowledged_once) {
  auto o = fast();
  o.backoff_base = 20;
  o.backoff_cap = 1'000;
  auto r = make(o);
  r->start();
  sink.script("m1", {act::unavailable, act::unavailable, act::unavailable});
  sink.script("m2", {act::unavailable});
  std::vector<relay::entry> batch{persist(*r, order("o1"), sku, "m1"),
                                  persist(*r, order("o2"), sku, "m2"),
                                  persist(*r, order("o3"), sku, "m3")};
  auto seqs
    = std::vector<std::uint64_t>{batch[0].seq, batch[1].seq, batch[2].seq};
  r->enqueue(batch);
  BOOST_REQUIRE(r->wait_empty(patience_ms));

  // Each retry waits at least half its (doubling) backoff.
  std::vector<steady::time_point> m1;
  for (auto& d : sink.log()) {
    if (d.id == "m1") {
      m1.push_back(d.at);
    }
  }
  BOOST_REQUIRE_EQUAL(m1.size(), 4u);
  for (std::size_t k = 1; k < m1.size(); ++k) {
    auto least = std::chrono::milliseconds{(o.backoff_base / 2) << (k - 1)}
                 - std::chrono::milliseconds{1};
    BOOST_TEST((m1[k] - m1[k - 1] >= least), "retry " << k << " too early");
  }

  for (auto id : {"m1", "m2", "m3"}) {
    BOOST_TEST(sink.acks(id) == 1, id);
  }
  auto f = r->stats();
  BOOST_TEST(f.delivered == 3u);
  BOOST_TEST(f.attempts == 7u);
  BOOST_TEST(f.dead == 0u);
  for (auto seq : seqs) {
    auto key = storage::keys::be64(seq);
    BOOST_REQUIRE(rec.wait_batch(storage::cf::outbox, key, false));
    BOOST_TEST(rec.outbox_deletes(key) == 1);
  }
  BOOST_TEST(outbox_size() == 0u);
}

// A receiver seen up again (a peer node back) need not wait out
// a long backoff: retry_now hands its held message over at once, and leaves
// the backoff of the receivers it does not name alone.
BOOST_AUTO_TEST_CASE(retry_now_ends_the_backoff_of_the_receivers_it_names) {
  auto o = fast();
  o.backoff_base = 60'000;
  o.backoff_cap = 60'000; // the first retry comes 30 to 60 s after a failure
  auto r = make(o);
  r->start();
  sink.script("m1", {act::unavailable});
  sink.script("m2", {act::unavailable});
  r->enqueue({persist(*r, order("o1"), sku, "m1"),
              persist(*r, order("o2"), payment, "m2")});
  // Both failed once and wait out their backoff.
  BOOST_REQUIRE(test::eventually(
    [&] {
      auto held = r->messages(false, 10);
      return held.size() == 2
             && std::all_of(held.begin(), held.end(), [](const auto& m) {
                  return m.attempts == 1 && !m.last_error.empty();
                });
    },
    patience));
  BOOST_REQUIRE_EQUAL(sink.ids().size(), 2u);
  auto asked = steady::now();
  r->retry_now([](const actors::address& to) {
    return to == sku;
  });
  BOOST_REQUIRE(sink.wait_deliveries(3)); // patience: 5 s, not 30
  auto log = sink.log();
  BOOST_TEST(log[2].id == "m1");
  BOOST_TEST((log[2].at - asked < patience));
  BOOST_TEST(
    (log[2].at - log[0].at < std::chrono::milliseconds{o.backoff_base / 2}));
  BOOST_REQUIRE(test::eventually(
    [&] {
      return r->stats().delivered >= 1u;
    },
    patience));
  BOOST_TEST(sink.acks("m1") == 1);
  // m2 was not retried: its timer would have come due with m1's, and the
  // timer thread hands over everything due in one pass; stop() joins it.
  r->stop();
  BOOST_TEST(sink.ids("m2").size() == 1u);
  auto held = r->messages(false, 10);
  BOOST_REQUIRE_EQUAL(held.size(), 1u);
  BOOST_TEST(held[0].msg.id == "m2");
  BOOST_TEST(held[0].attempts == 1u);
}

BOOST_AUTO_TEST_CASE(permanent_failure_becomes_a_dead_letter_once) {
  auto r = make();
  r->start();
  sink.script("d1", {act::bad_request});
  auto d1 = persist(*r, order("o1"), sku, "d1");
  auto d2 = persist(*r, order("o1"), sku, "d2");
  r->enqueue({d1, d2});
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  BOOST_TEST(sink.ids() == (ids{"d1", "d2"}), boost::test_tools::per_element());
  auto f = r->stats();
  BOOST_TEST(f.dead == 1u);
  BOOST_TEST(f.dead_letters == 1u);
  BOOST_TEST(f.delivered == 1u);
  BOOST_TEST(f.backlog == 0u);

  // Moved in one batch: out of the outbox, into aux.
  auto moved = rec.wait_batch(storage::cf::aux, dead_key(d1.seq), true);
  BOOST_REQUIRE(moved);
  BOOST_REQUIRE_EQUAL(moved->size(), 2u);
  auto& del = moved->at(0).value ? moved->at(1) : moved->at(0);
  BOOST_TEST((del.family == storage::cf::outbox));
  BOOST_TEST(del.key == storage::keys::be64(d1.seq));
  BOOST_TEST(!del.value.has_value());
  BOOST_REQUIRE(
    rec.wait_batch(storage::cf::outbox, storage::keys::be64(d2.seq), false));
  BOOST_TEST(outbox_size() == 0u);
  auto stored = db->get(storage::cf::aux, dead_key(d1.seq));
  BOOST_REQUIRE(stored);
  auto j = storage::codec::unpack(*stored);
  BOOST_REQUIRE(j.is_object());
  BOOST_TEST(j.value("code", "") == "bad_request");
  BOOST_TEST(j.value("message", "") == "no such thing");
  BOOST_TEST(j["entry"].value("id", "") == "d1");

  auto dead = r->messages(true, 10);
  BOOST_REQUIRE_EQUAL(dead.size(), 1u);
  BOOST_TEST(dead[0].seq == d1.seq);
  BOOST_TEST(dead[0].msg.id == "d1");
  BOOST_TEST(dead[0].dead);
  BOOST_TEST(dead[0].attempts == 1u);
  BOOST_TEST(dead[0].last_error == "bad_request: no such thing");
  BOOST_TEST(r->messages(false, 10).empty());

  // A new relay on the same store lists it and does not deliver it again.
  r.reset();
  sink.reset();
  auto again = make();
  again->load();
  again->start();
  BOOST_TEST(again->next_seq() > d1.seq); // a dead letter's seq is not reused
  BOOST_TEST(sink.ids().empty());
  BOOST_TEST(again->stats().backlog == 0u);
  BOOST_TEST(again->stats().dead_letters == 1u);
  BOOST_TEST(again->stats().dead == 0u);
  dead = again->messages(true, 10);
  BOOST_REQUIRE_EQUAL(dead.size(), 1u);
  BOOST_TEST(dead[0].msg.id == "d1");
  BOOST_TEST((dead[0].from == order("o1")));
  BOOST_TEST(dead[0].last_error == "bad_request: no such thing");
  BOOST_TEST(dead[0].dead_at > 0);
  BOOST_TEST(again->messages(true, 0).empty());
}

BOOST_AUTO_TEST_CASE(destination_limit_bounds_deliveries_in_flight) {
  auto o = fast();
  o.max_in_flight_per_destination = 2;
  auto r = make(o);
  r->start();
  std::vector<relay::entry> batch;
  for (auto id : {"p1", "p2", "p3", "p4", "p5"}) {
    sink.script(id, {act::hold, act::hold});
    batch.push_back(persist(*r, order(id), payment, id));
  }
  batch.push_back(persist(*r, order("p1"), sms, "s1"));
  r->enqueue(batch);

  // Two to the payment provider; another destination is not held up.
  BOOST_TEST(sink.ids() == (ids{"p1", "p2", "s1"}),
             boost::test_tools::per_element());
  BOOST_TEST(sink.held() == 2u);
  auto f = r->stats();
  BOOST_TEST(f.destinations_waiting == 3u);
  BOOST_TEST(f.backlog == 5u);
  auto pending = r->messages(false, 10);
  BOOST_REQUIRE_EQUAL(pending.size(), 5u);
  for (std::size_t k = 0; k < pending.size(); ++k) {
    BOOST_TEST(pending[k].msg.id == batch[k].msg.id);
    BOOST_TEST(pending[k].attempts == (k < 2 ? 1u : 0u));
    BOOST_TEST(!pending[k].dead);
  }
  BOOST_TEST(r->messages(false, 2).size() == 2u);
  auto of_p3 = r->messages_of(order("p3"));
  BOOST_REQUIRE_EQUAL(of_p3.size(), 1u);
  BOOST_TEST(of_p3[0].msg.id == "p3");
  BOOST_TEST(of_p3[0].attempts == 0u);
  BOOST_TEST(r->messages_of(order("nobody")).empty());

  // A reply frees a slot: the first waiting lane starts.
  BOOST_REQUIRE(sink.answer_held(act::ok)); // p1
  BOOST_TEST(sink.ids().back() == "p3");
  BOOST_TEST(sink.held() == 2u);
  BOOST_TEST(r->stats().destinations_waiting == 2u);

  // So does a retryable failure; the failed lane queues up again later.
  BOOST_REQUIRE(sink.answer_held(act::unavailable)); // p2
  BOOST_TEST(sink.ids().back() == "p4");
  auto of_p2 = r->messages_of(order("p2"));
  BOOST_REQUIRE_EQUAL(of_p2.size(), 1u);
  BOOST_TEST(of_p2[0].attempts == 1u);
  BOOST_TEST(of_p2[0].last_error == "unavailable: try later");

  // Answer until nothing is pending; the deletes of the last acks are
  // committed a few milliseconds later.
  while (r->stats().backlog > 0) {
    BOOST_REQUIRE(sink.answer_held(act::ok));
  }
  BOOST_REQUIRE(r->wait_empty(5'000));
  BOOST_TEST(sink.max_held() == 2u);
  for (auto id : {"p1", "p2", "p3", "p4", "p5", "s1"}) {
    BOOST_TEST(sink.acks(id) == 1, id);
  }
  f = r->stats();
  BOOST_TEST(f.delivered == 6u);
  BOOST_TEST(f.destinations_waiting == 0u);
}

BOOST_AUTO_TEST_CASE(ack_timeout_redelivers_and_keeps_the_slot) {
  auto o = fast();
  o.ack_timeout = 150;
  o.max_in_flight_per_destination = 1;
  auto r = make(o);
  r->start();
  sink.script("t1", {act::hold});
  r->enqueue({persist(*r, order("o1"), payment, "t1"),
              persist(*r, order("o2"), payment, "u1")});
  BOOST_TEST(r->stats().destinations_waiting == 1u);
  BOOST_REQUIRE(r->wait_empty(patience_ms));

  // u1 waited for t1's slot through the repeat.
  BOOST_TEST(sink.ids() == (ids{"t1", "t1", "u1"}),
             boost::test_tools::per_element());
  auto log = sink.log();
  BOOST_TEST((log[1].at - log[0].at >= std::chrono::milliseconds{149}));
  auto f = r->stats();
  BOOST_TEST(f.delivered == 2u);
  BOOST_TEST(f.attempts == 3u);

  // The late answer to the first delivery changes nothing.
  BOOST_REQUIRE(sink.answer_held(act::bad_request));
  f = r->stats();
  BOOST_TEST(f.delivered == 2u);
  BOOST_TEST(f.dead == 0u);
  BOOST_TEST(f.dead_letters == 0u);
}

BOOST_AUTO_TEST_CASE(restart_redelivers_the_persisted_outbox) {
  // As turns left them: two lanes, one message already acknowledged.
  auto x7 = persist_as(7, order("o1"), sku, "x7");
  auto x8 = persist_as(8, order("o2"), sku, "x8");
  auto x9 = persist_as(9, order("o1"), sku, "x9");

  // A first life: x7 is delivered but never answered, x8 is acknowledged.
  sink.script("x7", {act::hold});
  {
    auto first = make();
    first->load();
    BOOST_TEST(first->next_seq() == 10u);
    first->start();
    BOOST_REQUIRE(sink.wait_deliveries(2));
    BOOST_REQUIRE(
      rec.wait_batch(storage::cf::outbox, storage::keys::be64(x8.seq), false));
    BOOST_TEST(first->stats().backlog == 2u);
    BOOST_TEST(sink.ids() == (ids{"x7", "x8"}),
               boost::test_tools::per_element());
  }
  sink.reset(); // x7's reply went with its relay

  auto second = make();
  second->load();
  second->start();
  BOOST_REQUIRE(second->wait_empty(patience_ms));
  BOOST_TEST(sink.ids() == (ids{"x7", "x9"}), boost::test_tools::per_element());
  for (auto seq : {x7.seq, x9.seq}) {
    BOOST_REQUIRE(
      rec.wait_batch(storage::cf::outbox, storage::keys::be64(seq), false));
  }
  BOOST_TEST(outbox_size() == 0u);
  BOOST_TEST(second->stats().delivered == 2u);
}

BOOST_AUTO_TEST_CASE(a_restart_past_the_retry_horizon_does_not_redeliver) {
  auto wall = std::make_shared<std::atomic<actors::millis>>(1'700'000'000'000);
  auto o = fast();
  o.max_age = 60'000;
  o.now = [wall] {
    return wall->load();
  };
  // A first life: x1 is delivered, never answered.
  sink.script("x1", {act::hold});
  relay::entry x1;
  {
    auto first = make(o);
    first->load();
    first->start();
    x1 = persist(*first, order("o1"), sku, "x1");
    first->enqueue({x1});
    BOOST_REQUIRE(sink.wait_deliveries(1));
  }
  sink.reset();

  // Down for longer than the horizon: x1's receiver may have forgotten its
  // id, so x1 is a dead letter, not a delivery; a message of this life goes.
  wall->fetch_add(60'001);
  auto second = make(o);
  second->load();
  second->start();
  auto y1 = persist(*second, order("o1"), sku, "y1");
  second->enqueue({y1});
  BOOST_REQUIRE(second->wait_empty(patience_ms));
  BOOST_TEST(sink.ids() == (ids{"y1"}), boost::test_tools::per_element());
  auto dead = second->messages(true, 10);
  BOOST_REQUIRE_EQUAL(dead.size(), 1u);
  BOOST_TEST(dead[0].msg.id == "x1");
  BOOST_TEST(dead[0].last_error.rfind("unavailable: expired", 0) == 0u);
  BOOST_REQUIRE(rec.wait_batch(storage::cf::aux, dead_key(x1.seq), true));
  BOOST_REQUIRE(
    rec.wait_batch(storage::cf::outbox, storage::keys::be64(y1.seq), false));
  BOOST_TEST(outbox_size() == 0u);
}

BOOST_AUTO_TEST_CASE(retries_stop_at_the_retry_horizon) {
  auto wall = std::make_shared<std::atomic<actors::millis>>(1'700'000'000'000);
  auto o = fast();
  o.max_age = 60'000;
  o.now = [wall] {
    return wall->load();
  };
  auto r = make(o);
  r->load();
  r->start();
  sink.script("x1", std::vector<act>(100'000, act::unavailable));
  auto x1 = persist(*r, order("o1"), sku, "x1");
  r->enqueue({x1});
  BOOST_REQUIRE(sink.wait_deliveries(2)); // retried
  wall->fetch_add(60'001);
  BOOST_REQUIRE(rec.wait_batch(storage::cf::aux, dead_key(x1.seq), true));
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  auto f = r->stats();
  BOOST_TEST(f.dead == 1u);
  BOOST_TEST(f.delivered == 0u);
  BOOST_TEST(outbox_size() == 0u);

  // An operator cannot revive it: its receiver may have consumed it and
  // forgotten its id.
  auto refused = operator_action([&](relay::operator_done done) {
    r->revive(x1.seq, storage::batch{}, std::move(done));
  });
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST((refused.err().code == actors::errc::invalid_transition));
  BOOST_TEST(r->stats().dead_letters == 1u);
  BOOST_TEST(db->get(storage::cf::aux, dead_key(x1.seq)).has_value());
}

BOOST_AUTO_TEST_CASE(calls_to_an_external_receiver_give_up_at_their_horizon) {
  auto wall = std::make_shared<std::atomic<actors::millis>>(1'700'000'000'000);
  auto o = fast();
  o.max_age = 600'000;
  o.give_up_after = 60'000;
  o.bounded = [](const actors::address& to) {
    return to.kind != "payment";
  };
  o.now = [wall] {
    return wall->load();
  };
  auto r = make(o);
  r->load();
  r->start();
  sink.script("p1", std::vector<act>(100'000, act::unavailable));
  sink.script("s1", std::vector<act>(100'000, act::unavailable));
  auto p1 = persist(*r, order("o1"), payment, "p1");
  auto s1 = persist(*r, order("o1"), sku, "s1");
  r->enqueue({p1, s1});
  BOOST_REQUIRE(sink.wait_deliveries(4)); // both retried
  // Past the external horizon, short of the actors' one: only p1 gives up.
  wall->fetch_add(60'001);
  BOOST_REQUIRE(rec.wait_batch(storage::cf::aux, dead_key(p1.seq), true));
  auto dead = r->messages(true, 10);
  BOOST_REQUIRE_EQUAL(dead.size(), 1u);
  BOOST_TEST(dead[0].msg.id == "p1");
  BOOST_TEST(dead[0].last_error.rfind("unavailable: gave up", 0) == 0u);
  BOOST_TEST(r->stats().backlog == 1u); // s1 still retried
}

BOOST_AUTO_TEST_CASE(an_operator_revives_or_discards_a_dead_letter) {
  auto r = make();
  r->start();
  sink.script("d1", {act::bad_request});
  sink.script("d2", {act::bad_request});
  auto d1 = persist(*r, order("o1"), sku, "d1");
  auto d2 = persist(*r, order("o2"), sku, "d2");
  r->enqueue({d1, d2});
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  BOOST_REQUIRE_EQUAL(r->stats().dead_letters, 2u);
  BOOST_TEST(r->senders().count(order("o1")) == 1u); // the auditor waits

  // Revived: under a fresh seq, in one batch with the caller's record, and
  // delivered again (accepted this time).
  storage::batch extra;
  extra.put(storage::cf::aux, "oplog/test", "who");
  auto fresh = operator_action([&](relay::operator_done done) {
    r->revive(d1.seq, std::move(extra), std::move(done));
  });
  BOOST_REQUIRE(fresh.ok());
  BOOST_TEST(fresh.value() > d2.seq);
  auto revived = rec.wait_batch(storage::cf::aux, dead_key(d1.seq), false);
  BOOST_REQUIRE(revived);
  BOOST_TEST(revived->size() == 3u); // dead letter out, outbox in, record
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  BOOST_TEST(sink.ids() == (ids{"d1", "d2", "d1"}),
             boost::test_tools::per_element());
  BOOST_TEST(r->stats().delivered == 1u);
  BOOST_TEST(r->senders().count(order("o1")) == 0u);

  // Discarded: gone from storage and from the list; a second try is 404.
  auto gone = operator_action([&](relay::operator_done done) {
    r->discard(d2.seq, storage::batch{}, std::move(done));
  });
  BOOST_REQUIRE(gone.ok());
  BOOST_TEST(gone.value() == d2.seq);
  BOOST_TEST(!db->get(storage::cf::aux, dead_key(d2.seq)));
  BOOST_TEST(r->stats().dead_letters == 0u);
  for (auto seq : {d1.seq, d2.seq}) {
    auto again = operator_action([&](relay::operator_done done) {
      r->discard(seq, storage::batch{}, std::move(done));
    });
    BOOST_REQUIRE(!again.ok());
    BOOST_TEST((again.err().code == actors::errc::not_found));
  }
  BOOST_TEST(outbox_size() == 0u);
}

BOOST_AUTO_TEST_CASE(synchronous_answers_do_not_nest_deliveries) {
  auto r = make();
  r->start();
  std::vector<relay::entry> batch;
  for (int k = 0; k < 200; ++k) {
    batch.push_back(persist(*r, order("o1"), sku, "n" + std::to_string(k)));
  }
  r->enqueue(batch);
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  BOOST_TEST(sink.ids().size() == 200u);
  BOOST_TEST(sink.ids().back() == "n199");
  BOOST_TEST(sink.max_depth() == 1);
  BOOST_TEST(r->stats().delivered == 200u);
}

BOOST_AUTO_TEST_CASE(ack_timer_survives_churn_of_answered_deliveries) {
  // Every answered delivery leaves a stale timer in the heap; enough of them
  // make the relay drop the stale ones, never the live one of `h1`.
  auto o = fast();
  o.ack_timeout = 500;
  auto r = make(o);
  r->start();
  sink.script("h1", {act::hold});
  std::vector<relay::entry> batch;
  for (int k = 0; k < 1'500; ++k) {
    batch.push_back(persist(*r, order("o2"), sku, "c" + std::to_string(k)));
  }
  r->enqueue({persist(*r, order("o1"), sku, "h1")});
  r->enqueue(batch);
  BOOST_TEST(sink.ids("h").size() == 1u); // the churn outran the ack timeout
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  BOOST_TEST(sink.ids("h") == (ids{"h1", "h1"}),
             boost::test_tools::per_element());
  BOOST_TEST(r->stats().delivered == 1'501u);
}

BOOST_AUTO_TEST_SUITE_END()
