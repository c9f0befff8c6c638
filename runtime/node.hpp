#pragma once

// The face of one ordo node for front ends (the HTTP gateway, tools, tests).
// No CAF, RocksDB or Asio here: requests go in as plain structs and replies
// come back through callbacks.
//
// Threading: every method is thread-safe. Callbacks run on a runtime thread
// (an actor or the commit thread), exactly once, after the change they
// report is durable; they must not block.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/inventory.hpp"
#include "actors/order.hpp"

namespace ordo::runtime {

class clock;

template <class T>
using callback = std::function<void(actors::result<T>)>;

struct node_options {
  /// RocksDB directory. Default: ./data
  std::string data_dir = "./data";
  /// fsync before acknowledging. Default: true (--durability sync).
  bool sync = true;
  /// Unpaid orders auto-cancel after this. Default: 15 min.
  actors::millis payment_timeout = 15 * 60 * 1000;
  /// Unconfirmed reservations expire after this. Default: 15 min.
  actors::millis reservation_ttl = 15 * 60 * 1000;
  /// Idle order actors leave memory after this. Default: 60 s.
  actors::millis passivate_after = 60 * 1000;
  /// Partitions of the order id space. Default: 64.
  std::uint32_t partitions = 64;
  /// Actor scheduler threads. Default: 2.
  std::size_t scheduler_threads = 2;
  /// Where close/refund calls go: "http://HOST:PORT[/BASE]" (POST
  /// {url}/close, {url}/refund); empty = the built-in sandbox. A URL that
  /// does not parse makes start() fail. Default: "".
  std::string payment_provider;
  /// Longest delay between two retries of one outbox message (to an actor
  /// or to the payment provider); retries start at 100 ms and double.
  /// Default: 30 s.
  actors::millis outbox_backoff_cap = 30'000;
  /// The time source; nullptr = the system clock. Default: nullptr.
  std::shared_ptr<clock> time;
};

/// A create's reply: the order, and whether this call created it (201) or
/// found it by its Idempotency-Key (200).
struct created_order {
  actors::order::state order;
  bool created = false;
};

/// A payment callback's reply: "captured", "refunded", "duplicate" or
/// "ignored", and the order after it.
struct payment_result {
  std::string result;
  actors::order::state order;
};

/// A refund or close call as the built-in sandbox provider recorded it.
struct provider_call {
  std::string kind; ///< "refund" or "close"
  std::string id;   ///< refund_id, or order_id for close
  std::string order_id;
  std::string txn_id;
  std::int64_t amount = 0;
  std::uint32_t received = 0; ///< calls seen with this id (retries included)
};

/// Figures about a running node (metrics, tests, tools).
struct node_stats {
  std::size_t active_orders = 0;  ///< order actors in memory
  std::size_t active_skus = 0;    ///< SKU actors in memory
  std::uint64_t activations = 0;  ///< actors loaded, all kinds
  std::uint64_t passivations = 0; ///< actors that left memory, all kinds
  std::size_t timers_pending = 0; ///< durable timers armed
  std::size_t outbox_backlog = 0; ///< messages not yet acknowledged
  std::uint64_t outbox_delivered = 0;
  std::uint64_t outbox_attempts = 0;
  std::uint64_t outbox_dead = 0;
  std::uint64_t commits = 0;          ///< group commits (WAL writes)
  std::uint64_t batches = 0;          ///< actor turns committed
  std::uint64_t refund_anomalies = 0; ///< payments refunded automatically
  std::uint64_t payment_calls = 0;    ///< HTTP calls to --payment-provider
  std::uint64_t payment_failures = 0; ///< of which non-2xx, errors, timeouts
};

class node {
public:
  virtual ~node() = default;

  /// Opens storage, starts the actor system, re-arms timers, resumes the
  /// outbox. On failure returns nullptr and sets `*err`.
  static std::unique_ptr<node> start(const node_options& opts,
                                     std::string* err);

  virtual void put_sku(const std::string& sku, actors::inventory::put cmd,
                       callback<actors::inventory::state> cb)
    = 0;
  virtual void get_sku(const std::string& sku,
                       callback<actors::inventory::state> cb)
    = 0;

  /// `idempotency_key` scopes per user: the order id derives from both.
  virtual void create_order(const std::string& idempotency_key,
                            actors::order::create cmd,
                            callback<created_order> cb)
    = 0;
  /// Reads the last durable state without activating the order.
  virtual void get_order(const std::string& order_id,
                         callback<actors::order::state> cb)
    = 0;
  virtual void cancel_order(const std::string& order_id,
                            actors::order::cancel cmd,
                            callback<actors::order::state> cb)
    = 0;
  virtual void complete_order(const std::string& order_id,
                              callback<actors::order::state> cb)
    = 0;
  virtual void refund_order(const std::string& order_id,
                            callback<actors::order::state> cb)
    = 0;
  virtual void payment_callback(const std::string& order_id,
                                actors::order::pay cmd,
                                callback<payment_result> cb)
    = 0;

  /// What the built-in sandbox provider has received (empty when an external
  /// provider is configured).
  virtual std::vector<provider_call> sandbox_calls() = 0;

  virtual node_stats stats() const = 0;

  /// Waits until every outbox message has been acknowledged (nothing in
  /// flight between actors or to adapters); false on timeout.
  virtual bool quiesce(actors::millis timeout) = 0;

  /// True once start-up (timer re-arm, outbox scan) is complete.
  virtual bool ready() const = 0;

  /// Stops accepting work, drains commits, stops the actor system. Idempotent.
  virtual void stop() = 0;
};

} // namespace ordo::runtime
