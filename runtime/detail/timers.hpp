#pragma once

// Durable timers, in memory. The records live in the `timers` column family
// and are written by actor turns; this service only mirrors them (loaded at
// start-up, updated by commit callbacks) and, when one is due, delivers the
// message "timer" {"name", "due"} to its actor. The actor deletes the record
// in the batch of the turn that handles it, so a timer whose turn never
// committed fires again after a restart.
//
// Threading: thread-safe; one internal thread waits for the earliest due.

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "actors/vocabulary.hpp"

namespace ordo::storage {
class store;
}

namespace ordo::runtime {
class clock;
}

namespace ordo::runtime::detail {

class switchboard;

class timer_service {
public:
  timer_service(clock& time, const switchboard& targets);
  ~timer_service();

  /// Loads every stored timer (start-up, before `start`).
  void load(storage::store& db);

  void start();
  void stop();

  /// Arms (due > 0) or disarms (due == 0) `name` of actor kind/id.
  void set(const std::string& kind, const std::string& id,
           const std::string& name, actors::millis due);

  /// Timers armed now.
  std::size_t pending() const;

private:
  using key = std::string; // storage::keys::owned(kind, id, name)
  /// A timer in due order: its due, then its key (which by_key_ owns; an
  /// element of an unordered_map keeps its address while it is in the map,
  /// rehashing included).
  using slot = std::pair<actors::millis, const key*>;
  struct earlier {
    bool operator()(const slot& a, const slot& b) const {
      return a.first < b.first || (a.first == b.first && *a.second < *b.second);
    }
  };

  /// Arms `k` at `due`, replacing what it was armed at. Needs mu_.
  void arm(key k, actors::millis due);
  void run();

  // Constant after construction.
  clock& clock_;
  const switchboard& targets_;
  std::uint64_t jump_token_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_. Every key once: a node armed a timer for every order
  // in its payment or SMS cooling period, so these hold hundreds of
  // thousands under load (a hash lookup, not ~20 string compares, per set).
  std::unordered_map<key, actors::millis> by_key_;
  std::set<slot, earlier> by_due_;
  bool stopping_ = false;
  bool running_ = false;

  std::thread thread_;
};

} // namespace ordo::runtime::detail
