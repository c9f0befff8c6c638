#pragma once

// The nodes of a cluster talking to each other over CAF's io middleman
// (DESIGN.md §4). Each node publishes one endpoint actor on its
// cluster port and connects to every peer's (`remote_actor`), with a
// handshake that refuses a peer whose membership differs. Two things cross:
//
//   HTTP calls  a request that arrived at this node for a partition another
//               node owns, passed on as it arrived; the owner serves it with
//               its own gateway and the answer comes back as it was rendered.
//   messages    actor envelopes (reserve stock on the SKU's node, a saga
//               step, a report record) handed over by the relay, keeping
//               their ids and dedupe ids; the receiver's turn is durable
//               before it acknowledges.
//
// Unavailability is explicit: a call or message for a node that is not
// connected fails at once with `unavailable`; one in flight fails when CAF
// reports the connection down (a monitor on the peer's proxy) or after
// `call_timeout`, whichever comes first. Nothing waits without a bound.
// Reconnects run in the background with exponential backoff, one thread per
// peer (a connect to a dead host must not stall the others).
//
// Wire types (registered with CAF): http_call, http_answer, wire_message,
// wire_reply, hello. Replies are plain messages carrying the caller's id,
// not CAF request/response, so any thread can answer.
//
// Threading: every method is thread-safe. Handlers and `done` callbacks run
// on CAF or mesh threads and must not block.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/vocabulary.hpp"
#include "cluster/placement.hpp"
#include "runtime/remote.hpp"

namespace ordo::cluster {

/// An HTTP request passed to the node that owns its partition.
struct http_call {
  std::string method; ///< "GET", "POST", ...
  std::string target; ///< path and query, as received
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// The owner's reply to an http_call, as its gateway rendered it.
struct http_answer {
  std::uint16_t status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct mesh_options {
  /// Membership and the partition map; not null.
  std::shared_ptr<const partition_map> map;
  /// A forwarded call or message not answered within this fails with
  /// unavailable. Default: 5 s.
  actors::millis call_timeout = 5'000;
  /// Reconnect backoff: the first wait after a failure and the longest.
  /// Default: 100 ms and 2 s.
  actors::millis backoff_base = 100;
  actors::millis backoff_cap = 2'000;
  /// Longest wait for a peer's answer to the handshake. Default: 2 s.
  actors::millis hello_timeout = 2'000;
};

/// One peer as this node sees it (GET /v1/admin/cluster).
struct peer_view {
  std::string id;
  std::string address;
  bool reachable = false;
  /// Why the last connect failed or the peer refused ("" when reachable).
  std::string last_error;
  /// Steady ms since the reachability last changed.
  actors::millis for_ms = 0;
  std::uint64_t connects = 0;        ///< successful handshakes
  std::uint64_t calls_forwarded = 0; ///< HTTP calls sent to it
  std::uint64_t messages_forwarded = 0;
  std::uint64_t failures = 0;     ///< calls and messages that got no answer
  std::uint64_t calls_served = 0; ///< HTTP calls it sent here
  std::uint64_t messages_served = 0;
  /// Round trips of the last (up to 1024) answered calls and messages, µs.
  std::uint64_t latency_p50_us = 0;
  std::uint64_t latency_p99_us = 0;
  std::uint64_t latency_max_us = 0;
};

class mesh : public runtime::remote {
public:
  /// Serves an HTTP call from `from_node`; `reply` once, from any thread.
  using http_handler = std::function<void(http_call call, std::string from_node,
                                          std::function<void(http_answer)>)>;
  /// Delivers an envelope from a peer to a local actor.
  using message_handler = std::function<void(
    actors::envelope msg, std::string dedupe_id, runtime::remote_done)>;
  /// Told when a peer becomes reachable (e.g. to retry its messages now).
  using peer_up_handler = std::function<void(const std::string& node)>;

  /// Publishes this node's endpoint on its cluster port, then tries every
  /// peer once: one that refuses this node's membership (partition count,
  /// peer list, or it is not the node --peers names) fails the start with
  /// its reason; unreachable ones are retried in the background. nullptr
  /// and `*err` on failure.
  static std::unique_ptr<mesh> start(mesh_options opts, std::string* err);

  /// Stops reconnecting, fails whatever is pending, closes the port.
  ~mesh() override = default;

  /// Incoming work: until a handler is set, calls and messages from peers
  /// are answered unavailable ("starting").
  virtual void serve_http(http_handler h) = 0;
  virtual void serve_messages(message_handler h) = 0;
  virtual void on_peer_up(peer_up_handler h) = 0;
  /// Tells every connected peer that this node serves now, so that what
  /// they hold for it is sent at once rather than after the backoff its
  /// "node starting" answers caused. Peers that connect later are not
  /// told: their first sends find it serving.
  virtual void announce_ready() = 0;

  /// Sends `call` to `node` and answers with its reply, or unavailable.
  virtual void forward(const std::string& node, http_call call,
                       std::function<void(actors::result<http_answer>)> done)
    = 0;

  virtual const partition_map& map() const = 0;
  /// Every other node, in the order configured.
  virtual std::vector<peer_view> peers() const = 0;
  /// True when `node` is this node or connected now.
  virtual bool reachable(const std::string& node) const = 0;

  /// Closes the port and every connection; pending calls fail. Idempotent.
  virtual void stop() = 0;
};

} // namespace ordo::cluster
