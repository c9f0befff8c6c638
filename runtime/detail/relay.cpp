#include "runtime/detail/relay.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <limits>
#include <random>

#include "log/log.hpp"
#include "runtime/detail/sink.hpp"
#include "runtime/faults.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

namespace {

constexpr std::string_view dead_prefix = "deadletter/";
constexpr std::string_view since_prefix = "relay/since/";
/// How long acknowledgements gather before their deletes are committed.
constexpr actors::millis ack_flush_ms = 5;

actors::millis steady_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
    .count();
}

actors::millis wall_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

bool retryable(const actors::error& e) {
  return e.code == actors::errc::internal
         || e.code == actors::errc::unavailable;
}

/// A refund the payment provider has not acknowledged: money owed.
bool owes_refund(const actors::envelope& m) {
  return m.to.kind == "payment" && m.type == "refund";
}

/// What a dead letter that ran out of its retry horizon says.
constexpr std::string_view expired_prefix = "unavailable: expired:";

std::string describe(const actors::error& e) {
  return std::string{actors::to_string(e.code)} + ": " + e.message;
}

std::string dead_key(std::uint64_t seq) {
  return std::string{dead_prefix} + storage::keys::be64(seq);
}

std::string since_key(std::uint64_t seq) {
  return std::string{since_prefix} + storage::keys::be64(seq);
}

relay_options checked(relay_options o) {
  o.max_in_flight_per_destination
    = std::max<std::size_t>(o.max_in_flight_per_destination, 1);
  return o;
}

nlohmann::json to_json(const relay::entry& e) {
  return {{"id", e.msg.id},
          {"from", {e.from.kind, e.from.id}},
          {"to", {e.msg.to.kind, e.msg.to.id}},
          {"type", e.msg.type},
          {"body", e.msg.body}};
}

