#pragma once

// The generic CAF host of every actor kind (see kinds.hpp): one CAF actor per
// (kind, id), activated on its first message and passivated when idle.
//
// A turn: load the state on first use; drop a message whose id was consumed
// before; run the kind's pure handler; write snapshot + journal + consumed id
// + outbox + timers as ONE batch; when that batch is durable (commit thread)
// answer the callers, hand the outbox to the relay, arm the timers and send
// the requests. Turns pipeline: the next message is handled while the
// previous batch is committing; callbacks still run in turn order because
// the store commits in order.
//
// A failed batch is never built upon. Each batch is written only while its
// host's epoch (the incarnation of its in-memory state) has seen no failed
// batch; so when turn N's batch fails, every later batch computed on N's
// state fails too, writing nothing, and their callers are answered
// `unavailable`. The host then answers its deferred callers `unavailable`,
// drops its in-memory state and reloads it from storage, in a new epoch.
//
// Virtual actors: every message reaches a host through its `directory`,
// which counts what it sent. A sweep of the directory (every quarter of
// `passivate_after`) tells each host sent nothing for that long that it is
// idle; the host asks the directory to forget it, and is forgotten only if
// it has received everything sent to it and has no batch in flight; then it
// quits, and the next message activates a fresh host that loads the durable
// state. So no two hosts of one id ever run.
//
// Include only from runtime/*.cpp: this header pulls in CAF.

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/all.hpp>

#include "actors/boxed.hpp"
#include "log/log.hpp"
#include "runtime/clock.hpp"
#include "runtime/detail/counters.hpp"
#include "runtime/detail/kinds.hpp"
#include "runtime/detail/relay.hpp"
#include "runtime/detail/sink.hpp"
#include "runtime/detail/timers.hpp"
#include "runtime/detail/touched.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

/// A host trims its journal every this many transitions (one range delete).
inline constexpr std::uint64_t journal_trim_every = 32;

/// What every host uses; owned by the node, outlives the actor system.
struct services {
  storage::store* db = nullptr;
  clock* time = nullptr;
  relay* outbox = nullptr;
  timer_service* timers = nullptr;
  const switchboard* targets = nullptr;
  std::chrono::milliseconds passivate_after{60'000};
  counters* metrics = nullptr;
  /// Told the id of every order whose turn committed (for the audit).
  touched_orders* touched = nullptr;
  /// Journal entries kept per actor.
  std::uint32_t journal_keep = 100;
};

/// The one message type a host receives (local only).
template <class Kind>
struct mail {
  using state = typename Kind::state;
  /// Answers the sender after the turn is durable; `s` is the state after
  /// the turn when `want_state`, else nullptr.
  using done_fn = std::function<void(const turn_reply& r, const state* s)>;

  typename Kind::input in;
  /// Non-empty: consume at most once.
  std::string dedupe_id;
  done_fn done;
  bool want_state = false;
  /// Set when `in` is a fired durable timer.
  std::string timer_name;
  actors::millis timer_due = 0;
};

using idle_atom = caf::atom_constant<caf::atom("idle")>;

template <class Kind>
class directory;

/// Everything a host keeps, inside its actor object: the directory reads
/// its counts and keys its map by its id, the commit callbacks mark turns
/// durable (both hold a strong reference to the actor, which keeps the
/// object, and so the core, alive after the actor quit).
template <class Kind>
struct host_core {
  using state_type = typename Kind::state;
  struct waiter {
    std::string tag;
    typename mail<Kind>::done_fn done;
    bool want_state = false;
    /// Joined a wait another caller started (answered "joined").
    bool joined = false;
  };

  explicit host_core(std::string host_id) : id(std::move(host_id)) {}

  const std::string id;
  /// Mails received from the directory (the mailbox size is what it sent
  /// minus this).
  std::atomic<std::uint64_t> received{0};
  /// Turns settled: durable, or failed (then `failed_epoch` says so).
  std::atomic<std::uint64_t> settled{0};
  /// The epoch in which a batch failed (0: none); written on the commit
  /// thread, which drops every later batch of that epoch.
  std::atomic<std::uint32_t> failed_epoch{0};

