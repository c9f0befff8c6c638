#pragma once

// How a node reaches actors that live on other nodes. The node
// knows nothing about networks: it is handed a `remote` (the cluster's mesh
// implements it) and asks it, for every message its relay, timers or
// requests deliver, whether the receiver lives elsewhere. No CAF here.
//
// Threading: implementations are thread-safe; `done` runs exactly once, on
// any thread, and must not block.

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/vocabulary.hpp"

namespace ordo::runtime {

/// What a turn answered, on this node or on the one that owns the actor:
/// an error, or success with a result word and the handler's reply payload.
struct turn_reply {
  std::optional<actors::error> err;
  std::string result;
  nlohmann::json reply;
};

using remote_done = std::function<void(turn_reply)>;

class remote {
public:
  virtual ~remote() = default;

  /// The id of the node that owns `to` when that is not this node; nullopt
  /// when it is this node (or `to` is not a placed actor, like the payment
  /// provider).
  virtual std::optional<std::string>
  elsewhere(const actors::address& to) const = 0;

  /// Delivers `msg` to its receiver on `node`. With a non-empty `dedupe_id`
  /// the receiver consumes it at most once. `done` gets `unavailable` when
  /// the node cannot be reached or does not answer in time.
  virtual void deliver(const std::string& node, const actors::envelope& msg,
                       const std::string& dedupe_id, remote_done done)
    = 0;
};

} // namespace ordo::runtime