std::optional<relay::entry> from_json(std::uint64_t seq,
                                      const nlohmann::json& j) {
  if (j.is_discarded() || !j.is_object()) {
    return std::nullopt;
  }
  try {
    relay::entry e;
    e.seq = seq;
    e.msg.id = j.at("id").get<std::string>();
    e.from = {j.at("from").at(0).get<std::string>(),
              j.at("from").at(1).get<std::string>()};
    e.msg.to = {j.at("to").at(0).get<std::string>(),
                j.at("to").at(1).get<std::string>()};
    e.msg.type = j.at("type").get<std::string>();
    e.msg.body = j.at("body");
    return e;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

/// A dead letter record (grammar in relay.hpp); nullopt if unreadable.
std::optional<relay::message_view> dead_from_record(std::uint64_t seq,
                                                    std::string_view v) {
  auto j = storage::codec::unpack(v);
  if (j.is_discarded() || !j.is_object() || !j.contains("entry")) {
    return std::nullopt;
  }
  auto e = from_json(seq, j["entry"]);
  if (!e) {
    return std::nullopt;
  }
  relay::message_view m;
  m.seq = seq;
  m.from = std::move(e->from);
  m.msg = std::move(e->msg);
  m.dead = true;
  try {
    m.last_error = j.at("code").get<std::string>() + ": "
                   + j.at("message").get<std::string>();
    m.attempts = j.at("attempts").get<std::uint32_t>();
    m.dead_at = j.at("at").get<actors::millis>();
  } catch (const nlohmann::json::exception&) {
    // The message itself is readable: show it without the details.
  }
  return m;
}

} // namespace

relay::relay(storage::store& db, const switchboard& targets, relay_options opts)
  : db_(db), targets_(targets), opts_(checked(opts)) {}

relay::~relay() {
  stop();
}

std::string relay::encode(const entry& e) {
  return storage::codec::pack(to_json(e));
}

std::optional<relay::entry> relay::decode(std::uint64_t seq,
                                          std::string_view v) {
  return from_json(seq, storage::codec::unpack(v));
}

void relay::load() {
  std::vector<entry> found;
  std::vector<message_view> dead;
  std::uint64_t max_seq = 0;
  db_.scan(storage::cf::outbox, "",
           [&](std::string_view k, std::string_view v) {
             auto seq = storage::keys::from_be64(k);
             if (!seq) {
               return true;
             }
             max_seq = std::max(max_seq, *seq);
             if (auto e = decode(*seq, v)) {
               found.push_back(std::move(*e));
             } else {
               log::error("relay", "unreadable outbox record "
                                     + std::to_string(*seq) + " left in place");
             }
             return true;
           });
  db_.scan(storage::cf::aux, dead_prefix,
           [&](std::string_view k, std::string_view v) {
             auto seq = storage::keys::from_be64(k.substr(dead_prefix.size()));
             if (!seq) {
               return true;
             }
             // A dead letter's seq must not be reused: a new dead letter
             // under it would overwrite this one.
             max_seq = std::max(max_seq, *seq);
             if (auto m = dead_from_record(*seq, v)) {
               dead.push_back(std::move(*m));
             } else {
               log::error("relay", "unreadable dead letter "
                                     + std::to_string(*seq) + " left in place");
             }
             return true;
           });
  std::map<std::uint64_t, actors::millis> since;
  db_.scan(storage::cf::aux, since_prefix,
           [&](std::string_view k, std::string_view v) {
             auto seq = storage::keys::from_be64(k.substr(since_prefix.size()));
             auto at = storage::keys::from_be64(v);
             if (seq && at) {
               since.emplace(*seq, static_cast<actors::millis>(*at));
             }
             return true;
           });
  auto next = max_seq + 1;
  if (next_seq_.load() < next) {
    next_seq_.store(next);
  }
  if (ages_tracked()) {
    // Before any message of this life is written: its bound must be durable
    // for the next life to see.
    storage::batch b;
    {
      std::lock_guard<std::mutex> guard{mu_};
      since_ = std::move(since);
      mark(b, false); // the loaded messages are not queued yet
    }
    db_.commit_sync(std::move(b)).ignore(); // a lost marker: an older bound
  }
  {
    std::lock_guard<std::mutex> guard{mu_};
    auto now = steady_now();
    for (auto& m : dead) {
      m.queued_at = now;
      auto seq = m.seq;
      count_owed(m.msg, +1);
      dead_letters_.emplace(seq, std::move(m));
    }
  }
  enqueue(std::move(found));
}

void relay::start() {
  deliveries out;
  {
    std::lock_guard<std::mutex> guard{mu_};
    if (thread_.joinable()) {
      return;
    }
    if (stopping_) {
      // Resume what `stop` held back: destination FIFOs first, then lanes
      // whose head was never started.
      stopping_ = false;
      for (auto& [to, d] : destinations_) {
        while (!d.waiting.empty()
               && d.in_flight < opts_.max_in_flight_per_destination) {
          auto k = std::move(d.waiting.front());
          d.waiting.pop_front();
          --waiting_;
          auto i = lanes_.find(k);
          if (i != lanes_.end() && i->second.at == phase::waiting) {
            ++d.in_flight;
            send(k, i->second, out);
          }
        }
      }
      for (auto& [k, l] : lanes_) {
        start_lane(k, l, out);
      }
    }
    running_ = true;
    thread_ = std::thread{[this] {
      run();
    }};
  }
  hand_over(std::move(out));
}

void relay::stop() {
  {
    std::lock_guard<std::mutex> guard{mu_};
    stopping_ = true;
    running_ = false;
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  std::unique_lock<std::mutex> lock{mu_};
  if (!acked_.empty()) {
    flush_acks(lock);
  }
}

void relay::enqueue(std::vector<entry> entries) {
  if (entries.empty()) {
    return;
  }
  deliveries out;
  {
    std::lock_guard<std::mutex> guard{mu_};
    auto now = steady_now();
    for (auto& e : entries) {
      if (watched_) {
        watched_->insert(e.from);
      }
      auto seq = e.seq;
      if (dead_letters_.count(seq) != 0) {
        continue;
      }
      lane_key k{e.from, e.msg.to};
      auto [at, added] = entries_.emplace(seq, pending{std::move(e), now});
      if (!added) {
        continue; // already held
      }
      count_owed(at->second.e.msg, +1);
      auto& l = lanes_[k];
      l.queue.push_back(seq);
      if (l.queue.size() == 1) {
        start_lane(k, l, out);
      }
    }
  }
  hand_over(std::move(out));
}

void relay::start_lane(const lane_key& k, lane& l, deliveries& out) {
  if (stopping_ || l.at != phase::ready || l.queue.empty()) {
    return;
  }
  auto& d = destinations_[k.second];
  if (d.in_flight >= opts_.max_in_flight_per_destination
      || !d.waiting.empty()) {
    d.waiting.push_back(k);
    l.at = phase::waiting;
    ++waiting_;
    return;
  }
  ++d.in_flight;
  send(k, l, out);
}

void relay::send(const lane_key& k, lane& l, deliveries& out) {
  auto seq = l.queue.front();
  l.at = phase::in_flight;
  ++l.attempts;
  ++attempts_;
  arm(k, l, steady_now() + opts_.ack_timeout);
  out.push_back(
    {k, seq, entries_.at(seq).e.msg, false, expired(seq, k.second)});
}

actors::millis relay::wall() const {
  return opts_.now ? opts_.now() : wall_now();
}

actors::millis relay::horizon(const actors::address& to) const {
  bool bounded = !opts_.bounded || opts_.bounded(to);
  return bounded ? opts_.max_age : opts_.give_up_after;
}

bool relay::ages_tracked() const noexcept {
  return opts_.max_age > 0 || opts_.give_up_after > 0;
}

actors::millis relay::mark_interval() const noexcept {
  auto shortest = opts_.max_age;
  if (opts_.give_up_after > 0
      && (shortest <= 0 || opts_.give_up_after < shortest)) {
    shortest = opts_.give_up_after;
  }
  // A message's age is read from the marker below it: at most this much
  // too old.
  return std::max<actors::millis>(shortest / 16, 1);
}

bool relay::expired(std::uint64_t seq, const actors::address& to) const {
  auto limit = horizon(to);
  if (limit <= 0 || since_.empty()) {
    return false;
  }
  // The latest marker at or below seq; an older message counts as written
  // at the first marker (it was written before it).
  auto i = since_.upper_bound(seq);
  auto written = i == since_.begin() ? i->second : std::prev(i)->second;
  return wall() - written > limit;
}

void relay::mark(storage::batch& b, bool prune) {
  auto at = wall(); // read before the seq: every later seq is written later
  auto seq = next_seq_.load();
  since_[seq] = at;
  b.put(storage::cf::aux, since_key(seq),
        storage::keys::be64(static_cast<std::uint64_t>(at)));
  // A marker is needed while a pending message is at or above it and below
  // the next marker.
  auto lowest = entries_.empty() ? seq : entries_.begin()->first;
  for (auto i = since_.begin(); prune && i != since_.end();) {
    auto n = std::next(i);
    if (n != since_.end() && n->first <= lowest) {
      b.del(storage::cf::aux, since_key(i->first));
      i = since_.erase(i);
    } else {
      break;
    }
  }
  next_mark_ = steady_now() + mark_interval();
}

void relay::release_slot(const actors::address& to, deliveries& out) {
  auto i = destinations_.find(to);
  if (i == destinations_.end()) {
    return;
  }
  auto& d = i->second;
  if (d.in_flight > 0) {
    --d.in_flight;
  }
  while (!stopping_ && !d.waiting.empty()
         && d.in_flight < opts_.max_in_flight_per_destination) {
    auto k = std::move(d.waiting.front());
    d.waiting.pop_front();
    --waiting_;
    auto j = lanes_.find(k);
    if (j != lanes_.end() && j->second.at == phase::waiting) {
      ++d.in_flight;
      send(k, j->second, out);
    }
  }
  if (d.in_flight == 0 && d.waiting.empty()) {
    destinations_.erase(i);
  }
}

void relay::arm(const lane_key& k, lane& l, actors::millis due) {
  l.timer = ++next_timer_;
  timers_.push_back({due, l.timer, k});
  std::push_heap(timers_.begin(), timers_.end(), later{});
  if (timers_.front().token == l.timer) {
    cv_.notify_one(); // earlier than what run() sleeps for
  }
  // Answered deliveries leave their ack timers behind; keep the heap within
  // a constant factor of the live timers (at most one per lane).
  if (timers_.size() > 2 * lanes_.size() + 1024) {
    compact_timers();
  }
}

void relay::postpone(const lane_key& k, std::uint64_t seq, actors::millis ms) {
  std::lock_guard<std::mutex> guard{mu_};
  auto i = lanes_.find(k);
  if (i == lanes_.end() || i->second.at != phase::in_flight
      || i->second.queue.front() != seq) {
    return;
  }
  i->second.at = phase::delayed;
  arm(k, i->second, steady_now() + ms);
}

void relay::compact_timers() {
  auto stale = [this](const timer& t) {
    auto i = lanes_.find(t.key);
    return i == lanes_.end() || i->second.timer != t.token;
  };
  timers_.erase(std::remove_if(timers_.begin(), timers_.end(), stale),
                timers_.end());
  std::make_heap(timers_.begin(), timers_.end(), later{});
}

void relay::hand_over(deliveries out) {
  // A sink may answer inside `deliver` (the switchboard does for an unknown
  // kind), and that answer may start the lane's next delivery. Deliveries
  // started while one is being handed over on this thread are queued and
  // handed over by the outermost call, so such a lane does not recurse.
  struct queued {
    relay* self;
    delivery d;
  };
  thread_local std::deque<queued>* active = nullptr;
  if (active != nullptr) {
    for (auto& d : out) {
      active->push_back({this, std::move(d)});
    }
    return;
  }
  std::deque<queued> q;
  for (auto& d : out) {
    q.push_back({this, std::move(d)});
  }
  struct reset {
    ~reset() {
      active = nullptr;
    }
  } guard;
  active = &q;
  while (!q.empty()) {
    auto next = std::move(q.front());
    q.pop_front();
    auto* self = next.self;
    if (next.d.expired) {
      auto to = next.d.key.second;
      bool bounded = !self->opts_.bounded || self->opts_.bounded(to);
      auto limit = std::to_string(self->horizon(to));
      self->on_reply(
        next.d.key, next.d.seq,
        {actors::error{actors::errc::unavailable,
                       bounded ? "expired: not delivered within the retry "
                                 "horizon of "
                                   + limit
                                   + " ms; a later delivery could find its "
                                     "dedupe record gone"
                               : "gave up: not delivered within " + limit
                                   + " ms (--external-give-up); retry it "
                                     "once the receiver is back"},
         {},
         {}},
        true);
      continue;
    }
    if (!next.d.faulted) {
      // Fault point relay.deliver: never blocks this thread (it may be the
      // commit thread); a delay goes through the lane's timer instead.
      if (auto f = fault_draw("relay.deliver")) {
        if (f->action == fault_action::error) {
          self->on_reply(next.d.key, next.d.seq,
                         {actors::error{actors::errc::unavailable,
                                        "injected fault at relay.deliver"},
                          {},
                          {}});
        } else if (f->action == fault_action::delay) {
          self->postpone(next.d.key, next.d.seq, f->delay_ms);
        }
        // drop: neither handed over nor answered; the ack timeout repeats it.
        continue;
      }
    }
    self->targets_.deliver(
      next.d.msg, next.d.msg.id,
      [self, k = std::move(next.d.key), seq = next.d.seq](const turn_reply& r) {
        self->on_reply(k, seq, r);
      });
  }
}

void relay::bury(std::uint64_t seq, const pending& p, std::uint32_t attempts,
                 const actors::error& err, storage::batch& b) {
  const auto& e = p.e;
  ++dead_;
  log::warn("relay", "outbox message " + actors::clip(e.msg.id) + " ("
                       + e.msg.type + " to " + e.msg.to.kind + "/"
                       + actors::clip(e.msg.to.id) + ") rejected: "
                       + actors::clip(err.message) + "; moved to dead letters");
  message_view m;
  m.seq = seq;
  m.from = e.from;
  m.msg = e.msg;
  m.attempts = attempts;
  m.last_error = describe(err);
  m.dead = true;
  m.queued_at = p.queued_at;
  m.dead_at = wall_now();
  b.del(storage::cf::outbox, storage::keys::be64(seq));
  b.put(storage::cf::aux, dead_key(seq),
        storage::codec::pack({{"entry", to_json(e)},
                              {"code", actors::to_string(err.code)},
                              {"message", err.message},
                              {"attempts", m.attempts},
                              {"at", m.dead_at}}));
  dead_letters_.emplace(seq, std::move(m));
}

void relay::on_reply(const lane_key& k, std::uint64_t seq, const turn_reply& r,
                     bool expired) {
  deliveries out;
  storage::batch b;
  bool dead = false;
  bool deleted = false;   // counted in deleting_
  bool flush_now = false; // an ack with no run() to flush it
  {
    std::lock_guard<std::mutex> guard{mu_};
    auto i = lanes_.find(k);
    if (i == lanes_.end() || i->second.at != phase::in_flight
        || i->second.queue.front() != seq) {
      return; // a late answer to a repeated delivery
    }
    auto& l = i->second;
    l.timer = 0;
    if (r.err && retryable(*r.err) && !expired) {
      l.at = phase::backoff;
      l.last_error = describe(*r.err);
      arm(k, l, steady_now() + backoff(l.attempts));
      release_slot(k.second, out);
    } else {
      auto p = entries_.find(seq);
      if (r.err) {
        bury(seq, p->second, l.attempts, *r.err, b);
        dead = true;
        ++deleting_;
        deleted = true;
      } else {
        ++delivered_;
        if (acked_.empty()) {
          acks_due_ = steady_now() + ack_flush_ms;
          cv_.notify_all(); // run() sleeps without a deadline otherwise
        }
        acked_.push_back(storage::keys::be64(seq));
        flush_now = !running_;
      }
      if (!dead) {
        count_owed(p->second.e.msg, -1); // a dead one stays owed
      }
      entries_.erase(p);
      l.queue.pop_front();
      l.attempts = 0;
      l.last_error.clear();
      l.at = phase::ready;
      // Waiting lanes get the freed slot before this lane's next message.
      release_slot(k.second, out);
      if (l.queue.empty()) {
        lanes_.erase(i);
      } else {
        start_lane(k, l, out);
      }
    }
  }
  if (dead) {
    db_.commit(std::move(b), [seq](const storage::status& s) {
      if (!s.ok()) {
        log::error("relay", "dead letter " + std::to_string(seq)
                              + " not stored (" + s.message()
                              + "); it stays in the outbox");
      }
    });
  }
  if (flush_now) {
    std::unique_lock<std::mutex> lock{mu_};
    if (!acked_.empty()) {
      flush_acks(lock);
    }
  }
  if (deleted) {
    std::lock_guard<std::mutex> guard{mu_};
    if (--deleting_ == 0 && entries_.empty()) {
      empty_cv_.notify_all();
    }
  }
  hand_over(std::move(out));
}

actors::millis relay::backoff(std::uint32_t attempts) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto shift = std::min<std::uint32_t>(attempts > 0 ? attempts - 1 : 0, 20);
  auto base
    = std::min<actors::millis>(opts_.backoff_base << shift, opts_.backoff_cap);
  std::uniform_int_distribution<actors::millis> jitter{base / 2, base};
  return jitter(rng);
}

bool relay::wait_empty(actors::millis timeout) {
  std::unique_lock<std::mutex> lock{mu_};
  return empty_cv_.wait_for(lock, std::chrono::milliseconds{timeout}, [this] {
    return entries_.empty() && deleting_ == 0 && acked_.empty();
  });
}

void relay::flush_acks(std::unique_lock<std::mutex>& lock) {
  storage::batch b;
  for (auto& key : acked_) {
    b.del(storage::cf::outbox, std::move(key));
  }
  acked_.clear();
  ++deleting_;
  lock.unlock();
  // A lost delete only means one more (deduped) delivery after restart.
  db_.commit(std::move(b), [](const storage::status& s) {
    s.ignore();
  });
  lock.lock();
  if (--deleting_ == 0 && entries_.empty() && acked_.empty()) {
    empty_cv_.notify_all();
  }
}

relay::figures relay::stats() const {
  std::lock_guard<std::mutex> guard{mu_};
  figures f;
  f.backlog = entries_.size();
  f.delivered = delivered_;
  f.attempts = attempts_;
  f.dead = dead_;
  f.dead_letters = dead_letters_.size();
  f.destinations_waiting = waiting_;
  f.refunds_owed = refunds_owed_;
  if (!entries_.empty()) {
    f.oldest_ms = steady_now() - entries_.begin()->second.queued_at;
  }
  return f;
}

relay::message_view relay::view_of(const pending& p) const {
  message_view m;
  m.seq = p.e.seq;
  m.from = p.e.from;
  m.msg = p.e.msg;
  m.queued_at = p.queued_at;
  auto i = lanes_.find(lane_key{p.e.from, p.e.msg.to});
  if (i != lanes_.end() && !i->second.queue.empty()
      && i->second.queue.front() == p.e.seq) {
    m.attempts = i->second.attempts;
    m.last_error = i->second.last_error;
  }
  return m;
}

std::vector<relay::message_view> relay::messages(bool dead,
                                                 std::size_t limit) const {
  std::lock_guard<std::mutex> guard{mu_};
  std::vector<message_view> out;
  if (dead) {
    for (auto i = dead_letters_.begin();
         i != dead_letters_.end() && out.size() < limit; ++i) {
      out.push_back(i->second);
    }
  } else {
    for (auto i = entries_.begin(); i != entries_.end() && out.size() < limit;
         ++i) {
      out.push_back(view_of(i->second));
    }
  }
  return out;
}

std::vector<relay::message_view>
relay::messages_of(const actors::address& from) const {
  std::lock_guard<std::mutex> guard{mu_};
  std::vector<message_view> out;
  for (auto i = lanes_.lower_bound(lane_key{from, actors::address{}});
       i != lanes_.end() && i->first.first == from; ++i) {
    for (auto seq : i->second.queue) {
      out.push_back(view_of(entries_.at(seq)));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const message_view& a, const message_view& b) {
              return a.seq < b.seq;
            });
  return out;
}

std::set<actors::address> relay::senders() const {
  std::lock_guard<std::mutex> guard{mu_};
  std::set<actors::address> out;
  for (const auto& [key, l] : lanes_) {
    if (!l.queue.empty()) {
      out.insert(key.first);
    }
  }
  for (const auto& [seq, m] : dead_letters_) {
    out.insert(m.from);
  }
  return out;
}

void relay::begin_watch() {
  std::lock_guard<std::mutex> guard{mu_};
  watched_.emplace();
}

std::set<actors::address> relay::end_watch() {
  std::lock_guard<std::mutex> guard{mu_};
  std::set<actors::address> out;
  if (watched_) {
    out = std::move(*watched_);
    watched_.reset();
  }
  return out;
}

std::vector<relay::destination_view> relay::destinations() const {
  std::lock_guard<std::mutex> guard{mu_};
  std::map<actors::address, destination_view> by_to;
  auto now = steady_now();
  for (const auto& [k, l] : lanes_) {
    if (l.queue.empty()) {
      continue;
    }
    auto& d = by_to[k.second];
    d.to = k.second;
    d.pending += l.queue.size();
    d.oldest_ms
      = std::max(d.oldest_ms, now - entries_.at(l.queue.front()).queued_at);
    if (l.attempts > d.attempts_max || d.last_error.empty()) {
      d.attempts_max = std::max(d.attempts_max, l.attempts);
      d.last_error = l.last_error.empty() ? d.last_error : l.last_error;
    }
  }
  std::vector<destination_view> out;
  for (auto& [to, d] : by_to) {
    out.push_back(std::move(d));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const destination_view& a, const destination_view& b) {
                     return a.pending > b.pending;
                   });
  return out;
}

