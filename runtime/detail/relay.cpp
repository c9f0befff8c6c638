#include "runtime/detail/relay.hpp"

#include <chrono>
#include <iostream>
#include <random>

#include "runtime/detail/sink.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

namespace {

actors::millis steady_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
    .count();
}

bool retryable(const actors::error& e) {
  return e.code == actors::errc::internal
         || e.code == actors::errc::unavailable;
}

} // namespace

relay::relay(storage::store& db, const router& targets, relay_options opts)
  : db_(db), targets_(targets), opts_(opts) {}

relay::~relay() {
  stop();
}

std::string relay::encode(const entry& e) {
  nlohmann::json j{{"id", e.msg.id},
                   {"from", {e.from.kind, e.from.id}},
                   {"to", {e.msg.to.kind, e.msg.to.id}},
                   {"type", e.msg.type},
                   {"body", e.msg.body}};
  return storage::codec::pack(j);
}

std::optional<relay::entry> relay::decode(std::uint64_t seq,
                                          std::string_view v) {
  auto j = storage::codec::unpack(v);
  if (j.is_discarded() || !j.is_object()) {
    return std::nullopt;
  }
  try {
    entry e;
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

void relay::load() {
  std::vector<entry> found;
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
               std::cerr << "ordo: unreadable outbox record " << *seq
                         << " left in place\n";
             }
             return true;
           });
  next_seq_.store(max_seq + 1);
  enqueue(std::move(found));
}

void relay::start() {
  std::lock_guard<std::mutex> guard{mu_};
  if (!thread_.joinable()) {
    stopping_ = false;
    thread_ = std::thread{[this] {
      run();
    }};
  }
}

void relay::stop() {
  {
    std::lock_guard<std::mutex> guard{mu_};
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void relay::enqueue(std::vector<entry> entries) {
  if (entries.empty()) {
    return;
  }
  std::unique_lock<std::mutex> lock{mu_};
  std::vector<lane_key> touched;
  for (auto& e : entries) {
    lane_key k{e.from, e.msg.to};
    auto seq = e.seq;
    entries_.emplace(seq, std::move(e));
    auto& l = lanes_[k];
    l.queue.push_back(seq);
    if (l.queue.size() == 1) {
      touched.push_back(std::move(k));
    }
  }
  for (auto& k : touched) {
    kick(k, lock);
  }
}

void relay::kick(const lane_key& k, std::unique_lock<std::mutex>& lock) {
  auto i = lanes_.find(k);
  if (i == lanes_.end() || i->second.in_flight || i->second.queue.empty()
      || stopping_) {
    return;
  }
  auto& l = i->second;
  auto now = steady_now();
  if (l.due > now) {
    return; // backing off; run() will come back
  }
  auto seq = l.queue.front();
  auto msg = entries_.at(seq).msg;
  l.in_flight = true;
  ++l.attempts;
  l.due = now + opts_.ack_timeout;
  ++attempts_;
  lock.unlock();
  targets_.deliver(msg, msg.id, [this, k, seq](const turn_reply& r) {
    on_reply(k, seq, r);
  });
  lock.lock();
}

void relay::on_reply(const lane_key& k, std::uint64_t seq,
                     const turn_reply& r) {
  std::unique_lock<std::mutex> lock{mu_};
  auto i = lanes_.find(k);
  if (i == lanes_.end() || i->second.queue.empty()
      || i->second.queue.front() != seq) {
    return; // a late answer to a repeated delivery
  }
  auto& l = i->second;
  l.in_flight = false;
  if (r.err && retryable(*r.err)) {
    l.due = steady_now() + backoff(l.attempts);
    cv_.notify_all();
    return;
  }
  bool dead = r.err.has_value();
  if (dead) {
    ++dead_;
    auto& e = entries_.at(seq);
    std::cerr << "ordo: outbox message " << e.msg.id << " (" << e.msg.type
              << " to " << e.msg.to.kind << "/" << e.msg.to.id
              << ") rejected: " << r.err->message << "; kept as dead letter\n";
  } else {
    ++delivered_;
  }
  l.queue.pop_front();
  l.attempts = 0;
  l.due = 0;
  entries_.erase(seq);
  if (entries_.empty()) {
    empty_cv_.notify_all();
  }
  if (l.queue.empty()) {
    lanes_.erase(i);
  } else {
    kick(k, lock);
  }
  lock.unlock();
  if (!dead) {
    storage::batch b;
    b.del(storage::cf::outbox, storage::keys::be64(seq));
    // A lost delete only means one more (deduped) delivery after restart.
    db_.commit(std::move(b), [](const storage::status& s) {
      s.ignore();
    });
  }
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
    return entries_.empty();
  });
}

relay::figures relay::stats() const {
  std::lock_guard<std::mutex> guard{mu_};
  return {entries_.size(), delivered_, attempts_, dead_};
}

void relay::run() {
  std::unique_lock<std::mutex> lock{mu_};
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds{50});
    if (stopping_) {
      break;
    }
    auto now = steady_now();
    std::vector<lane_key> ready;
    for (auto& [k, l] : lanes_) {
      if (l.queue.empty() || l.due > now) {
        continue;
      }
      if (l.in_flight) {
        l.in_flight = false; // ack timed out: deliver again
      }
      ready.push_back(k);
    }
    for (auto& k : ready) {
      kick(k, lock);
    }
  }
}

} // namespace ordo::runtime::detail
