#pragma once

// One HTTP/1.1 connection, and the state its sessions share with the server.
//
// A session is confined to its strand. It reads a request (idle timeout for
// the first byte of a follow-up request, header timeout for the header, body
// timeout for the body), dispatches it through the router, waits for the
// reply, writes it (write timeout) and then reads the next request, so
// pipelined requests are answered in order. Replies computed on other
// threads reach the strand only through a reply_slot, which posts under the
// server's gate.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include "gateway/detail/http.hpp"
#include "gateway/detail/request_metrics.hpp"
#include "gateway/detail/router.hpp"
#include "gateway/server.hpp"

namespace ordo::gateway::detail {

class session;

/// Lets foreign threads post onto session strands only while the server's
/// io_context runs. Threading: guarded by mu.
struct gate {
  std::mutex mu;
  bool open = true; // guarded by mu
};

/// What every session of one server shares. Threading: `opts`, `routes`
/// and the `requests` pointer are constant after construction (the registry
/// is thread-safe); the session table is guarded by mu_.
class server_state {
public:
  /// `requests` must not be null; GET /metrics usually shares it.
  server_state(server_options opts, router routes,
               std::shared_ptr<request_metrics> requests);

  const server_options opts;
  const router routes;
  const std::shared_ptr<gate> exit;
  /// Counts and times every answered request.
  const std::shared_ptr<request_metrics> requests;

  /// Registers a new session unless max_connections are open.
  bool admit(const std::shared_ptr<session>& s);
  /// Unregisters a closed session.
  void forget(const session* s);
  /// Removes and returns every session (for shutdown).
  std::unordered_map<const session*, std::shared_ptr<session>> take_all();

private:
  std::mutex mu_;
  // Guarded by mu_.
  std::unordered_map<const session*, std::shared_ptr<session>> sessions_;
};

class session : public std::enable_shared_from_this<session> {
public:
  /// `state` must outlive every handler of this session (the server owns
  /// both and destroys the io_context first).
  session(boost::asio::ip::tcp::socket&& socket, server_state& state);

  /// Starts reading on the session's strand.
  void start();

  /// Instead of start(), for a session the server cannot admit: writes a
  /// 503 if the socket takes it without blocking, then closes.
  void refuse() noexcept;

  /// Closes the socket at once. Only while no I/O thread runs.
  void abort() noexcept;

  /// The strand; constant after construction.
  const boost::asio::any_io_executor& executor() const noexcept {
    return executor_;
  }

  /// Writes the reply of request `seq` (on the strand).
  void finish(std::uint64_t seq, const reply_maker& make);

private:
  using parser_type = http::request_parser<http::string_body>;

  void read_request();
  void read_header();
  void on_header(boost::beast::error_code ec);
  void read_body();
  void on_body(boost::beast::error_code ec);
  /// Reports a failed read: closes quietly or answers 400/413 and closes.
  void read_failed(boost::beast::error_code ec);
  void dispatch();
  /// Writes `r`; `close` forces Connection: close.
  void write(reply r, bool close);
  /// Records the current request, answered with `status`, in
  /// state_.requests.
  void observe(http::status status) noexcept;
  void on_write(boost::beast::error_code ec, bool keep_alive);
  /// Sends FIN, discards what the client still sends (bounded), closes.
  void linger();
  /// Reads and drops up to `budget` more bytes, then closes.
  void drain(std::size_t budget);
  void close() noexcept;

  // Constant after construction.
  server_state& state_;
  const boost::asio::any_io_executor executor_;

  // Confined to the strand.
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<parser_type> parser_;
  request req_;
  http::response<http::string_body> res_;
  std::uint64_t seq_ = 0;
  /// Of the current request, for request_metrics: when it was read, its
  /// route pattern (points into state_.routes or is unmatched_route) and
  /// method.
  std::chrono::steady_clock::time_point started_;
  std::string_view route_ = unmatched_route;
  http::verb method_ = http::verb::unknown;
  bool first_ = true;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  /// The request was not read to its end: drain before closing.
  bool unread_ = false;
  bool closed_ = false;
  char discard_[4096];
};

} // namespace ordo::gateway::detail