void relay::count_owed(const actors::envelope& m, int delta) {
  if (owes_refund(m)) {
    refunds_owed_ += delta;
  }
}

std::optional<relay::message_view> relay::take_dead(std::uint64_t seq) {
  auto i = dead_letters_.find(seq);
  if (i == dead_letters_.end()) {
    return std::nullopt;
  }
  auto m = std::move(i->second);
  dead_letters_.erase(i);
  return m;
}

void relay::restore_dead(message_view m) {
  std::lock_guard<std::mutex> guard{mu_};
  auto seq = m.seq;
  dead_letters_.emplace(seq, std::move(m));
}

void relay::revive(std::uint64_t seq, storage::batch extra,
                   operator_done done) {
  std::optional<message_view> m;
  bool expired_to_actor = false;
  {
    std::lock_guard<std::mutex> guard{mu_};
    auto i = dead_letters_.find(seq);
    if (i != dead_letters_.end()) {
      bool bounded = !opts_.bounded || opts_.bounded(i->second.msg.to);
      expired_to_actor = bounded && opts_.max_age > 0
                         && i->second.last_error.rfind(expired_prefix, 0) == 0;
      if (!expired_to_actor) {
        m = take_dead(seq);
      }
    }
  }
  if (expired_to_actor) {
    done(actors::error{
      actors::errc::invalid_transition,
      "dead letter " + std::to_string(seq)
        + " expired on its way to an actor, which may have consumed it and "
          "forgotten its id: it is never delivered again (discard it; the "
          "audit shows what it left unsettled)"});
    return;
  }
  if (!m) {
    done(no_dead_letter(seq));
    return;
  }
  entry e{next_seq(), m->from, m->msg};
  auto fresh = e.seq;
  extra.put(storage::cf::outbox, storage::keys::be64(fresh), encode(e));
  settle_dead(std::move(*m), std::move(extra), fresh, std::move(done),
              [this, e = std::move(e)]() mutable {
                enqueue({std::move(e)});
              });
}

