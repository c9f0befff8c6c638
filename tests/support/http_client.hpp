#pragma once

// A small synchronous HTTP/1.1 keep-alive client for tests (Boost.Beast),
// plus helpers to sign payment callbacks and send admin requests. It is an
// independent client: it shares no code with the gateway it checks.
//
// Threading: one client per thread; distinct clients are independent.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ordo::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_response {
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

class http_client {
public:
  /// Connects to host:port. Throws std::runtime_error when it cannot.
  explicit http_client(std::uint16_t port, std::string host = "127.0.0.1");
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Sends one request and reads its response. A connection the server
  /// closed (Connection: close) is reopened first; a request is never
  /// retried. Content-Length is set from `body`. Throws std::runtime_error
  /// on network errors or after the timeout (default 10 s).
  http_response request(std::string_view method, std::string_view target,
                        std::string_view body = {},
                        const header_list& headers = {});

  http_response get(std::string_view target, const header_list& headers = {});
  http_response post(std::string_view target, std::string_view body = {},
                     const header_list& headers = {});
  http_response put(std::string_view target, std::string_view body,
                    const header_list& headers = {});

  /// Writes raw bytes (malformed or pipelined requests).
  void send_raw(std::string_view bytes);
  /// Reads one response.
  http_response read_response();
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

/// The X-Ordo-Signature value of `body` (gateway::detail::payment_signature).
std::string sign_payment(std::string_view secret, std::string_view body);

/// {"Authorization": "Bearer " + token}.
header_list bearer(const std::string& token);

} // namespace ordo::test