  // The rest: the host's own.
  /// Incarnation of `s`: bumped when `s` is dropped after a failed batch.
  std::uint32_t epoch = 1;
  bool loaded = false;
  /// The stored snapshot could not be read: every mail is refused.
  bool broken = false;
  state_type s;
  /// Turns submitted to the store.
  std::uint64_t submitted = 0;
  /// Callers whose reply a turn deferred; no vector while there are none
  /// (most hosts, most of the time: a turn that answers the last resets it).
  actors::boxed<std::vector<waiter>> deferred;
};

/// The CAF actor of one host: a scheduled_actor without event_based_actor's
/// mixins (their group set alone is 56 B), holding its core. It takes its
/// two kinds of mail straight from the mailbox element (consume), so it
/// needs no behavior of its own: all hosts of a kind share one that is
/// never matched (a behavior per actor was 144 B). Anything else, exit
/// messages included, goes the usual way.
template <class Kind>
class host_actor final : public caf::scheduled_actor,
                         public caf::dynamically_typed_actor_base {
public:
  using signatures = caf::none_t;
  using behavior_type = caf::behavior;

  host_actor(caf::actor_config& cfg, directory<Kind>* dir, std::string id)
    : caf::scheduled_actor(cfg), dir(dir), core(std::move(id)) {}

  const char* name() const override {
    return "ordo.host";
  }

  void initialize() override;
  caf::invoke_message_result consume(caf::mailbox_element& x) override;

  directory<Kind>* const dir;
  host_core<Kind> core;
};

/// What a turn leaves for after its commit; runs on the commit thread.
template <class Kind>
struct aftermath {
  struct answer {
    typename mail<Kind>::done_fn done;
    turn_reply reply;
    bool want_state = false;
  };
  actors::address self;
  std::vector<answer> answers;
  std::shared_ptr<const typename Kind::state> view;
  std::vector<relay::entry> outbox;
  std::vector<actors::timer_op> timers;
  std::vector<actors::envelope> requests;
  /// The dedupe key the turn consumes (empty: none); in flight until the
  /// batch is durable.
  std::string consumed;
  /// A repeat answered while its original's batch was in flight: the key
  /// that batch consumes, to find in storage before answering "duplicate"
  /// (the original may have failed).
  std::string repeat_of;

  void run(services& env) {
    if (!repeat_of.empty()
        && !env.db->get(storage::cf::dedupe, repeat_of).has_value()) {
      fail("the first delivery of this message was not written");
      return;
    }
    // Outbox and timers first: whoever is answered may wait for them.
    env.outbox->enqueue(std::move(outbox));
    for (auto& t : timers) {
      env.timers->set(self.kind, self.id, t.name, t.due);
    }
    for (auto& a : answers) {
      if (a.done) {
        a.done(a.reply, a.want_state ? view.get() : nullptr);
      }
    }
    for (auto& req : requests) {
      auto from = self;
      auto type = req.type;
      auto target = req.to.id;
      auto* targets = env.targets;
      // The reply comes back to the requester as the message type ".reply";
      // a request whose receiver stopped is answered `unavailable`.
      targets->deliver(
        req, "",
        answer_once([from, type, target, targets](const turn_reply& r) {
          actors::envelope back{"", from, type + ".reply",
                                actors::reply_body(target, r.err, r.reply)};
          targets->deliver(back, "", nullptr);
        }));
    }
  }

  /// Answers every caller `unavailable`: nothing of the turn was written.
  void fail(const std::string& why) {
    for (auto& a : answers) {
      if (a.done) {
        a.done(unwritten(why), nullptr);
      }
    }
  }

  static turn_reply unwritten(const std::string& why) {
    return {actors::error{actors::errc::unavailable,
                          why + "; nothing was acknowledged, retry"},
            {},
            {}};
  }
};

/// What the node does with every directory regardless of its kind.
class directory_base : public sink {
public:
  /// Refuses further mail and stops every host.
  virtual void shutdown() = 0;
  /// Hosts in memory.
  virtual std::size_t size() = 0;
  virtual std::uint64_t activations() const noexcept = 0;
  virtual std::uint64_t passivations() const noexcept = 0;
  /// Mails sent to the host of `id` it has not taken up yet; -1 when no
  /// host of `id` is in memory.
  virtual std::int64_t mailbox_size(const std::string& id) = 0;
  /// Mails waiting in all its hosts' mailboxes.
  virtual std::uint64_t mailbox_depth() = 0;
};

template <class Kind>
class directory final : public directory_base {
public:
  using config = typename Kind::config;