void relay::discard(std::uint64_t seq, storage::batch extra,
                    operator_done done) {
  std::optional<message_view> m;
  {
    std::lock_guard<std::mutex> guard{mu_};
    m = take_dead(seq);
  }
  if (!m) {
    done(no_dead_letter(seq));
    return;
  }
  settle_dead(std::move(*m), std::move(extra), seq, std::move(done), [] {});
}

actors::error relay::no_dead_letter(std::uint64_t seq) {
  return {actors::errc::not_found, "no dead letter " + std::to_string(seq)};
}

void relay::settle_dead(message_view m, storage::batch b, std::uint64_t answer,
                        operator_done done, std::function<void()> then) {
  b.del(storage::cf::aux, dead_key(m.seq));
  db_.commit(
    std::move(b), [this, m = std::move(m), answer, done = std::move(done),
                   then = std::move(then)](const storage::status& s) mutable {
      if (!s.ok()) {
        restore_dead(std::move(m));
        done(actors::error{actors::errc::unavailable,
                           "not stored: " + s.message()});
        return;
      }
      {
        std::lock_guard<std::mutex> guard{mu_};
        count_owed(m.msg, -1); // a revived one counts again once enqueued
      }
      then();
      done(answer);
    });
}

void relay::retry_now(
  const std::function<bool(const actors::address&)>& match) {
  std::lock_guard<std::mutex> lock{mu_};
  auto now = steady_now();
  for (auto& [k, l] : lanes_) {
    if (l.at == phase::backoff && match(k.second)) {
      arm(k, l, now);
    }
  }
}

