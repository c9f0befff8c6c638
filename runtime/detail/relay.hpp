#pragma once

// The outbox relay. Turns write outgoing messages into the `outbox` column
// family in their own batch; once that batch is durable the commit callback
// hands the entries here, and the relay delivers them until the receiver
// acknowledges (after its own turn is durable), then deletes the record:
// the deletes of the acknowledgements of a few milliseconds go to the store
// as one batch from the retry thread (a delete lost to a crash only means
// one more delivery, which the receiver dedupes).
//
// Order: messages from one sender to one receiver (a lane) are delivered one
// at a time in outbox order, so "confirm" always lands before "restock".
// Limit: at most `max_in_flight_per_destination` lanes to one receiver
// address (the payment provider is one address) have a delivery in flight;
// further lanes wait in a FIFO per destination and start as slots free up
// (a reply of any kind). A lane whose ack timed out keeps its slot.
// Retry: an unacknowledged delivery is repeated after an ack timeout; a
// retryable failure (internal, unavailable) after exponential backoff with
// jitter. Both are timers in one min-heap, so the retry thread only touches
// lanes that are due.
// Dead letters: a message the receiver rejects permanently is moved, in one
// batch, from the outbox to `aux` (grammar below), counted, logged and kept
// for inspection; it is never delivered again, and its lane moves on.
// Operators: a dead letter can be moved back into the outbox (`revive`,
// under a fresh seq, delivered like a new message) or dropped (`discard`),
// each in one batch with whatever record the caller adds.
// Restart: `load` scans the outbox once and re-delivers everything in it
// (receivers dedupe on the message id), and loads the dead letters.
// Fault point relay.deliver (runtime/faults.hpp), at each hand-over: error
// is a retryable failure without calling the sink, drop calls nothing and
// answers nothing (the ack timeout repeats it), delay holds the lane (and
// its slot) on its timer and hands over from the timer thread; no thread
// sleeps.
//
// Records (MessagePack, storage::codec):
//
//   outbox: be64(seq)                -> entry
//   aux:    "deadletter/" be64(seq)  -> {"entry": entry, "code": errc string,
//                                        "message": string, "attempts": n,
//                                        "at": ms since epoch (wall clock)}
//   aux:    "relay/since/" be64(seq) -> be64(ms since epoch): every message
//                                       with this seq or a higher one was
//                                       written at this time or later (one
//                                       at each load and one every
//                                       max_age / 16; those no pending
//                                       message needs are deleted). A
//                                       message older than the first one
//                                       counts as written at that time.
//   entry := {"id", "from": [kind, id], "to": [kind, id], "type", "body"}
//
// Threading: thread-safe; mutable state is guarded by mu_. Sinks are called
// and storage commits issued with mu_ released. One internal thread (between
// `start` and `stop`) runs the timers; deliveries also start on the threads
// that call `enqueue` and on those that deliver replies.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "actors/vocabulary.hpp"

namespace ordo::storage {
class store;
class batch;
} // namespace ordo::storage

namespace ordo::runtime {
struct turn_reply;
} // namespace ordo::runtime

namespace ordo::runtime::detail {

class switchboard;

struct relay_options {
  /// A delivery not acknowledged within this is repeated. Default: 10 s.
  actors::millis ack_timeout = 10'000;
  /// First retry delay after a retryable failure. Default: 100 ms.
  actors::millis backoff_base = 100;
  /// Longest retry delay. Default: 30 s.
  actors::millis backoff_cap = 30'000;
  /// Most deliveries in flight at once to one receiver address, across all
  /// lanes; 0 counts as 1. Default: 64.
  std::size_t max_in_flight_per_destination = 64;
  /// The retry horizon: a message older than this is never delivered again
  /// but moved to the dead letters (code "unavailable", "expired: ..."),
  /// so that a receiver's dedupe record, kept for a longer retention
  /// (storage::store_options::dedupe_retention_ms), always outlives every
  /// delivery of its message. A message's age is measured from a lower
  /// bound of its write time (see "relay/since/" below). 0: no horizon.
  /// Default: 0.
  actors::millis max_age = 0;
  /// The receivers max_age applies to: those that dedupe in the retained
  /// family (actors). Others (the payment provider, the SMS gateway) dedupe
  /// on ids of their own and are retried for as long as it takes.
  /// Default: empty (every receiver).
  std::function<bool(const actors::address& to)> bounded;
  /// The retry horizon of the receivers `bounded` excludes (the payment
  /// provider, the SMS gateway): a message to one of them still not
  /// delivered this long after it was written becomes a dead letter (code
  /// "unavailable", "gave up: ..."), for an operator to retry or discard;
  /// they dedupe on ids of their own, so a retry is safe. 0: never.
  /// Default: 0.
  actors::millis give_up_after = 0;
  /// Wall-clock time, ms since the epoch, for `max_age`. Thread-safe.
  /// Default: empty (the system clock).
  std::function<actors::millis()> now;
};

class relay {
public:
  struct entry {
    std::uint64_t seq = 0;
    actors::address from;
    actors::envelope msg;
  };

