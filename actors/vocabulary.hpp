#pragma once

// The words every actor kind of actors/ shares: domain time (`millis`), an
// actor's `address`, the `envelope` a message travels in, what a handler may
// read besides its state (`turn_context`) and what one turn returns besides
// the new state (`outcome`: the event, the reply, the messages to send, the
// timers to arm). Plain C++: the runtime persists an outcome in the same
// batch as the new state and only then replies, relays the outbox and arms
// the timers. The messages themselves are declared by their receivers
// (message.hpp explains how).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/errc.hpp"

namespace ordo::actors {

/// Milliseconds since the Unix epoch (UTC); all domain time is this.
using millis = std::int64_t;

/// What a handler may read besides its state: the time of the turn and the
/// machine's tunables. Each machine names it `context`.
template <class Config>
struct turn_context {
  millis now = 0;
  const Config* cfg = nullptr;
};

/// What an SKU sells: goods are shipped, services are dispatched (O2O).
enum class item_kind : std::uint8_t { goods, service };

const char* to_string(item_kind k) noexcept;
/// Parses "goods" / "service"; nullopt for anything else.
std::optional<item_kind> parse_item_kind(const std::string& s) noexcept;

/// An actor's name: its kind ("order", "sku", ...) and id. Adapters that are
/// not actors (the payment provider) use their kind and an empty id.
struct address {
  std::string kind;
  std::string id;

  friend bool operator==(const address& a, const address& b) {
    return a.kind == b.kind && a.id == b.id;
  }
  friend bool operator<(const address& a, const address& b) {
    return a.kind < b.kind || (a.kind == b.kind && a.id < b.id);
  }
};

/// A message between actors. As an outbox entry it is written in the
/// sender's batch and delivered after commit, retried until acknowledged; the
/// receiver dedupes on `id` in the same batch as its state change. As a
/// request (see `outcome::requests`) it is sent at once, not persisted, and
/// its reply comes back to the sender as the message `type + ".reply"`.
struct envelope {
  /// Unique and deterministic, e.g. "order/o1#3.0" (sender, version, index).
  std::string id;
  address to;
  /// What the receiver should do, e.g. "release".
  std::string type;
  nlohmann::json body;
};

/// Arms (due > 0) or disarms (due == 0) a durable timer of this actor. A
/// fired timer comes back as the message "timer" with {"name": name}.
struct timer_op {
  std::string name;
  millis due = 0;
};

/// Counts for an actor that only counts (a report shard): `values` are added
/// element by element to the sums its record `part` keeps, in the batch of
/// the turn that counts them. The count changes exactly when that turn
/// does, without a message, a turn of the counting actor or a dedupe record.
struct addition {
  address to;
  std::string part;
  std::vector<std::int64_t> values;
};

/// Answers requesters whose reply a previous turn deferred under `tag`.
struct resolution {
  std::string tag;
  std::optional<error> err; // nullopt = success
};

/// What one turn asks for besides the state change.
struct outcome {
  /// The reply to whoever sent the message; nullopt = success.
  std::optional<error> err;
  /// A short word for replies that need one ("captured", "duplicate", ...).
  std::string result;
  /// Payload for a request's reply (read by the requesting state machine).
  nlohmann::json reply;
  /// Reply later: the requester waits until a turn resolves this tag.
  std::string defer_tag;
  std::vector<resolution> resolves;

  /// Durable messages, persisted with the state, relayed after commit.
  std::vector<envelope> outbox;
  /// Immediate, non-durable requests (each receiver must tolerate loss:
  /// their effect expires or is retried by the client).
  std::vector<envelope> requests;
  std::vector<timer_op> timers;
  /// Written with the state, like the outbox, but delivered by the write.
  std::vector<addition> additions;

  /// Journal: the transition made ("" when the state did not change) and
  /// what caused it. A turn with a non-empty event bumps the version.
  std::string event;
  std::string cause;
  /// Counters the runtime exports as metrics ("refund_anomaly", ...).
  std::vector<std::string> signals;

  static outcome fail(errc code, std::string message) {
    outcome o;
    o.err = error{code, std::move(message)};
    return o;
  }
};

/// The body of the ".reply" message that answers a request with `o`:
/// {"from": from, "ok": bool, "error": code (when failed), "message"} plus the
/// fields of `o.reply`. The one format every requester's decode() reads.
nlohmann::json reply_body(const std::string& from,
                          const std::optional<error>& err,
                          const nlohmann::json& reply);
inline nlohmann::json reply_body(const std::string& from, const outcome& o) {
  return reply_body(from, o.err, o.reply);
}

} // namespace ordo::actors
