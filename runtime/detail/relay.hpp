#pragma once

// The outbox relay. Turns write outgoing messages into the `outbox` column
// family in their own batch; once that batch is durable the commit callback
// hands the entries here, and the relay delivers them until the receiver
// acknowledges (after its own turn is durable), then deletes the record.
//
// Order: messages from one sender to one receiver (a lane) are delivered one
// at a time in outbox order, so "confirm" always lands before "restock".
// Retry: an unacknowledged delivery is repeated after an ack timeout; a
// retryable failure (internal, unavailable) after exponential backoff with
// jitter. A message the receiver rejects permanently is kept in the outbox
// as a dead letter (counted, logged) and its lane moves on.
// Restart: `load` scans the outbox once and re-delivers everything in it;
// receivers dedupe on the message id.
//
// Threading: thread-safe; one internal thread drives retries.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "actors/turn.hpp"

namespace ordo::storage {
class store;
}

namespace ordo::runtime::detail {

class router;
struct turn_reply;

struct relay_options {
  /// A delivery not acknowledged within this is repeated. Default: 10 s.
  actors::millis ack_timeout = 10'000;
  /// First retry delay after a retryable failure. Default: 100 ms.
  actors::millis backoff_base = 100;
  /// Longest retry delay. Default: 30 s.
  actors::millis backoff_cap = 30'000;
};

class relay {
public:
  struct entry {
    std::uint64_t seq = 0;
    actors::address from;
    actors::envelope msg;
  };

  relay(storage::store& db, const router& targets, relay_options opts = {});
  ~relay();

  /// Scans the outbox (start-up, before `start`): continues the sequence
  /// after the largest stored key and queues every stored entry.
  void load();
  void start();
  void stop();

  /// A fresh outbox sequence number, for a batch being built.
  std::uint64_t next_seq() noexcept {
    return next_seq_.fetch_add(1, std::memory_order_relaxed);
  }

  /// The outbox record of `e` (MessagePack).
  static std::string encode(const entry& e);
  static std::optional<entry> decode(std::uint64_t seq, std::string_view v);

  /// Hands over entries whose batch is durable; delivery starts at once.
  void enqueue(std::vector<entry> entries);

  struct figures {
    std::size_t backlog = 0;     ///< queued or in flight
    std::uint64_t delivered = 0; ///< acknowledged
    std::uint64_t attempts = 0;  ///< deliveries tried
    std::uint64_t dead = 0;      ///< rejected permanently
  };
  figures stats() const;

  /// Waits until nothing is queued or in flight; false on timeout.
  bool wait_empty(actors::millis timeout);

private:
  using lane_key = std::pair<actors::address, actors::address>;
  struct lane {
    std::deque<std::uint64_t> queue;
    bool in_flight = false;
    std::uint32_t attempts = 0;
    actors::millis due = 0; ///< next (re)delivery, steady ms
  };

  void run();
  void kick(const lane_key& k, std::unique_lock<std::mutex>& lock);
  void on_reply(const lane_key& k, std::uint64_t seq, const turn_reply& r);
  actors::millis backoff(std::uint32_t attempts);

  // Constant after construction.
  storage::store& db_;
  const router& targets_;
  const relay_options opts_;

  std::atomic<std::uint64_t> next_seq_{1};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable empty_cv_;
  // Guarded by mu_.
  std::unordered_map<std::uint64_t, entry> entries_;
  std::map<lane_key, lane> lanes_;
  std::uint64_t delivered_ = 0;
  std::uint64_t attempts_ = 0;
  std::uint64_t dead_ = 0;
  bool stopping_ = false;

  std::thread thread_;
};

} // namespace ordo::runtime::detail
