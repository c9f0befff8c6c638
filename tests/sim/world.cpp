#include "tests/sim/world.hpp"

#include <algorithm>
#include <any>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "actors/auditor.hpp"
#include "actors/planted.hpp"
#include "runtime/detail/kinds.hpp"
#include "runtime/ids.hpp"
#include "storage/keys.hpp"
#include "tests/sim/mem_store.hpp"

namespace ordo::actors::planted {
unsigned bugs = 0;
} // namespace ordo::actors::planted

namespace ordo::sim {

namespace {

using actors::address;
using actors::envelope;
using actors::millis;
namespace rt = ordo::runtime::detail;
namespace order = actors::order;

constexpr std::uint32_t partitions = 64;
constexpr millis start_ms = 1'700'000'000'000;

/// The configuration every simulated node runs with: short periods, so a
/// run of a few hundred steps crosses deadlines, cooling periods, TTLs and
/// the saga timeout.
struct tunables {
  order::config order{60'000, 50'000,
                      60'000, 30'000,
                      30'000, actors::notifier::config{20'000, 45'000, 5'000}};
  actors::inventory::config sku{60'000};
  actors::coupon::config coupon{120'000};
  actors::attribution::config affiliate{};
  /// Notifier actors keep the SMS of orders stored before orders kept
  /// their own; a simulated node starts empty, so none is ever made.
  actors::notifier::config notifier = order.notify;
  actors::dispatcher::config dispatcher{15'000, 5'000, 60'000};
  actors::technicians::config technicians{{"tech-1", "tech-2"}};
  actors::reports::config report{10};
  actors::limiter::config limiter = [] {
    actors::limiter::config c;
    c.max_orders = 3;
    c.window = 60'000;
    c.captcha_after = 0;
    return c;
  }();
};

// --- what flows between the parts -----------------------------------------

/// Where a turn's answer goes once its batch is durable.
struct reply_to {
  enum class kind : std::uint8_t {
    none,
    client,
    requester,
    outbox,
    adapter,
    admission,  ///< the limiter's answer to a create's admission
    created,    ///< the order's answer to an admitted create
    withdrawal, ///< the limiter forgot a refused create's admission
  };
  kind k = kind::none;
  /// client: the call's number.
  std::uint64_t call = 0;
  /// requester: who asked, what and whom (the reply is `type` ".reply").
  address from;
  std::string type;
  std::string target;
  /// outbox / adapter: the outbox entry to acknowledge.
  std::uint64_t seq = 0;
  /// withdrawal: what the client is told once the slot is back.
  std::optional<actors::error> refusal;

  static reply_to of(kind k, std::uint64_t call, std::uint64_t seq = 0) {
    reply_to r;
    r.k = k;
    r.call = call;
    r.seq = seq;
    return r;
  }
};

/// One mail to an actor: a message (decoded by its kind) or a client's
/// command (the kind's input, as the node builds it).
struct mail {
  address to;
  std::optional<envelope> msg;
  std::any input;
  std::string dedupe_id;
  std::string timer_name;
  millis timer_due = 0;
  reply_to reply;
  bool want_state = false;
};

/// A non-durable event waiting to run: lost by a crash.
struct pending_event {
  std::uint64_t id = 0;
  std::string what; ///< for the trace
  mail m;
  /// An acknowledgement of outbox entry `ack_seq` (when m.to is empty).
  std::uint64_t ack_seq = 0;
  /// The answer was a retryable failure: the relay tries again.
  bool retry = false;
  /// The answer was a permanent refusal: a dead letter.
  bool dead = false;
};

struct answer {
  std::optional<actors::error> err;
  std::string result;
  nlohmann::json reply;
};

// --- the actors
// ---------------------------------------------------------------

class world;

class actor_base {
public:
  virtual ~actor_base() = default;
  virtual void turn(world& w, mail m) = 0;
  /// Forgets the in-memory state (it is read back on the next mail);
  /// answers deferred callers as the host does.
  virtual void drop(world& w) = 0;
  /// Nothing waits on it in memory: it may leave (passivation).
  virtual bool idle() const = 0;
};

template <class Kind>
class actor final : public actor_base {
public:
  explicit actor(std::string id) : id_(std::move(id)) {}
  void turn(world& w, mail m) override;
  void drop(world& w) override;
  bool idle() const override {
    return deferred_.empty() && !Kind::busy(s);
  }

  typename Kind::state s;
  bool loaded = false;

private:
  struct waiter {
    std::string tag;
    reply_to reply;
  };
  std::string id_;
  std::vector<waiter> deferred_;
};

// --- the client workload ----------------------------------------------------

enum class op_kind : std::uint8_t {
  create,
  pay,
  pay_wrong_amount,
  /// The provider's callback of a declined payment (success = false).
  pay_failed,
  /// A payment that arrives after the order's deadline: held until the
  /// clock has passed it.
  pay_late,
  cancel,
  /// A cancel of the latest create, sent as soon as its order is stored:
  /// within the cooling period (unless the clock got there first).
  flash_cancel,
  complete,
  refund,
  restock,
};

struct client_op {
  op_kind k = op_kind::create;
  std::string user;
  std::string key;        ///< idempotency key (create), txn (pay)
  std::size_t target = 0; ///< index of the create it acts on
  std::vector<order::requested_item> items;
  std::string coupon;
  std::string affiliate;
  std::int64_t amount = 0; ///< restock: the new stock
  bool retry = false;      ///< send it again later (same key / txn)
  std::size_t index = 0;   ///< its index in the whole workload
};

// --- the world --------------------------------------------------------------

class world {
public:
  world(const options& o, bool keep_trace);
  outcome run();

  // Used by the actors.
  mem_store db;
  millis now = start_ms;
  tunables cfg;
  unsigned bugs = 0;

  template <class Kind>
  const typename Kind::config& config_of() const;

  /// After a turn: commit `b` (or fail it) and then let everything the
  /// turn produced go.
  bool commit(const address& self, storage::batch b);
  void deliver_answer(const reply_to& to, const answer& a,
                      const nlohmann::json& state_view);
  void send_request(const address& self, const envelope& req);
  void outbox_written(const address& self, const std::string& key,
                      std::uint64_t seq, const envelope& e);
  std::uint64_t next_seq() {
    return ++seq_;
  }
  /// Planted volatile_timers: arms (due > 0) or disarms a timer in memory.
  void set_volatile_timer(const std::string& key, millis due) {
    if (due > 0) {
      volatile_timers_[key] = due;
    } else {
      volatile_timers_.erase(key);
    }
  }
  /// Every armed timer: stored, and (planted) in memory.
  std::map<std::string, millis> timers();
  void note(std::string line);
  template <class Kind>
  void after_turn(const address& self, const typename Kind::state& before,
                  const typename Kind::state& after,
                  const actors::outcome& out);
  /// Rule 8, where a turn decides to send an SMS of `sms`.
  void check_sms(const actors::notifier::state& sms,
                 const actors::outcome& out);
  void fail(std::string rule, std::string detail);
  /// After an SKU's durable turn on `in`: a confirm in time finds its
  /// reservation.
  void check_confirm(const address& self, const actors::inventory::input& in,
                     const actors::inventory::state& before);
  /// A receiver's durable turn applied the message `dedupe_key`: a second
  /// time breaks "no side effect happens twice", whether or not the
  /// receiver's state machine would absorb it.
  void consumed(const std::string& dedupe_key) {
    if (!consumed_.insert(dedupe_key).second) {
      fail("message_applied_once", "applied again: " + dedupe_key);
    }
  }
  bool failed() const {
    return result_.failed.has_value();
  }

private:
  // The choices of one step.
  void step();
  std::vector<std::function<void()>> choices();
  void issue_client_op();
  bool op_ready(const client_op& op) const;
  void deliver_outbox(std::uint64_t seq);
  void run_event(std::size_t index);
  void fire_timer(const std::string& key, millis due);
  void advance_clock();
  void crash();
  void passivate();
  void send_mail(mail m);
  actor_base& actor_of(const address& a);
  void adapter(const envelope& e, std::uint64_t seq);

  // Checks.
  void check_step();
  void check_quiescent();
  void refresh(const address& a);

  // Workload.
  void make_workload();

  options opts_;
  bool keep_trace_;
  std::mt19937_64 rng_;
  outcome result_;
  std::deque<std::string> recent_;
  std::size_t step_ = 0;

  std::map<address, std::unique_ptr<actor_base>> actors_;
  std::vector<pending_event> events_;
  std::uint64_t next_event_ = 0;
  std::uint64_t seq_ = 0;
  std::size_t dead_letters_ = 0;
  /// Outbox entries handed over and not yet acknowledged.
  std::set<std::uint64_t> in_flight_;
  /// Outbox entries in memory only (planted volatile_outbox).
  std::map<std::uint64_t, std::string> volatile_outbox_;
  /// Timers in memory only (planted volatile_timers).
  std::map<std::string, millis> volatile_timers_;

  // The workload and what clients were told.
  std::vector<client_op> ops_;
  std::size_t next_op_ = 0;
  std::vector<std::string> order_ids_; ///< by create op index
  std::uint64_t next_call_ = 0;
  std::map<std::uint64_t, std::size_t> calls_; ///< call -> op index
  /// Creates waiting for their admission (call -> the order's mail).
  std::map<std::uint64_t, mail> creates_;
  /// Highest version of each order a client was told of (acknowledged).
  std::map<std::string, std::uint64_t> acked_;
  /// Every message id a receiver's durable turn applied (survives crashes:
  /// it is the world's record of what happened, not a node's memory).
  std::set<std::string> consumed_;

  // The world outside: what the payment provider and the SMS gateway did.
  std::map<std::string, int> refunds_by_id_;
  std::map<std::string, std::set<std::string>> refund_ids_by_payment_;
  std::set<std::string> sms_sent_new_order_;
  std::map<std::string, millis> cancelled_at_;

  // Stored state as last read back (the real codecs), for the checks.
  std::map<std::string, order::state> orders_;
  std::map<std::string, actors::inventory::state> skus_;
  std::map<std::string, actors::coupon::state> coupons_;
  std::map<std::string, actors::attribution::state> affiliates_;
  std::map<std::string, actors::reports::state> reports_;
};

template <>
const order::config& world::config_of<rt::order_kind>() const {
  return cfg.order;
}
template <>
const actors::inventory::config& world::config_of<rt::sku_kind>() const {
  return cfg.sku;
}
template <>
const actors::coupon::config& world::config_of<rt::coupon_kind>() const {
  return cfg.coupon;
}
template <>
const actors::attribution::config&
world::config_of<rt::affiliate_kind>() const {
  return cfg.affiliate;
}
template <>
const actors::notifier::config& world::config_of<rt::notifier_kind>() const {
  return cfg.notifier;
}
template <>
const actors::dispatcher::config&
world::config_of<rt::dispatcher_kind>() const {
  return cfg.dispatcher;
}
template <>
const actors::technicians::config&
world::config_of<rt::technicians_kind>() const {
  return cfg.technicians;
}
template <>
const actors::reports::config& world::config_of<rt::report_kind>() const {
  return cfg.report;
}
template <>
const actors::limiter::config& world::config_of<rt::limiter_kind>() const {
  return cfg.limiter;
}

bool retryable(const actors::error& e) {
  return e.code == actors::errc::unavailable
         || e.code == actors::errc::internal;
}

std::string str(const address& a) {
  return a.kind + "/" + a.id;
}

// --- one turn: host_impl.hpp's, single-threaded
// -------------------------------

template <class Kind>
void actor<Kind>::turn(world& w, mail m) {
  address self{Kind::name, id_};
  if (!loaded) {
    Kind::init(s, id_);
    Kind::restore(w.db, id_, s);
    loaded = true;
  }
  std::string dedupe_key;
  if (!m.dedupe_id.empty()) {
    dedupe_key = storage::keys::owned(Kind::name, id_, m.dedupe_id);
  }
  if (!dedupe_key.empty() && !(w.bugs & skip_dedupe)
      && w.db.get(storage::cf::dedupe, dedupe_key)) {
    w.note("  " + str(self) + " drops repeat " + m.dedupe_id);
    w.deliver_answer(m.reply, {std::nullopt, "duplicate", {}}, nullptr);
    return;
  }
  typename Kind::input in;
  if (m.msg) {
    auto decoded = Kind::decode(*m.msg);
    if (!decoded) {
      w.deliver_answer(m.reply, {decoded.err(), {}, {}}, nullptr);
      return;
    }
    in = std::move(decoded.value());
  } else {
    in = std::any_cast<typename Kind::input>(m.input);
  }
  auto before = s;
  auto was = Kind::remember(s);
  auto out = Kind::handle(s, in, w.now, w.config_of<Kind>());
  storage::batch b;
  if (!out.event.empty()) {
    Kind::persist(s, was, in, b);
  }
  if (!dedupe_key.empty()) {
    b.put(storage::cf::dedupe, dedupe_key,
          storage::keys::be64(static_cast<std::uint64_t>(w.now)));
  }
  if (m.timer_due > 0 && !rt::sets_timer(out, m.timer_name)
      && !(w.bugs & timer_fires_twice)) {
    auto key = storage::keys::owned(Kind::name, id_, m.timer_name);
    auto stored = w.db.get(storage::cf::timers, key);
    if (stored
        && storage::keys::from_be64(*stored)
             == static_cast<std::uint64_t>(m.timer_due)) {
      b.del(storage::cf::timers, key);
    }
  }
  std::vector<std::pair<std::uint64_t, envelope>> sent;
  for (auto& e : out.outbox) {
    auto seq = w.next_seq();
    nlohmann::json j{{"from", {self.kind, self.id}},
                     {"id", e.id},
                     {"to", {e.to.kind, e.to.id}},
                     {"type", e.type},
                     {"body", e.body}};
    if (!(w.bugs & volatile_outbox)) {
      b.put(storage::cf::outbox, storage::keys::be64(seq),
            storage::codec::pack(j));
    }
    sent.emplace_back(seq, e);
  }
  std::vector<std::pair<std::string, millis>> in_memory;
  rt::write_additions(out.additions, b);
  for (auto& t : out.timers) {
    auto key = storage::keys::owned(Kind::name, id_, t.name);
    if (w.bugs & volatile_timers) {
      in_memory.emplace_back(key, t.due);
    } else if (t.due > 0) {
      b.put(storage::cf::timers, key,
            storage::keys::be64(static_cast<std::uint64_t>(t.due)));
    } else {
      b.del(storage::cf::timers, key);
    }
  }
  // Who is answered by this turn, and how.
  std::vector<std::pair<reply_to, answer>> answers;
  if (!out.defer_tag.empty()) {
    deferred_.push_back({out.defer_tag, m.reply});
  } else {
    answers.push_back({m.reply, {out.err, out.result, out.reply}});
  }
  for (auto& r : out.resolves) {
    for (auto i = deferred_.begin(); i != deferred_.end();) {
      if (i->tag == r.tag) {
        answers.push_back({i->reply, {r.err, {}, {}}});
        i = deferred_.erase(i);
      } else {
        ++i;
      }
    }
  }
  nlohmann::json view;
  if constexpr (std::is_same_v<Kind, rt::order_kind>) {
    view = Kind::view(s);
  }
  if (w.bugs & reply_before_commit) {
    for (auto& [to, a] : answers) {
      if (to.k == reply_to::kind::client) {
        w.deliver_answer(to, a, view);
        to.k = reply_to::kind::none;
      }
    }
  }
  if (!w.commit(self, std::move(b))) {
    // Lost before its durable write: nothing happened; the message comes
    // again (outbox, timer) or its sender hears "unavailable".
    if (w.bugs & keep_failed_state) {
      w.note("  " + str(self) + " keeps the failed turn's state (planted)");
    } else {
      drop(w);
    }
    for (auto& [to, a] : answers) {
      w.deliver_answer(
        to, {actors::error{actors::errc::unavailable, "commit failed"}, {}, {}},
        nullptr);
    }
    return;
  }
  for (auto& [key, due] : in_memory) {
    w.set_volatile_timer(key, due);
  }
  if (!dedupe_key.empty()) {
    w.consumed(dedupe_key);
  }
  w.template after_turn<Kind>(self, before, s, out);
  if constexpr (std::is_same_v<Kind, rt::sku_kind>) {
    w.check_confirm(self, in, before);
  }
  for (auto& [seq, e] : sent) {
    w.outbox_written(self, storage::keys::be64(seq), seq, e);
  }
  for (auto& [to, a] : answers) {
    w.deliver_answer(to, a, view);
  }
  for (auto& req : out.requests) {
    w.send_request(self, req);
  }
}

template <class Kind>
void actor<Kind>::drop(world& w) {
  for (auto& d : deferred_) {
    w.deliver_answer(
      d.reply,
      {actors::error{actors::errc::unavailable, "actor reloaded"}, {}, {}},
      nullptr);
  }
  deferred_.clear();
  s = typename Kind::state{};
  loaded = false;
}

// --- the world's parts ------------------------------------------------------

world::world(const options& o, bool keep_trace)
  : opts_(o), keep_trace_(keep_trace), rng_(o.seed) {
  bugs = o.bugs;
  actors::planted::bugs = o.bugs >> 16;
  result_.failed.reset();
  make_workload();
}

void world::note(std::string line) {
  if (keep_trace_) {
    result_.trace.push_back(line);
  }
  recent_.push_back(std::move(line));
  if (recent_.size() > 40) {
    recent_.pop_front();
  }
}

void world::fail(std::string rule, std::string detail) {
  if (result_.failed) {
    return;
  }
  failure f;
  f.seed = opts_.seed;
  f.step = step_;
  f.rule = std::move(rule);
  f.detail = std::move(detail);
  f.last_events.assign(recent_.begin(), recent_.end());
  f.bugs = opts_.bugs;
  f.only_ops = opts_.only_ops;
  result_.failed = std::move(f);
}

actor_base& world::actor_of(const address& a) {
  auto i = actors_.find(a);
  if (i != actors_.end()) {
    return *i->second;
  }
  std::unique_ptr<actor_base> p;
  if (a.kind == rt::order_kind::name) {
    p = std::make_unique<actor<rt::order_kind>>(a.id);
  } else if (a.kind == rt::sku_kind::name) {
    p = std::make_unique<actor<rt::sku_kind>>(a.id);
  } else if (a.kind == rt::coupon_kind::name) {
    p = std::make_unique<actor<rt::coupon_kind>>(a.id);
  } else if (a.kind == rt::affiliate_kind::name) {
    p = std::make_unique<actor<rt::affiliate_kind>>(a.id);
  } else if (a.kind == rt::notifier_kind::name) {
    p = std::make_unique<actor<rt::notifier_kind>>(a.id);
  } else if (a.kind == rt::dispatcher_kind::name) {
    p = std::make_unique<actor<rt::dispatcher_kind>>(a.id);
  } else if (a.kind == rt::technicians_kind::name) {
    p = std::make_unique<actor<rt::technicians_kind>>(a.id);
  } else if (a.kind == rt::report_kind::name) {
    p = std::make_unique<actor<rt::report_kind>>(a.id);
  } else if (a.kind == rt::limiter_kind::name) {
    p = std::make_unique<actor<rt::limiter_kind>>(a.id);
  } else {
    fail("routing", "no actor kind " + a.kind);
    p = std::make_unique<actor<rt::report_kind>>(a.id);
  }
  return *actors_.emplace(a, std::move(p)).first->second;
}

bool world::commit(const address& self, storage::batch b) {
  if (std::uniform_int_distribution<unsigned>{0, 999}(rng_)
      < opts_.commit_failure_permille) {
    ++result_.commit_failures;
    note("  commit of " + str(self) + " fails");
    return false;
  }
  // What the turn counted elsewhere (a report shard's sums) is read back
  // with the turn's own state.
  std::set<address> counted;
  for (const auto& op : b.ops()) {
    std::string kind, id, part;
    if (op.add && storage::keys::split_owned(op.key, &kind, &id, &part)) {
      counted.insert({kind, id});
    }
  }
  db.commit(std::move(b), nullptr);
  refresh(self);
  for (const auto& a : counted) {
    refresh(a);
  }
  return true;
}

void world::send_mail(mail m) {
  if (m.to.kind == "payment" || m.to.kind == "sms") {
    adapter(*m.msg, m.reply.seq);
    return;
  }
  actor_of(m.to).turn(*this, std::move(m));
}

void world::deliver_answer(const reply_to& to, const answer& a,
                           const nlohmann::json& state_view) {
  switch (to.k) {
    case reply_to::kind::none: return;
    case reply_to::kind::client: {
      auto i = calls_.find(to.call);
      if (i == calls_.end()) {
        return;
      }
      const auto& op = ops_[i->second];
      note(
        "  client call " + std::to_string(to.call) + " answered "
        + (a.err ? std::string{"error: "} + a.err->message : "ok " + a.result));
      if (!a.err && state_view.is_object() && state_view.contains("id")
          && state_view.contains("v")) {
        // Reads are never older than an acknowledged write (rule 11), and
        // an acknowledged write is durable: the store has this version.
        auto id = state_view["id"].get<std::string>();
        auto v = state_view["v"].get<std::uint64_t>();
        auto stored = orders_.find(id);
        if (stored == orders_.end() || stored->second.version != v) {
          fail("reads_equal_acknowledged_state",
               "order " + id + " acknowledged at version " + std::to_string(v)
                 + " but stored at "
                 + (stored == orders_.end()
                      ? std::string{"nothing"}
                      : std::to_string(stored->second.version)));
        }
        auto& acked = acked_[id];
        acked = std::max(acked, v);
        switch (op.k) {
          case op_kind::create: ++result_.creates_acked; break;
          case op_kind::cancel:
          case op_kind::flash_cancel: ++result_.cancels_acked; break;
          case op_kind::pay:
          case op_kind::pay_wrong_amount:
          case op_kind::pay_failed:
          case op_kind::pay_late: ++result_.payments_acked; break;
          default: break;
        }
      }
      calls_.erase(i);
      return;
    }
    case reply_to::kind::requester: {
      if (std::uniform_int_distribution<unsigned>{0, 999}(rng_)
          < opts_.request_loss_permille) {
        ++result_.requests_lost;
        note("  reply " + to.type + ".reply to " + str(to.from) + " lost");
        return;
      }
      pending_event ev;
      ev.id = ++next_event_;
      ev.what = to.type + ".reply from " + to.target + " to " + str(to.from);
      ev.m.to = to.from;
      ev.m.msg = envelope{"", to.from, to.type + ".reply",
                          actors::reply_body(to.target, a.err, a.reply)};
      events_.push_back(std::move(ev));
      return;
    }
    case reply_to::kind::admission:
    case reply_to::kind::created:
    case reply_to::kind::withdrawal: {
      // The node's create around the limiter (runtime/node.cpp): admitted,
      // the create goes to the order; refused outright by the order, the
      // slot is given back before the client hears of it.
      auto i = creates_.find(to.call);
      if (i == creates_.end()) {
        return;
      }
      pending_event ev;
      ev.id = ++next_event_;
      if (to.k == reply_to::kind::admission && !a.err) {
        ev.what = "admitted: create " + i->second.to.id;
        ev.m = i->second;
        ev.m.reply.k = reply_to::kind::created;
      } else if (to.k == reply_to::kind::created && a.err
                 && actors::limiter::refused_outright(a.err->code)) {
        ev.what = "withdraw " + i->second.to.id;
        ev.m.to = {rt::limiter_kind::name, ops_[calls_.at(to.call)].user};
        ev.m.input
          = actors::limiter::input{actors::limiter::withdraw{i->second.to.id}};
        ev.m.reply = reply_to::of(reply_to::kind::withdrawal, to.call);
        ev.m.reply.refusal = a.err;
      } else {
        creates_.erase(i);
        auto told = a;
        if (to.k == reply_to::kind::withdrawal) {
          told = {to.refusal, {}, {}};
        }
        deliver_answer(reply_to::of(reply_to::kind::client, to.call), told,
                       state_view);
        return;
      }
      events_.push_back(std::move(ev));
      return;
    }
    case reply_to::kind::outbox:
    case reply_to::kind::adapter: {
      pending_event ev;
      ev.id = ++next_event_;
      ev.ack_seq = to.seq;
      ev.retry = a.err && retryable(*a.err);
      ev.dead = a.err && !retryable(*a.err);
      ev.what = "ack of outbox " + std::to_string(to.seq)
                + (a.err ? " (" + a.err->message + ")" : "");
      events_.push_back(std::move(ev));
      return;
    }
  }
}

void world::send_request(const address& self, const envelope& req) {
  if (std::uniform_int_distribution<unsigned>{0, 999}(rng_)
      < opts_.request_loss_permille) {
    ++result_.requests_lost;
    note("  request " + req.type + " to " + str(req.to) + " lost");
    return;
  }
  pending_event ev;
  ev.id = ++next_event_;
  ev.what = "request " + req.type + " from " + str(self) + " to " + str(req.to);
  ev.m.to = req.to;
  ev.m.msg = req;
  ev.m.reply.k = reply_to::kind::requester;
  ev.m.reply.from = self;
  ev.m.reply.type = req.type;
  ev.m.reply.target = req.to.id;
  events_.push_back(std::move(ev));
}

void world::outbox_written(const address& self, const std::string& key,
                           std::uint64_t seq, const envelope& e) {
  if (bugs & volatile_outbox) {
    volatile_outbox_[seq]
      = storage::codec::pack(nlohmann::json{{"from", {self.kind, self.id}},
                                            {"id", e.id},
                                            {"to", {e.to.kind, e.to.id}},
                                            {"type", e.type},
                                            {"body", e.body}});
  }
  static_cast<void>(key);
}

/// The payment provider and the SMS gateway: outside the node, so what
/// they did survives a crash. They fail now and then; a success is
/// confirmed to the actor as the sandbox provider and the log sink do,
/// and only that confirmation acknowledges the outbox entry.
void world::adapter(const envelope& e, std::uint64_t seq) {
  if (std::uniform_int_distribution<unsigned>{0, 999}(rng_)
      < opts_.provider_failure_permille) {
    ++result_.provider_failures;
    note("  " + e.to.kind + " call " + e.type + " fails");
    deliver_answer(
      reply_to::of(reply_to::kind::adapter, 0, seq),
      {actors::error{actors::errc::unavailable, "provider failed"}, {}, {}},
      nullptr);
    return;
  }
  auto order_id = e.body.value("order_id", std::string{});
  if (e.to.kind == "payment" && e.type == "refund") {
    auto refund_id = e.body.value("refund_id", std::string{});
    auto txn = e.body.value("txn_id", std::string{});
    auto& n = refunds_by_id_[refund_id];
    ++n;
    if (n == 1 || (bugs & provider_without_dedupe)) {
      ++result_.refunds;
      refund_ids_by_payment_[order_id + "/" + txn].insert(
        n == 1 ? refund_id : refund_id + "#" + std::to_string(n));
    }
    mail m;
    m.to = {"order", order_id};
    m.msg = envelope{"", m.to, "refund_done", {{"refund_id", refund_id}}};
    m.dedupe_id = "payment/refund_done/" + refund_id;
    m.reply.k = reply_to::kind::adapter;
    m.reply.seq = seq;
    pending_event ev;
    ev.id = ++next_event_;
    ev.what = "refund_done " + refund_id + " to order/" + order_id;
    ev.m = std::move(m);
    events_.push_back(std::move(ev));
    return;
  }
  if (e.to.kind == "sms") {
    auto id = e.body.value("notification_id", std::string{});
    auto tmpl = e.body.value("template", std::string{});
    if (tmpl == actors::notifier::cancelled_template
        && sms_sent_new_order_.count(order_id) == 0) {
      fail("cancel_notice_after_new_order",
           "order " + order_id
             + ": a cancelled notice went out before any "
               "new-order notice");
    }
    if (tmpl == actors::notifier::new_order_template) {
      sms_sent_new_order_.insert(order_id);
    }
    mail m;
    m.to = {e.body.value("confirm_to", std::string{"notifier"}), order_id};
    m.msg = envelope{"", m.to, "sms_sent", {{"notification_id", id}}};
    // No dedupe id, as the adapter (runtime/detail/sms.cpp): the SMS
    // machine ignores a repeat.
    m.reply.k = reply_to::kind::adapter;
    m.reply.seq = seq;
    pending_event ev;
    ev.id = ++next_event_;
    ev.what = "sms_sent " + id;
    ev.m = std::move(m);
    events_.push_back(std::move(ev));
    return;
  }
  // close: nothing to confirm but the call.
  deliver_answer(reply_to::of(reply_to::kind::adapter, 0, seq), {}, nullptr);
}

/// Reads what `a` now has in storage back through its kind's codec.
void world::refresh(const address& a) {
  if (a.kind == rt::order_kind::name) {
    order::state s;
    rt::order_kind::init(s, a.id);
    rt::order_kind::restore(db, a.id, s);
    orders_[a.id] = std::move(s);
  } else if (a.kind == rt::sku_kind::name) {
    actors::inventory::state s;
    rt::sku_kind::init(s, a.id);
    rt::sku_kind::restore(db, a.id, s);
    skus_[a.id] = std::move(s);
  } else if (a.kind == rt::coupon_kind::name) {
    actors::coupon::state s;
    rt::coupon_kind::init(s, a.id);
    rt::coupon_kind::restore(db, a.id, s);
    coupons_[a.id] = std::move(s);
  } else if (a.kind == rt::affiliate_kind::name) {
    actors::attribution::state s;
    rt::affiliate_kind::init(s, a.id);
    rt::affiliate_kind::restore(db, a.id, s);
    affiliates_[a.id] = std::move(s);
  } else if (a.kind == rt::report_kind::name) {
    actors::reports::state s;
    rt::report_kind::init(s, a.id);
    rt::report_kind::restore(db, a.id, s);
    reports_[a.id] = std::move(s);
  }
}

template <class Kind>
void world::after_turn(const address& self, const typename Kind::state& before,
                       const typename Kind::state& after,
                       const actors::outcome& out) {
  if constexpr (std::is_same_v<Kind, rt::order_kind>) {
    if (before.st != order::status::cancelled
        && after.st == order::status::cancelled) {
      cancelled_at_[self.id] = now;
      // Rule 8 from the other side: the new-order SMS already went (or is
      // going) out, and the cancel comes within the cooling period.
      auto sms = order::sms_of(after);
      const auto* n = sms ? &sms->new_order : nullptr;
      if (n != nullptr && *n
          && ((*n)->in_flight || (*n)->st == actors::notifier::status::sent)
          && now < (*n)->created_at + cfg.order.notify.notify_delay) {
        fail("no_sms_for_flash_cancel",
             "order " + self.id + " cancelled "
               + std::to_string(now - (*n)->created_at)
               + " ms after it was placed had its new-order SMS sent");
      }
    }
  }
  if constexpr (std::is_same_v<Kind, rt::limiter_kind>) {
    // Rule 10: never more admissions in a window than the limit.
    auto recent = std::count_if(after.admitted.begin(), after.admitted.end(),
                                [&](const auto& a) {
                                  return a.at > now - cfg.limiter.window;
                                });
    if (static_cast<std::uint32_t>(recent) > cfg.limiter.max_orders) {
      fail("rate_limit", "user " + self.id + " has " + std::to_string(recent)
                           + " creates admitted in "
                           + std::to_string(cfg.limiter.window) + " ms");
    }
  }
  if constexpr (std::is_same_v<Kind, rt::sku_kind>) {
    if (!actors::inventory::conserved(after)) {
      fail("stock_conservation",
           "sku " + self.id + " in memory after " + out.cause);
    }
  }
  if constexpr (std::is_same_v<Kind, rt::order_kind>) {
    if (auto sms = order::sms_of(after)) {
      check_sms(*sms, out);
    }
  }
  if constexpr (std::is_same_v<Kind, rt::notifier_kind>) {
    check_sms(after, out);
  }
}

void world::check_sms(const actors::notifier::state& sms,
                      const actors::outcome& out) {
  for (const auto& e : out.outbox) {
    if (e.to.kind != "sms") {
      continue;
    }
    auto tmpl = e.body.value("template", std::string{});
    const auto& n = tmpl == actors::notifier::new_order_template
                      ? sms.new_order
                      : sms.cancel_notice;
    if (!n) {
      continue;
    }
    if (now - n->created_at > cfg.order.notify.notify_ttl) {
      fail("notification_ttl", "notification " + n->notification_id + " sent "
                                 + std::to_string(now - n->created_at)
                                 + " ms after it was made");
    }
    if (tmpl == actors::notifier::new_order_template) {
      auto c = cancelled_at_.find(sms.order_id);
      if (c != cancelled_at_.end()
          && c->second < n->created_at + cfg.order.notify.notify_delay) {
        fail("no_sms_for_flash_cancel",
             "order " + sms.order_id + " cancelled "
               + std::to_string(c->second - n->created_at)
               + " ms after it was placed got its new-order SMS");
      }
    }
  }
}

/// A reservation outlives its order's payment deadline by the margin the
/// order asked for (actors/inventory.hpp, reserve), so a payment accepted
/// on time finds its units held: a confirm that arrives by then and finds
/// no reservation of the order (it sells from available, or falls short
/// and the order is refunded although it paid on time) means the
/// reservation went early. A reservation under another token is an older
/// create attempt's, which the SKU cannot tell from a newer one; not this
/// rule's case.
void world::check_confirm(const address& self,
                          const actors::inventory::input& in,
                          const actors::inventory::state& before) {
  const auto* c = std::get_if<actors::inventory::confirm>(&in);
  if (c == nullptr || before.reservations.count(c->order_id) != 0) {
    return;
  }
  auto o = orders_.find(c->order_id);
  if (o == orders_.end() || o->second.pay_deadline == 0) {
    return;
  }
  auto held_until = o->second.pay_deadline + cfg.order.reservation_margin;
  if (now < held_until) {
    fail("reservation_outlives_deadline",
         "order " + c->order_id + " was paid on time and its confirm at sku "
           + self.id + " found no reservation "
           + std::to_string(held_until - now)
           + " ms before the reservation was due to expire");
  }
}

// --- the scheduler
// ------------------------------------------------------------

std::vector<std::function<void()>> world::choices() {
  std::vector<std::function<void()>> c;
  if (next_op_ < ops_.size() && op_ready(ops_[next_op_])) {
    c.push_back([this] {
      issue_client_op();
    });
  }
  // The relay's lanes: one sender to one receiver, delivered one at a time
  // in outbox order; the head of a lane whose delivery is not acknowledged
  // yet goes again now and then (its ack timed out).
  std::map<std::pair<std::string, std::string>, std::uint64_t> heads;
  auto lane_of = [&](std::uint64_t seq, std::string_view value) {
    auto j = storage::codec::unpack(value);
    auto lane = std::make_pair(
      j["from"][0].get<std::string>() + "/" + j["from"][1].get<std::string>(),
      j["to"][0].get<std::string>() + "/" + j["to"][1].get<std::string>());
    heads.emplace(lane, seq); // the first seen is the oldest
  };
  if (bugs & volatile_outbox) {
    for (auto& [seq, v] : volatile_outbox_) {
      lane_of(seq, v);
    }
  } else {
    db.scan(storage::cf::outbox, "",
            [&](std::string_view k, std::string_view v) {
              lane_of(*storage::keys::from_be64(k), v);
              return true;
            });
  }
  for (auto& [lane, seq] : heads) {
    if (in_flight_.count(seq) > 0
        && std::uniform_int_distribution<unsigned>{0, 4}(rng_) != 0) {
      continue;
    }
    c.push_back([this, seq = seq] {
      deliver_outbox(seq);
    });
  }
  for (std::size_t i = 0; i < events_.size(); ++i) {
    c.push_back([this, i] {
      run_event(i);
    });
  }
  for (auto& [key, due] : timers()) {
    if (due <= now) {
      c.push_back([this, key = key, due] {
        fire_timer(key, due);
      });
    }
  }
  return c;
}

/// Whether the client would send `op` now: a late pay waits until the clock
/// has passed its order's deadline, a flash cancel until its order is
/// stored, and either while its order's create is in flight. Clients send
/// in workload order, so a held op holds those after it.
bool world::op_ready(const client_op& op) const {
  if (op.k != op_kind::pay_late && op.k != op_kind::flash_cancel) {
    return true;
  }
  auto i = orders_.find(order_ids_[op.target]);
  bool stored = i != orders_.end() && i->second.st != order::status::none;
  if (op.k == op_kind::pay_late && stored) {
    return now > i->second.pay_deadline;
  }
  if (stored) {
    return true;
  }
  return std::none_of(calls_.begin(), calls_.end(), [&](const auto& call) {
    return call.second == op.target;
  });
}

void world::step() {
  ++step_;
  auto c = choices();
  if (c.empty() && next_op_ < ops_.size() && timers().empty()) {
    // Only a held client op is left and no timer will move the clock: a
    // late pay's client waits out the deadline itself (its order was paid
    // or cancelled, which disarmed the deadline timer); anything else
    // (a create stuck for good) is sent now.
    const auto& op = ops_[next_op_];
    auto i = orders_.find(order_ids_[op.target]);
    if (op.k == op_kind::pay_late && i != orders_.end()
        && i->second.st != order::status::none
        && now <= i->second.pay_deadline) {
      note("clock +" + std::to_string(i->second.pay_deadline + 1 - now)
           + " ms: a client waits to pay late");
      now = i->second.pay_deadline + 1;
      return;
    }
    note("client sends a held op");
    issue_client_op();
    return;
  }
  bool busy = !c.empty();
  // Time moves on now and then even while there is work, and always when
  // there is none (to the next timer).
  if (!busy || std::uniform_int_distribution<unsigned>{0, 99}(rng_) < 3) {
    if (busy || !timers().empty()) {
      advance_clock();
      return;
    }
    result_.quiescent = true;
    return;
  }
  if (std::uniform_int_distribution<unsigned>{0, 999}(rng_)
      < opts_.crash_permille) {
    crash();
    return;
  }
  if (!actors_.empty()
      && std::uniform_int_distribution<unsigned>{0, 99}(rng_) < 5) {
    passivate();
    return;
  }
  auto pick = std::uniform_int_distribution<std::size_t>{0, c.size() - 1}(rng_);
  c[pick]();
}

void world::advance_clock() {
  millis next = 0;
  for (auto& [key, due] : timers()) {
    if (next == 0 || due < next) {
      next = due;
    }
  }
  auto by = std::uniform_int_distribution<millis>{1, 4'000}(rng_);
  if (next > now && (next - now < by || events_.empty())) {
    by = next - now;
  }
  now += std::max<millis>(by, 1);
  note("clock +" + std::to_string(by) + " ms");
}

/// An idle actor leaves memory, as the directory's sweep lets it; its
/// next mail reads it back from storage.
void world::passivate() {
  auto i = actors_.begin();
  std::advance(
    i, std::uniform_int_distribution<std::size_t>{0, actors_.size() - 1}(rng_));
  if (!i->second->idle()) {
    return;
  }
  note("passivate " + str(i->first));
  ++result_.passivations;
  actors_.erase(i);
}

void world::crash() {
  ++result_.crashes;
  note("CRASH: memory and everything in flight lost");
  for (auto& [a, p] : actors_) {
    p->drop(*this);
  }
  actors_.clear();
  events_.clear();
  calls_.clear();
  creates_.clear();
  volatile_outbox_.clear();
  volatile_timers_.clear();
  in_flight_.clear();
  // Every acknowledged write is still there (rule: nothing acknowledged is
  // lost).
  for (auto& [id, v] : acked_) {
    refresh({"order", id});
    auto i = orders_.find(id);
    if (i == orders_.end() || i->second.version < v) {
      fail("acknowledged_write_durable",
           "order " + id + " was acknowledged at version " + std::to_string(v)
             + " and is gone after a crash");
    }
  }
}

void world::deliver_outbox(std::uint64_t seq) {
  std::optional<std::string> bytes;
  if (bugs & volatile_outbox) {
    bytes = volatile_outbox_[seq];
  } else {
    bytes = db.get(storage::cf::outbox, storage::keys::be64(seq));
  }
  auto j = storage::codec::unpack(*bytes);
  envelope e{
    j.at("id").get<std::string>(),
    {j.at("to")[0].get<std::string>(), j.at("to")[1].get<std::string>()},
    j.at("type").get<std::string>(),
    j.at("body")};
  if (!in_flight_.insert(seq).second) {
    ++result_.redeliveries;
  }
  note("deliver outbox " + std::to_string(seq) + " " + e.type + " to "
       + str(e.to) + " (" + e.id + ")");
  mail m;
  m.to = e.to;
  m.msg = e;
  m.dedupe_id = e.id;
  m.reply.k = reply_to::kind::outbox;
  m.reply.seq = seq;
  if (bugs & ack_before_commit) {
    // The relay forgets it as soon as it is handed over.
    pending_event ev;
    ev.ack_seq = seq;
    events_.push_back(ev);
    run_event(events_.size() - 1);
    m.reply.k = reply_to::kind::none;
  }
  send_mail(std::move(m));
}

void world::run_event(std::size_t index) {
  auto ev = std::move(events_[index]);
  events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(index));
  if (ev.m.to.kind.empty()) {
    // The receiver's answer reaches the relay: it deletes the entry (its
    // own batch) after a success or a permanent refusal (a dead letter),
    // and keeps it for a retry after a retryable failure.
    in_flight_.erase(ev.ack_seq);
    if (ev.retry) {
      return;
    }
    if (ev.dead) {
      ++dead_letters_;
      note("outbox " + std::to_string(ev.ack_seq) + " refused: dead letter");
    }
    if (bugs & volatile_outbox) {
      volatile_outbox_.erase(ev.ack_seq);
      return;
    }
    storage::batch b;
    b.del(storage::cf::outbox, storage::keys::be64(ev.ack_seq));
    db.commit(std::move(b), nullptr);
    return;
  }
  note(ev.what);
  send_mail(std::move(ev.m));
}

std::map<std::string, millis> world::timers() {
  std::map<std::string, millis> all = volatile_timers_;
  for (auto& [key, value] : db.family(storage::cf::timers)) {
    all[key] = static_cast<millis>(*storage::keys::from_be64(value));
  }
  return all;
}

void world::fire_timer(const std::string& key, millis due) {
  volatile_timers_.erase(key);
  std::string kind, id, name;
  storage::keys::split_owned(key, &kind, &id, &name);
  note("timer " + name + " of " + kind + "/" + id + " fires");
  mail m;
  m.to = {kind, id};
  m.msg = envelope{"", m.to, "timer", {{"name", name}, {"due", due}}};
  m.timer_name = name;
  m.timer_due = due;
  if (bugs & timer_fires_twice) {
    // Fired, but still stored: it would fire again after a crash.
    send_mail(std::move(m));
    storage::batch b;
    b.del(storage::cf::timers, key);
    if (std::uniform_int_distribution<unsigned>{0, 1}(rng_) == 0) {
      db.commit(std::move(b), nullptr);
    }
    return;
  }
  send_mail(std::move(m));
}

// --- the workload
// -------------------------------------------------------------

/// The client ops of `o`'s workload, in the order clients send them: the
/// whole workload of its seed, cut to `o.only_ops` when set (an op whose
/// create was cut goes too); `target` indexes the returned ops.
std::vector<client_op> workload_ops(const options& o) {
  std::mt19937_64 gen(o.seed * 0x9e3779b97f4a7c15ULL + 7);
  auto pick = [&](int n) {
    return static_cast<int>(std::uniform_int_distribution<int>{0, n - 1}(gen));
  };
  const char* skus[] = {"goods-1", "goods-2", "svc-1"};
  std::vector<client_op> ops;
  std::vector<std::size_t> creates;
  for (std::size_t i = 0; i < o.client_ops; ++i) {
    client_op op;
    op.index = i;
    int roll = creates.empty() ? 0 : pick(100);
    if (roll < 40) {
      op.k = op_kind::create;
      op.user = "user-" + std::to_string(pick(3));
      op.key = "k" + std::to_string(i);
      int lines = 1 + pick(2);
      for (int l = 0; l < lines; ++l) {
        op.items.push_back({skus[pick(3)], 1 + pick(3)});
      }
      if (pick(3) == 0) {
        op.coupon = "coupon-" + op.user; // coupons are per user
      }
      if (pick(2) == 0) {
        op.affiliate = "aff-" + std::to_string(pick(2));
      }
      creates.push_back(i);
    } else {
      op.target = creates[static_cast<std::size_t>(
        pick(static_cast<int>(creates.size())))];
      op.user = ops[op.target].user;
      op.key = "txn-" + std::to_string(i);
      if (roll < 58) {
        op.k = op_kind::pay;
      } else if (roll < 62) {
        op.k = op_kind::pay_wrong_amount;
      } else if (roll < 65) {
        op.k = op_kind::pay_failed;
      } else if (roll < 68) {
        op.k = op_kind::pay_late;
      } else if (roll < 82) {
        op.k = op_kind::cancel;
      } else if (roll < 88) {
        op.k = op_kind::flash_cancel;
        op.target = creates.back();
        op.user = ops[op.target].user;
      } else if (roll < 93) {
        op.k = op_kind::complete;
      } else if (roll < 97) {
        op.k = op_kind::refund;
      } else {
        op.k = op_kind::restock;
        op.amount = 5 + pick(20);
        op.items.push_back({skus[pick(3)], 0});
      }
    }
    op.retry = pick(5) == 0;
    ops.push_back(std::move(op));
  }
  if (o.only_ops.empty()) {
    return ops;
  }
  std::vector<client_op> kept;
  std::map<std::size_t, std::size_t> moved;
  for (auto i : o.only_ops) {
    if (i >= ops.size()) {
      continue;
    }
    auto op = ops[i];
    if (op.k != op_kind::create && op.k != op_kind::restock) {
      auto t = moved.find(op.target);
      if (t == moved.end()) {
        continue; // its create was cut
      }
      op.target = t->second;
    }
    if (op.k == op_kind::create) {
      moved[i] = kept.size();
    }
    kept.push_back(std::move(op));
  }
  return kept;
}

/// `op` of `ops` as one line of a reproducer.
std::string text(const client_op& op, const std::vector<client_op>& ops) {
  std::ostringstream out;
  out << "op " << op.index << ": ";
  auto of = [&] {
    return " of op " + std::to_string(ops[op.target].index) + "'s order";
  };
  switch (op.k) {
    case op_kind::create:
      out << "create " << op.key << " by " << op.user << ": ";
      for (std::size_t i = 0; i < op.items.size(); ++i) {
        out << (i == 0 ? "" : " + ") << op.items[i].quantity << " x "
            << op.items[i].sku;
      }
      if (!op.coupon.empty()) {
        out << ", " << op.coupon;
      }
      if (!op.affiliate.empty()) {
        out << ", via " << op.affiliate;
      }
      break;
    case op_kind::pay: out << "pay" << of() << ", " << op.key; break;
    case op_kind::pay_wrong_amount:
      out << "pay the wrong amount" << of() << ", " << op.key;
      break;
    case op_kind::pay_failed:
      out << "declined payment" << of() << ", " << op.key;
      break;
    case op_kind::pay_late:
      out << "pay after the deadline" << of() << ", " << op.key;
      break;
    case op_kind::cancel: out << "cancel" << of(); break;
    case op_kind::flash_cancel: out << "flash cancel" << of(); break;
    case op_kind::complete: out << "complete" << of(); break;
    case op_kind::refund: out << "refund" << of(); break;
    case op_kind::restock:
      out << "restock " << op.items[0].sku << " to what it holds + "
          << op.amount;
      break;
  }
  if (op.retry) {
    out << " (sent twice)";
  }
  return out.str();
}

void world::make_workload() {
  ops_ = workload_ops(opts_);
  order_ids_.resize(ops_.size());
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    if (ops_[i].k == op_kind::create) {
      order_ids_[i] = runtime::order_id(ops_[i].user, ops_[i].key, partitions);
    }
  }
}

void world::issue_client_op() {
  auto index = next_op_;
  auto& op = ops_[index];
  // A retry goes again later: the op is issued twice.
  if (op.retry) {
    op.retry = false;
  } else {
    ++next_op_;
  }
  mail m;
  m.reply.k = reply_to::kind::client;
  m.reply.call = ++next_call_;
  m.want_state = true;
  calls_[m.reply.call] = index;
  std::string text;
  switch (op.k) {
    case op_kind::create: {
      order::create c;
      c.user_id = op.user;
      c.items = op.items;
      c.coupon_id = op.coupon;
      c.affiliate_id = op.affiliate;
      c.fingerprint = op.key;
      c.token = (rng_() | 1);
      m.to = {"order", order_ids_[index]};
      m.input = order::input{std::move(c)};
      text = "create " + order_ids_[index] + " by " + op.user;
      auto stored = orders_.find(order_ids_[index]);
      if (stored == orders_.end() || stored->second.st == order::status::none) {
        // A new order passes its user's limiter first (rule 10).
        creates_[m.reply.call] = m;
        mail admit;
        admit.to = {rt::limiter_kind::name, op.user};
        admit.input = actors::limiter::input{
          actors::limiter::admit{order_ids_[index], {}, std::nullopt}};
        admit.reply = reply_to::of(reply_to::kind::admission, m.reply.call);
        note("client " + std::to_string(m.reply.call) + ": " + text
             + " (admission)");
        send_mail(std::move(admit));
        return;
      }
      break;
    }
    case op_kind::pay:
    case op_kind::pay_wrong_amount:
    case op_kind::pay_failed:
    case op_kind::pay_late: {
      auto id = order_ids_[op.target];
      auto i = orders_.find(id);
      bool stored = i != orders_.end() && i->second.st != order::status::none;
      std::int64_t amount = i == orders_.end() ? 1000 : i->second.payable;
      if (op.k == op_kind::pay_wrong_amount) {
        amount += 1;
      }
      bool success = op.k != op_kind::pay_failed;
      m.to = {"order", id};
      m.input = order::input{order::pay{op.key, amount, success}};
      text = "pay " + id + " " + op.key + " " + std::to_string(amount);
      if (!success) {
        ++result_.failed_pays;
        text += " (declined)";
      }
      if (op.k == op_kind::pay_late && stored && now > i->second.pay_deadline) {
        ++result_.late_pays;
        text
          += " (" + std::to_string(now - i->second.pay_deadline) + " ms late";
        if (i->second.st == order::status::pending_payment) {
          // Before the deadline timer cancelled it: the order must see
          // the deadline itself.
          ++result_.late_pays_before_timeout;
          text += ", the order still waits";
        }
        text += ")";
      }
      break;
    }
    case op_kind::cancel:
    case op_kind::flash_cancel: {
      m.to = {"order", order_ids_[op.target]};
      m.input = order::input{order::cancel{}};
      text = "cancel " + m.to.id;
      auto i = orders_.find(m.to.id);
      if (op.k == op_kind::flash_cancel && i != orders_.end()
          && i->second.st == order::status::pending_payment
          && now < i->second.created_at + cfg.notifier.notify_delay) {
        ++result_.flash_cancels;
        text += " (flash: " + std::to_string(now - i->second.created_at)
                + " ms after it was placed)";
      }
      break;
    }
    case op_kind::complete:
      m.to = {"order", order_ids_[op.target]};
      m.input = order::input{order::complete{}};
      text = "complete " + m.to.id;
      break;
    case op_kind::refund:
      m.to = {"order", order_ids_[op.target]};
      m.input = order::input{order::refund{}};
      text = "refund " + m.to.id;
      break;
    case op_kind::restock: {
      const auto& sku = op.items[0].sku;
      auto i = skus_.find(sku);
      auto held = i == skus_.end() ? 0 : i->second.reserved + i->second.sold;
      m.to = {"sku", sku};
      m.input = actors::inventory::input{actors::inventory::put{
        100, held + op.amount,
        sku.rfind("svc", 0) == 0 ? actors::item_kind::service
                                 : actors::item_kind::goods}};
      text = "restock " + sku;
      break;
    }
  }
  note("client " + std::to_string(m.reply.call) + ": " + text);
  send_mail(std::move(m));
}

// --- the checks
// -----------------------------------------------------------------

bool live(order::status st) {
  return st == order::status::paid || st == order::status::dispatched
         || st == order::status::completed;
}

void world::check_step() {
  for (const auto& [id, s] : skus_) {
    if (!actors::inventory::conserved(s)) {
      fail("stock_conservation",
           "sku " + id + " stored: available " + std::to_string(s.available)
             + " + reserved " + std::to_string(s.reserved) + " + sold "
             + std::to_string(s.sold) + " vs stocked "
             + std::to_string(s.stocked) + ", "
             + std::to_string(s.reservations.size()) + " reservations");
    }
  }
  for (const auto& [payment, ids] : refund_ids_by_payment_) {
    if (ids.size() > 1) {
      fail("refund_once", "payment " + payment + " refunded "
                            + std::to_string(ids.size()) + " times");
    }
  }
  // One coupon backs at most one order that kept its payment (rule 6): a
  // coupon is locked before an order is placed and consumed when it is
  // paid, so no step has two live orders on one coupon.
  std::map<std::string, std::vector<std::string>> holders;
  for (const auto& [id, o] : orders_) {
    if (!o.coupon_id.empty() && live(o.st)) {
      holders[o.coupon_id].push_back(id);
    }
    // No half-cancelled split order (rule 9): a parent is cancelled only
    // once every child has reported itself cancelled.
    if (order::is_parent(o) && o.st == order::status::cancelled) {
      for (const auto& c : o.children) {
        auto child = orders_.find(c.order_id);
        if (child == orders_.end()
            || child->second.st != order::status::cancelled) {
          fail("no_half_cancel",
               "parent " + id + " cancelled, child " + c.order_id + " is not");
        }
      }
    }
  }
  for (const auto& [coupon, ids] : holders) {
    if (ids.size() > 1) {
      fail("one_order_per_coupon",
           coupon + " backs " + std::to_string(ids.size())
             + " live orders: " + ids[0] + ", " + ids[1]);
    }
  }
  for (const auto& [aff, a] : affiliates_) {
    for (const auto& [order_id, e] : a.entries) {
      auto o = orders_.find(order_id);
      if (e.st == actors::attribution::status::settled && o != orders_.end()
          && o->second.st == order::status::cancelled) {
        fail("no_commission_for_cancelled", "order " + order_id
                                              + " is cancelled and " + aff
                                              + " has its commission settled");
      }
    }
  }
}

void world::check_quiescent() {
  for (const auto& [id, o] : orders_) {
    // No half-cancelled split order (rule 9), the other way round from
    // check_step's: a child is cancelled only as part of its parent's
    // cancel, which ends cancelled or waiting for a human. Mid-saga a child
    // is cancelled while its parent is still cancelling, so this holds
    // only once every message is delivered and every saga timer has fired.
    if (!o.parent_id.empty() && o.st == order::status::cancelled) {
      auto parent = orders_.find(o.parent_id);
      if (parent == orders_.end()
          || (parent->second.st != order::status::cancelled
              && parent->second.st != order::status::manual_intervention)) {
        fail("no_half_cancel", "child " + id + " cancelled, parent "
                                 + o.parent_id + " is "
                                 + (parent == orders_.end()
                                      ? std::string{"not stored"}
                                      : order::to_string(parent->second.st)));
      }
    }
    // Every payment settled: a payment an order does not keep is refunded.
    for (const auto& p : o.payments) {
      if (p.status == order::payment_status::refund_pending) {
        fail("payments_settled", "order " + id + " payment " + p.txn_id
                                   + " still waits for its refund");
      }
      if (p.status == order::payment_status::captured
          && (o.st == order::status::cancelled
              || o.st == order::status::pending_payment)) {
        fail("payments_settled", "order " + id + " (" + order::to_string(o.st)
                                   + ") keeps payment " + p.txn_id);
      }
    }
    if (o.st == order::status::pending_payment) {
      auto parent = orders_.find(o.parent_id);
      bool held = parent != orders_.end()
                  && parent->second.st == order::status::manual_intervention;
      if (!held) {
        fail("deadline", "order " + id + " still unpaid after every timer ran");
      }
    }
  }
  // Reports tell placed from cancelled, each order counted once (rule 12).
  std::int64_t placed = 0, cancelled = 0, counted_placed = 0,
               counted_cancelled = 0;
  for (const auto& [id, o] : orders_) {
    if (o.parent_id.empty() && o.st != order::status::none) {
      ++placed;
      cancelled += o.st == order::status::cancelled ? 1 : 0;
    }
  }
  for (const auto& [shard, r] : reports_) {
    counted_placed += r.placed.count;
    counted_cancelled += r.cancelled.count;
  }
  if (placed != counted_placed || cancelled != counted_cancelled) {
    fail("reports_count_each_order_once",
         "orders placed " + std::to_string(placed) + ", cancelled "
           + std::to_string(cancelled) + "; reports say "
           + std::to_string(counted_placed) + " and "
           + std::to_string(counted_cancelled));
  }
  if (dead_letters_ > 0) {
    fail("no_dead_letters", std::to_string(dead_letters_)
                              + " messages were refused by their receivers");
  }
  // The auditor over what is stored finds nothing to heal or report.
  // What the node's audit would load: every stored actor of the ledger
  // kinds and the orders (all of them, a simulation has few).
  actors::auditor::snapshot s;
  s.now = now;
  for (const auto& [id, o] : orders_) {
    if (o.st != order::status::none) {
      s.orders.emplace(id, o); // stored (a refused create stores nothing)
    }
  }
  s.skus = skus_;
  s.coupons = coupons_;
  s.affiliates = affiliates_;
  actors::technicians::state pool;
  rt::technicians_kind::init(pool, actors::technicians::pool_id);
  rt::technicians_kind::restore(db, actors::technicians::pool_id, pool);
  s.pools.push_back(std::move(pool));
  actors::auditor::config rules;
  rules.commission_ppm = cfg.order.commission_ppm;
  auto r = actors::auditor::audit(s, rules);
  for (const auto& v : r.violations) {
    if (v.rule == "manual_intervention") {
      continue; // a saga a human must end: reported, not broken
    }
    fail("audit_clean", v.rule + " " + v.subject + ": " + v.detail);
  }
}

outcome world::run() {
  // The catalog: two goods and one service SKU, a coupon per user.
  for (const char* sku : {"goods-1", "goods-2", "svc-1"}) {
    mail m;
    m.to = {"sku", sku};
    m.input = actors::inventory::input{actors::inventory::put{
      100, 12,
      std::string{sku}.rfind("svc", 0) == 0 ? actors::item_kind::service
                                            : actors::item_kind::goods}};
    actor_of(m.to).turn(*this, std::move(m));
  }
  for (int u = 0; u < 3; ++u) {
    auto user = "user-" + std::to_string(u);
    mail m;
    m.to = {"coupon", "coupon-" + user};
    m.input = actors::coupon::input{actors::coupon::put{user, 50, 0}};
    actor_of(m.to).turn(*this, std::move(m));
  }
  while (step_ < opts_.max_steps && !failed() && !result_.quiescent) {
    step();
    if (!failed()) {
      check_step();
    }
  }
  if (!failed() && result_.quiescent) {
    check_quiescent();
  }
  result_.steps = step_;
  return std::move(result_);
}

} // namespace

outcome run(const options& o, bool keep_trace) {
  world w{o, keep_trace};
  return w.run();
}

options shrink(options o) {
  auto first = run(o);
  if (!first.failed) {
    return o;
  }
  auto rule = first.failed->rule;
  if (o.only_ops.empty()) {
    for (std::size_t i = 0; i < o.client_ops; ++i) {
      o.only_ops.push_back(i);
    }
  }
  // ddmin: drop chunks while the same rule still fails.
  std::size_t chunk = std::max<std::size_t>(o.only_ops.size() / 2, 1);
  while (chunk >= 1) {
    bool removed = false;
    for (std::size_t start = 0; start < o.only_ops.size();) {
      auto trial = o;
      trial.only_ops.erase(trial.only_ops.begin()
                             + static_cast<std::ptrdiff_t>(start),
                           trial.only_ops.begin()
                             + static_cast<std::ptrdiff_t>(
                               std::min(start + chunk, trial.only_ops.size())));
      if (trial.only_ops.empty()) {
        start += chunk; // no ops means every op: not a cut
        continue;
      }
      auto r = run(trial);
      if (r.failed && r.failed->rule == rule) {
        o = std::move(trial);
        removed = true;
      } else {
        start += chunk;
      }
    }
    if (!removed) {
      if (chunk == 1) {
        break;
      }
      chunk /= 2;
    }
  }
  // Only the ops the run sends (a pay whose create was cut is not).
  std::vector<std::size_t> sent;
  for (const auto& op : workload_ops(o)) {
    sent.push_back(op.index);
  }
  o.only_ops = std::move(sent);
  return o;
}

std::vector<std::string> workload(const options& o) {
  auto ops = workload_ops(o);
  std::vector<std::string> lines;
  for (const auto& op : ops) {
    lines.push_back(text(op, ops));
  }
  return lines;
}

namespace {

/// Every planted bug by name.
const std::pair<const char*, unsigned> planted_names[] = {
  {"skip_dedupe", skip_dedupe},
  {"reply_before_commit", reply_before_commit},
  {"ack_before_commit", ack_before_commit},
  {"keep_failed_state", keep_failed_state},
  {"volatile_timers", volatile_timers},
  {"volatile_outbox", volatile_outbox},
  {"provider_without_dedupe", provider_without_dedupe},
  {"timer_fires_twice", timer_fires_twice},
  {"pay_without_dedupe", pay_without_dedupe},
  {"release_keeps_reservation", release_keeps_reservation},
  {"sms_before_cooling", sms_before_cooling},
  {"cancel_settles_commission", cancel_settles_commission},
  {"reservation_expires_early", reservation_expires_early},
};

/// "a,b,c" as its parts (none for "").
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> parts;
  std::istringstream in(s);
  for (std::string p; std::getline(in, p, ',');) {
    if (!p.empty()) {
      parts.push_back(p);
    }
  }
  return parts;
}

std::uint64_t number(const std::string& s, const char* what) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument(std::string{what} + ": not a number: " + s);
  }
  return std::stoull(s);
}

} // namespace

