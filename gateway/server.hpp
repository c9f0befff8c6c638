#pragma once

// The HTTP/1.1 JSON gateway of one node (API.md), Boost.Beast over Asio.
//
// Concurrency model: `threads` I/O threads run one io_context. Each
// connection is a session confined to its own strand: it reads one request,
// waits for its reply, writes it, and only then reads the next (pipelined
// requests are answered in order). A request that needs the node calls it
// and returns; the node's callback (on a runtime thread) only posts the
// result back onto the session's strand, where it is rendered and written.
// No socket is touched from a foreign thread. Every request runs inside one
// try/catch whose errors become API.md error replies; nothing a client
// sends can stop the server.
//
// Slow or broken clients are bounded by the timeouts below: waiting for a
// request's first byte (idle), for the rest of its header, for its body and
// for the client to take the reply.
//
// Threading: `start` may be called from any thread; `port` is constant;
// `stop` is idempotent, must not be called from an I/O thread, and the
// destructor calls it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cluster/mesh.hpp"
#include "cluster/placement.hpp"

namespace ordo::runtime {
class node;
} // namespace ordo::runtime

namespace ordo::gateway {

struct server_options {
  /// Address to listen on: an IP literal or a resolvable name.
  // Default: "127.0.0.1"
  std::string host = "127.0.0.1";
  /// TCP port; 0 = let the kernel pick a free one (see server::port()).
  // Default: 8080
  std::uint16_t port = 8080;
  /// Bearer token of the admin endpoints; empty = every admin request is
  /// refused (401).
  // Default: "" (the command line always sets one)
  std::string admin_token;
  /// HMAC-SHA256 key of payment callbacks; empty = every callback is
  /// refused (401).
  // Default: "" (the command line always sets one)
  std::string payment_secret;
  /// Largest accepted request body; larger ones get 413 and the connection
  /// is closed.
  // Default: 1 MiB
  std::size_t body_limit = 1024 * 1024;
  /// Largest accepted request line + header fields; larger get 400 and close.
  // Default: 16 KiB
  std::uint32_t header_limit = 16 * 1024;
  /// Time from a request's first byte until its header is complete.
  // Default: 10 s
  std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  /// Time a keep-alive connection may wait for its next request.
  // Default: 60 s
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  /// Time to receive a request's body once its header is in.
  // Default: 30 s
  std::chrono::milliseconds body_timeout = std::chrono::seconds(30);
  /// Time the client has to take a reply.
  // Default: 30 s
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  /// I/O threads (1..64).
  // Default: 1
  std::size_t threads = 1;
  /// Open connections; beyond it new connections get 503 and are closed.
  // Default: 10000
  std::size_t max_connections = 10000;
  /// Cluster membership, shown at GET /v1/admin/cluster; start() fails if
  /// partition_map::make refuses it. Its partitions must be the node's.
  // Default: a single node "local" with 64 partitions
  cluster::membership_options membership;
  /// The connections to the other nodes; not owned, must outlive
  /// the server. When set, its map is the one served (and `membership` is
  /// ignored), requests for partitions other nodes own are forwarded to
  /// them, and requests they forward here are served. nullptr = a single
  /// node. Default: nullptr.
  cluster::mesh* mesh = nullptr;
  /// Serve the console at /console from this directory instead of the
  /// copy built into the binary (for working on the console).
  // Default: "" (the built-in copy)
  std::string console_dir;
};

/// A running gateway.
class server {
public:
  /// Stops the server (see stop()).
  virtual ~server() = default;

  /// Binds `opts.host:opts.port`, starts the I/O threads and serves `n`
  /// until stop(). `n` must outlive the server. On failure returns nullptr
  /// and sets `*err` (when `err` is not null).
  static std::unique_ptr<server> start(const server_options& opts,
                                       runtime::node& n, std::string* err);

  /// The bound port (the kernel's choice when the options said 0).
  virtual std::uint16_t port() const = 0;

  /// Stops accepting, closes every connection (requests still waiting for
  /// the node get no reply), joins the I/O threads. Replies the node
  /// delivers afterwards are dropped. Idempotent.
  virtual void stop() = 0;
};

} // namespace ordo::gateway