  directory(caf::actor_system& sys, services& env, config cfg)
    : sys_(sys), env_(env), cfg_(std::move(cfg)) {
    sweeper_ = sys_.spawn(sweeper, this);
  }

  const config& cfg() const noexcept {
    return cfg_;
  }
  services& env() noexcept {
    return env_;
  }

  /// Sends `m` to the host of `id`, activating it if needed. After
  /// `shutdown` the mail is answered with `unavailable`.
  void send(const std::string& id, mail<Kind> m) {
    auto& sh = shard_of(id);
    std::unique_lock<std::mutex> lock{sh.mu};
    if (closed_.load()) {
      lock.unlock();
      if (m.done) {
        m.done(
          {actors::error{actors::errc::unavailable, "shutting down"}, {}, {}},
          nullptr);
      }
      return;
    }
    auto i = sh.map.find(id);
    if (i == sh.map.end()) {
      auto handle = sys_.spawn<host_actor<Kind>, caf::lazy_init>(this, id);
      auto* host = static_cast<host_actor<Kind>*>(
        caf::actor_cast<caf::abstract_actor*>(handle));
      // The key views the id the host holds as long as the entry (and its
      // handle, which keeps the host object).
      std::string_view key{host->core.id};
      i = sh.map.emplace(key, entry{std::move(handle), host, 0, {}}).first;
      activations_.fetch_add(1, std::memory_order_relaxed);
    }
    auto& e = i->second;
    ++e.sent;
    e.last_sent = std::chrono::steady_clock::now();
    caf::anon_send(e.handle, std::move(m));
  }

  /// True if a host of `id` is in memory.
  bool active(const std::string& id) {
    auto& sh = shard_of(id);
    std::lock_guard<std::mutex> guard{sh.mu};
    return sh.map.count(id) > 0;
  }

  std::int64_t mailbox_size(const std::string& id) override {
    auto& sh = shard_of(id);
    std::lock_guard<std::mutex> guard{sh.mu};
    auto i = sh.map.find(id);
    if (i == sh.map.end()) {
      return -1;
    }
    return static_cast<std::int64_t>(i->second.sent
                                     - i->second.host->core.received.load());
  }

  std::uint64_t mailbox_depth() override {
    std::uint64_t n = 0;
    for (auto& sh : shards_) {
      std::lock_guard<std::mutex> guard{sh.mu};
      for (auto& [id, e] : sh.map) {
        n += e.sent - e.host->core.received.load(std::memory_order_relaxed);
      }
    }
    return n;
  }

