#pragma once

// A synchronous HTTP/1.1 keep-alive client for JSON APIs (Boost.Beast,
// hidden behind a pimpl so this header pulls in no Asio). `ordo inspect`
// talks to a running node with it, and the tests drive the gateway with it;
// it is not the gateway's server side, which it shares no code with.
//
// Besides plain requests it can write raw bytes (malformed or pipelined
// requests), read a response on its own, and tell whether the server has
// closed the connection, so tests can probe a server's framing and
// timeouts.
//
// Threading: confined to the thread that uses it; distinct clients are
// independent.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ordo::gateway {

/// Header fields to send, in order (a name may repeat).
using header_list = std::vector<std::pair<std::string, std::string>>;

/// {"Authorization": "Bearer " + token}.
header_list bearer(const std::string& token);

/// One response as read off the wire.
struct response {
  unsigned status = 0;
  /// Header fields by lower-case name (the last one wins on repeats).
  std::map<std::string, std::string> headers;
  std::string body;
  /// The body parsed as JSON; null when empty or not JSON.
  nlohmann::json json;
  /// Whether the server keeps the connection open after this response.
  bool keep_alive = true;

  /// The header field `name` (any case); "" when absent.
  std::string header(std::string_view name) const;
  /// json["error"] as a string, or "" (for error replies).
  std::string error() const;
};

class client {
public:
  /// Connects to host:port; `timeout` bounds this and each later operation
  /// (see timeout()). Throws std::runtime_error when it cannot connect.
  explicit client(std::uint16_t port, std::string host = "127.0.0.1",
                  std::chrono::milliseconds timeout = std::chrono::seconds{10});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Sends one request and reads its response. A connection the server
  /// closed (Connection: close) is reopened first; a request is never
  /// retried. Host is host:port; Content-Length is set from `body`, and
  /// Content-Type to application/json when `body` is not empty and
  /// `headers` name none. Throws std::runtime_error on network errors or
  /// after the timeout.
  response request(std::string_view method, std::string_view target,
                   std::string_view body = {}, const header_list& headers = {});

  response get(std::string_view target, const header_list& headers = {});
  response post(std::string_view target, std::string_view body = {},
                const header_list& headers = {});
  response put(std::string_view target, std::string_view body,
               const header_list& headers = {});

  /// Writes raw bytes (malformed or pipelined requests).
  void send_raw(std::string_view bytes);
  /// Reads one response.
  response read_response();
  /// True when the server has closed the connection: waits up to `wait`
  /// for EOF or a reset. Data arriving, or nothing, means open. Does not
  /// consume anything.
  bool closed_by_peer(std::chrono::milliseconds wait);

  /// Opens a fresh connection (dropping the current one).
  void reconnect();
  /// Sets the timeout of each later operation.
  void timeout(std::chrono::milliseconds t);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace ordo::gateway