  /// One message the relay holds, as shown to an operator.
  struct message_view {
    std::uint64_t seq = 0;
    actors::address from;
    actors::envelope msg;
    /// Deliveries tried (0 = not yet); counted for the head of a lane only.
    std::uint32_t attempts = 0;
    /// "code: message" of the last failed attempt; "" if none yet.
    std::string last_error;
    /// A dead letter (rejected permanently, never delivered again).
    bool dead = false;
    /// Steady ms when enqueued or loaded (for its age).
    actors::millis queued_at = 0;
    /// Dead letters: when rejected, ms since epoch (wall clock); else 0.
    actors::millis dead_at = 0;
  };

  /// `db` and `targets` must outlive the relay.
  relay(storage::store& db, const switchboard& targets,
        relay_options opts = {});
  /// Stops. No reply may arrive afterwards: stop the sinks first, or have
  /// them drop their reply functions unanswered.
  ~relay();

  /// Scans the outbox and the dead letters (start-up, before `start`):
  /// continues the sequence after the largest stored seq of either, queues
  /// every outbox entry (delivery starts at once) and holds the dead letters
  /// for inspection.
  void load();
  /// Starts the timer thread (retries, ack timeouts); after a `stop`, also
  /// resumes the lanes it held back.
  void start();
  /// Stops the timer thread and starts no new delivery; replies still count.
  void stop();

  /// A fresh outbox sequence number, for a batch being built.
  std::uint64_t next_seq() noexcept {
    return next_seq_.fetch_add(1, std::memory_order_relaxed);
  }

  /// The outbox record of `e` (MessagePack).
  static std::string encode(const entry& e);
  static std::optional<entry> decode(std::uint64_t seq, std::string_view v);

  /// Hands over entries whose batch is durable; delivery starts at once
  /// (on the calling thread) unless a lane or destination is busy.
  void enqueue(std::vector<entry> entries);

  /// Retries now every lane in backoff whose receiver `match`es (a peer
  /// node came back: its messages need not wait out their backoff).
  void retry_now(const std::function<bool(const actors::address&)>& match);

  struct figures {
    std::size_t backlog = 0;      ///< queued or in flight
    std::uint64_t delivered = 0;  ///< acknowledged
    std::uint64_t attempts = 0;   ///< deliveries tried
    std::uint64_t dead = 0;       ///< rejected permanently (this process)
    std::size_t dead_letters = 0; ///< dead letters held
    std::size_t destinations_waiting = 0; ///< lanes waiting for a slot
    actors::millis oldest_ms = 0; ///< age of the lowest pending seq; 0 if none
    /// Refund calls to the payment provider not acknowledged yet, dead
    /// letters included: money the shop still owes.
    std::size_t refunds_owed = 0;
  };
  figures stats() const;

  /// The pending messages of one receiver, summed over its lanes.
  struct destination_view {
    actors::address to;
    std::size_t pending = 0;
    actors::millis oldest_ms = 0;   ///< age of its oldest pending message
    std::uint32_t attempts_max = 0; ///< of any lane's head
    std::string last_error;         ///< of the head with the most attempts
  };
  /// Every receiver with pending messages, the most pending first.
  std::vector<destination_view> destinations() const;

  /// What `revive` and `discard` answer: the seq the message has now (the
  /// fresh one for `revive`), or an error.
  using operator_done = std::function<void(actors::result<std::uint64_t>)>;