  /// Forgets the host `who` of `id` if it has received all `sent` mails
  /// and nothing was sent to it for `passivate_after`.
  bool try_passivate(const std::string& id, std::uint64_t received,
                     const caf::actor_addr& who) {
    auto& sh = shard_of(id);
    std::lock_guard<std::mutex> guard{sh.mu};
    auto i = sh.map.find(id);
    if (i == sh.map.end() || i->second.handle.address() != who
        || i->second.sent != received
        || !idle_since(i->second, std::chrono::steady_clock::now())) {
      return false;
    }
    sh.map.erase(i);
    passivations_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void shutdown() override {
    closed_.store(true);
    caf::anon_send_exit(sweeper_, caf::exit_reason::user_shutdown);
    for (auto& sh : shards_) {
      std::lock_guard<std::mutex> guard{sh.mu};
      for (auto& [id, e] : sh.map) {
        caf::anon_send_exit(e.handle, caf::exit_reason::user_shutdown);
      }
      sh.map.clear();
    }
  }

  std::size_t size() override {
    std::size_t n = 0;
    for (auto& sh : shards_) {
      std::lock_guard<std::mutex> guard{sh.mu};
      n += sh.map.size();
    }
    return n;
  }
  std::uint64_t activations() const noexcept override {
    return activations_.load();
  }
  std::uint64_t passivations() const noexcept override {
    return passivations_.load();
  }

  void deliver(const actors::envelope& msg, std::string dedupe_id,
               reply_fn done) override {
    auto in = Kind::decode(msg);
    if (!in) {
      if (done) {
        done({in.err(), {}, {}});
      }
      return;
    }
    mail<Kind> m{
      std::move(in.value()), std::move(dedupe_id), nullptr, false, {}, 0};
    if (done) {
      m.done = [done = std::move(done)](const turn_reply& r,
                                        const typename Kind::state*) {
        done(r);
      };
    }
    if (msg.type == "timer") {
      m.timer_name = msg.body.value("name", "");
      m.timer_due = msg.body.value("due", actors::millis{0});
    }
    send(msg.to.id, std::move(m));
  }

private:
  struct entry {
    caf::actor handle;
    /// The object `handle` names (kept alive by it).
    host_actor<Kind>* host;
    std::uint64_t sent = 0;
    std::chrono::steady_clock::time_point last_sent;
  };
  struct shard {
    std::mutex mu;
    std::unordered_map<std::string_view, entry> map;
    /// Dedupe keys of its hosts' turns not yet durable. Once durable the
    /// dedupe family has them; so an idle host keeps none in memory.
    std::unordered_set<std::string> consuming;
  };

  shard& shard_of(const std::string& id) {
    return shards_[std::hash<std::string>{}(id) % shards_.size()];
  }

  /// The dedupe key `key` of the host of `id` is in a batch not yet durable.
  bool consuming(const std::string& id, const std::string& key) {
    auto& sh = shard_of(id);
    std::lock_guard<std::mutex> guard{sh.mu};
    return sh.consuming.count(key) > 0;
  }
  void begin_consuming(const std::string& id, std::string key) {
    auto& sh = shard_of(id);
    std::lock_guard<std::mutex> guard{sh.mu};
    sh.consuming.insert(std::move(key));
  }
  void end_consuming(const std::string& id, const std::string& key) {
    auto& sh = shard_of(id);
    std::lock_guard<std::mutex> guard{sh.mu};
    sh.consuming.erase(key);
  }

  bool idle_since(const entry& e,
                  std::chrono::steady_clock::time_point now) const {
    return now - e.last_sent >= env_.passivate_after;
  }

  /// Tells every host that took up all its mail and was sent nothing for
  /// `passivate_after` that it is idle. One timer per directory, not per
  /// host: a resident host costs no timer.
  void sweep() {
    auto now = std::chrono::steady_clock::now();
    for (auto& sh : shards_) {
      std::lock_guard<std::mutex> guard{sh.mu};
      for (auto& [id, e] : sh.map) {
        if (idle_since(e, now)
            && e.sent
                 == e.host->core.received.load(std::memory_order_relaxed)) {
          caf::anon_send(e.handle, idle_atom::value);
        }
      }
    }
  }

  static caf::behavior sweeper(caf::event_based_actor* self, directory* dir) {
    auto every = std::max(std::chrono::milliseconds{1},
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                            dir->env_.passivate_after / 4));
    self->delayed_send(self, every, idle_atom::value);
    return {
      [self, dir, every](idle_atom) {
        dir->sweep();
        self->delayed_send(self, every, idle_atom::value);
      },
    };
  }

  friend class host_actor<Kind>;
  static void idle(host_actor<Kind>* self, directory* dir);
  static void turn(host_actor<Kind>* self, directory* dir, mail<Kind>& m);
  static bool applied_before(directory* dir, const std::string& id,
                             const std::string& dedupe_key,
                             aftermath<Kind>& after);
  static void load(host_actor<Kind>* self, directory* dir);
  static void recover(host_actor<Kind>* self, directory* dir);
  static void submit(host_actor<Kind>* self, directory* dir, storage::batch b,
                     aftermath<Kind> after);

  // Constant after construction.
  caf::actor_system& sys_;
  services& env_;
  const config cfg_;

  std::array<shard, 16> shards_;
  caf::actor sweeper_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> activations_{0};
  std::atomic<std::uint64_t> passivations_{0};
};

} // namespace ordo::runtime::detail

// Mails stay inside one process: CAF never serializes them. (What
// CAF_ALLOW_UNSAFE_MESSAGE_TYPE declares, for the mail of every kind.)
namespace caf {
template <class Kind>
struct allowed_unsafe_message_type<ordo::runtime::detail::mail<Kind>>
  : std::true_type {};
} // namespace caf

#include "runtime/detail/host_impl.hpp"