std::string replay_command(const options& o) {
  std::ostringstream out;
  out << "ORDO_SIM_SEED=" << o.seed;
  std::string names;
  for (const auto& [name, bit] : planted_names) {
    if ((o.bugs & bit) != 0) {
      names += (names.empty() ? "" : ",") + std::string{name};
    }
  }
  if (!names.empty()) {
    out << " ORDO_SIM_BUGS=" << names;
  }
  if (!o.only_ops.empty()) {
    out << " ORDO_SIM_OPS=";
    for (std::size_t i = 0; i < o.only_ops.size(); ++i) {
      out << (i == 0 ? "" : ",") << o.only_ops[i];
    }
  }
  out << " build/tests/sim/sim_test --run_test=sim/replay";
  return out.str();
}

options replay_options(const char* seed, const char* bugs, const char* ops) {
  options o;
  o.seed = seed != nullptr ? number(seed, "ORDO_SIM_SEED") : 42;
  if (bugs != nullptr) {
    for (const auto& name : split_list(bugs)) {
      auto bit = planted_by_name(name);
      if (!bit) {
        throw std::invalid_argument("ORDO_SIM_BUGS: no planted bug " + name);
      }
      o.bugs |= *bit;
    }
  }
  if (ops != nullptr) {
    for (const auto& i : split_list(ops)) {
      o.only_ops.push_back(number(i, "ORDO_SIM_OPS"));
    }
    if (!std::is_sorted(o.only_ops.begin(), o.only_ops.end())) {
      throw std::invalid_argument("ORDO_SIM_OPS: indices out of order");
    }
  }
  return o;
}

std::string describe(const failure& f) {
  std::ostringstream out;
  out << "simulation failed: seed " << f.seed << ", step " << f.step
      << ", rule " << f.rule << "\n  " << f.detail << "\n  last events:\n";
  for (const auto& e : f.last_events) {
    out << "    " << e << "\n";
  }
  options o;
  o.seed = f.seed;
  o.bugs = f.bugs;
  o.only_ops = f.only_ops;
  out << "  replay: " << replay_command(o) << "\n";
  return out.str();
}

std::optional<unsigned> planted_by_name(const std::string& name) {
  for (const auto& [n, bit] : planted_names) {
    if (n == name) {
      return bit;
    }
  }
  return std::nullopt;
}

} // namespace ordo::sim