  /// Moves dead letter `seq` back into the outbox under a fresh seq, in one
  /// batch with `extra`, and delivers it once that batch is written (its
  /// lane's order: after what the lane holds). not_found if there is no
  /// such dead letter (or it is being revived or discarded);
  /// invalid_transition if it expired on the way to a receiver that
  /// dedupes for a bounded time (max_age): it may have been consumed and
  /// its id forgotten, so it is never delivered again. `done` runs on the
  /// commit's thread.
  void revive(std::uint64_t seq, storage::batch extra, operator_done done);

  /// Deletes dead letter `seq`, in one batch with `extra`; not_found as for
  /// `revive`.
  void discard(std::uint64_t seq, storage::batch extra, operator_done done);

  /// Pending messages (queued or in flight) or, with `dead`, dead letters;
  /// lowest seq (oldest) first, at most `limit`.
  std::vector<message_view> messages(bool dead, std::size_t limit) const;

  /// The pending messages `from` still has in the outbox, lowest seq first.
  std::vector<message_view> messages_of(const actors::address& from) const;

  /// The senders that still have pending messages or dead letters (cheap:
  /// one entry per lane and per dead letter, no message copied). The
  /// auditor leaves them alone: what they sent is on its way, or waits for
  /// an operator to retry or discard it.
  std::set<actors::address> senders() const;

  /// From now until `end_watch`, notes the sender of every message handed
  /// over (`enqueue`), whether or not it is delivered before the watch
  /// ends. The auditor's scan: `senders()` before and after it misses an
  /// actor whose message was handed over and acknowledged in between, while
  /// the scan read the receiver before the message and the sender after
  /// it. One watch at a time (the audit thread); a second `begin_watch`
  /// starts the notes afresh.
  void begin_watch();
  /// Ends the watch: the senders noted since `begin_watch` (none without
  /// one).
  std::set<actors::address> end_watch();

  /// Waits until nothing is queued or in flight; false on timeout.
  bool wait_empty(actors::millis timeout);

private:
  /// (sender, receiver); the receiver is the lane's destination.
  using lane_key = std::pair<actors::address, actors::address>;

  enum class phase : std::uint8_t {
    ready,     ///< head not started (or held back by `stop`)
    waiting,   ///< in its destination's FIFO for a slot
    in_flight, ///< holds a slot; the ack timer runs
    backoff,   ///< after a retryable failure; the retry timer runs
    delayed,   ///< holds a slot; handed over when its timer runs (an
               ///< injected relay.deliver delay), then in_flight
  };

  struct lane {
    std::deque<std::uint64_t> queue; ///< seqs, head first
    phase at = phase::ready;
    std::uint32_t attempts = 0; ///< of the head
    std::string last_error;     ///< of the head
    std::uint64_t timer = 0;    ///< token of the live heap entry; 0 = none
  };

  struct destination {
    std::size_t in_flight = 0;
    std::deque<lane_key> waiting;
  };

  struct pending {
    entry e;
    actors::millis queued_at = 0;
  };

  /// A heap entry; stale once its lane is gone or holds another token.
  struct timer {
    actors::millis due = 0;
    std::uint64_t token = 0;
    lane_key key;
  };
  struct later {
    bool operator()(const timer& a, const timer& b) const {
      return a.due > b.due;
    }
  };

  /// A delivery decided under mu_, handed to the sink after releasing it.
  struct delivery {
    lane_key key;
    std::uint64_t seq = 0;
    actors::envelope msg;
    /// Already past the relay.deliver fault point (after a delay).
    bool faulted = false;
    /// Past max_age: not handed over but moved to the dead letters.
    bool expired = false;
  };
  using deliveries = std::vector<delivery>;

  void run();
  /// Takes the acknowledged keys and commits their deletes as one batch;
  /// mu_ held by `lock`, released while committing.
  void flush_acks(std::unique_lock<std::mutex>& lock);
  /// `expired`: the message is past max_age; it becomes a dead letter.
  void on_reply(const lane_key& k, std::uint64_t seq, const turn_reply& r,
                bool expired = false);
  void hand_over(deliveries out);
  /// Holds the in-flight head `seq` of lane `k` back for `ms` (a
  /// relay.deliver delay); takes mu_.
  void postpone(const lane_key& k, std::uint64_t seq, actors::millis ms);