void relay::run() {
  std::unique_lock<std::mutex> lock{mu_};
  while (!stopping_) {
    auto now = steady_now();
    if (!acked_.empty() && now >= acks_due_) {
      flush_acks(lock);
      continue;
    }
    if (ages_tracked() && now >= next_mark_) {
      storage::batch b;
      mark(b, true);
      lock.unlock();
      db_.commit(std::move(b), [](const storage::status& s) {
        s.ignore(); // a lost marker only makes later ages look older
      });
      lock.lock();
      continue;
    }
    auto wake = ages_tracked() ? next_mark_
                               : std::numeric_limits<actors::millis>::max();
    if (!acked_.empty()) {
      wake = std::min(wake, acks_due_);
    }
    if (timers_.empty() || timers_.front().due > now) {
      if (!timers_.empty()) {
        wake = std::min(wake, timers_.front().due);
      }
      if (wake == std::numeric_limits<actors::millis>::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, std::chrono::steady_clock::time_point{
                               std::chrono::milliseconds{wake}});
      }
      continue;
    }
    deliveries out;
    while (!timers_.empty() && timers_.front().due <= now) {
      std::pop_heap(timers_.begin(), timers_.end(), later{});
      auto t = std::move(timers_.back());
      timers_.pop_back();
      auto i = lanes_.find(t.key);
      if (i == lanes_.end() || i->second.timer != t.token) {
        continue; // answered, re-armed, or the lane is done
      }
      auto& l = i->second;
      l.timer = 0;
      if (l.at == phase::in_flight) {
        // Ack timed out: deliver again, keeping the destination slot.
        l.last_error = "timeout: no reply within "
                       + std::to_string(opts_.ack_timeout) + " ms";
        send(t.key, l, out);
      } else if (l.at == phase::backoff) {
        l.at = phase::ready;
        start_lane(t.key, l, out);
      } else if (l.at == phase::delayed) {
        // The injected delay is over: hand over, then wait for the ack.
        l.at = phase::in_flight;
        arm(t.key, l, now + opts_.ack_timeout);
        auto seq = l.queue.front();
        out.push_back({t.key, seq, entries_.at(seq).e.msg, true});
      }
    }
    if (!out.empty()) {
      lock.unlock();
      hand_over(std::move(out));
      lock.lock();
    }
  }
}

} // namespace ordo::runtime::detail