  // Require mu_ held; deliveries to start go to `out`.
  void start_lane(const lane_key& k, lane& l, deliveries& out);
  void send(const lane_key& k, lane& l, deliveries& out);
  void release_slot(const actors::address& to, deliveries& out);
  void arm(const lane_key& k, lane& l, actors::millis due);
  void compact_timers();
  message_view view_of(const pending& p) const;
  /// Makes message `seq`, rejected with `err` after `attempts`, a dead
  /// letter: in memory now, in storage with `b`. Requires mu_.
  void bury(std::uint64_t seq, const pending& p, std::uint32_t attempts,
            const actors::error& err, storage::batch& b);
  actors::millis wall() const;
  /// The retry horizon of messages to `to` (max_age or give_up_after).
  actors::millis horizon(const actors::address& to) const;
  /// True if message `seq` to `to` is older than its horizon.
  bool expired(std::uint64_t seq, const actors::address& to) const;
  /// Whether ages are tracked ("relay/since/" markers), and how often a
  /// marker is written.
  bool ages_tracked() const noexcept;
  actors::millis mark_interval() const noexcept;
  /// Takes dead letter `seq` out of dead_letters_ for an operator's action;
  /// nullopt if there is none. Requires mu_.
  std::optional<message_view> take_dead(std::uint64_t seq);
  /// Puts back a dead letter whose revive or discard failed; takes mu_.
  void restore_dead(message_view m);
  static actors::error no_dead_letter(std::uint64_t seq);
  /// Commits `b` with the delete of dead letter `m` (taken out already);
  /// then runs `then` and answers `answer`, or puts `m` back and answers
  /// unavailable.
  void settle_dead(message_view m, storage::batch b, std::uint64_t answer,
                   operator_done done, std::function<void()> then);
  /// Counts `m` in refunds_owed_ (+1) or out (-1). Requires mu_.
  void count_owed(const actors::envelope& m, int delta);
  /// Records a "relay/since/" marker for the next seq and, with `prune`,
  /// deletes those no pending message needs; the caller commits `b`.
  void mark(storage::batch& b, bool prune);
  actors::millis backoff(std::uint32_t attempts);

  // Constant after construction.
  storage::store& db_;
  const switchboard& targets_;
  const relay_options opts_;

  std::atomic<std::uint64_t> next_seq_{1};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable empty_cv_;
  // Guarded by mu_.
  std::map<std::uint64_t, pending> entries_; ///< pending, by seq
  std::map<lane_key, lane> lanes_;           ///< lanes with pending messages
  std::map<actors::address, destination> destinations_; ///< busy ones only
  std::vector<timer> timers_; ///< min-heap on due (std::push_heap, later)
  std::uint64_t next_timer_ = 0;
  std::map<std::uint64_t, message_view> dead_letters_; ///< by seq
  /// Senders handed over since begin_watch(); nullopt: no watch.
  std::optional<std::set<actors::address>> watched_;
  std::size_t waiting_ = 0; ///< lanes in a destination FIFO
  std::uint64_t delivered_ = 0;
  std::uint64_t attempts_ = 0;
  std::uint64_t dead_ = 0;
  std::size_t refunds_owed_ = 0;
  /// Acknowledged entries whose delete is not yet submitted to the store:
  /// the outbox is not empty (wait_empty) until it is, so a stop right after
  /// still writes the delete.
  std::size_t deleting_ = 0;
  /// Outbox keys acknowledged since the last flush, deleted in one batch at
  /// `acks_due_` (steady ms) by run(), or by stop().
  std::vector<std::string> acked_;
  actors::millis acks_due_ = 0;
  /// run() is there to flush them (between start and stop).
  bool running_ = false;
  bool stopping_ = false;
  /// The "relay/since/" markers, seq -> ms since epoch.
  std::map<std::uint64_t, actors::millis> since_;
  /// Steady ms of the next marker (run()).
  actors::millis next_mark_ = 0;

  std::thread thread_;
};

} // namespace ordo::runtime::detail
