#pragma once

// The load generator's HTTP/1.1 client: keep-alive connections driven by one
// Asio io_context (async, one request in flight per connection), a pool of
// them for the batches of requests that setup and the check send, and one
// blocking GET for the other nodes of a cluster.
//
// Threading: everything here is confined to the thread that runs the
// io_context (run_load()'s caller).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace ordo::app::load {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;

/// One request's limit (connect, write, read); beyond it the answer is lost.
constexpr std::chrono::seconds request_timeout{10};

/// `d` in whole microseconds.
std::int64_t micros(clock_type::duration d);

/// `d` in seconds.
double seconds(clock_type::duration d);

/// One request's answer, or why there was none.
struct reply {
  /// The HTTP status; 0 when no answer came (see `failure`).
  unsigned status = 0;
  /// Why no answer came ("timeout", "Connection refused", ...).
  std::string failure;
  std::string body;
  time_point sent;
  time_point done;
};

using reply_fn = std::function<void(reply&)>;

/// A request as bytes. `headers` are complete lines ("Name: value\r\n");
/// a non-empty `body` is sent as JSON.
std::string make_request(std::string_view method, std::string_view target,
                         const std::string& host, std::string_view headers,
                         std::string_view body);

/// One keep-alive HTTP/1.1 connection, one request at a time; it connects
/// on first use and again after an error or a `Connection: close`. A
/// request on a connection that sat idle, failing as if the server had
/// closed it meanwhile (its idle timeout), is sent once more on a fresh
/// one: the check reads orders on connections idle since the run began.
/// Every request the generator sends may repeat (idempotency keys, the
/// provider's payment ids, cancels and reads).
/// Confined to the I/O thread; must outlive its pending request; `where`
/// must outlive it.
class connection {
public:
  connection(asio::io_context& ioc, const tcp::resolver::results_type& where)
    : where_(where), stream_(ioc) {}

  /// Sends `wire` (a complete request) and calls `done` with its answer.
  /// Precondition: no request of this connection is in flight.
  void send(std::string wire, reply_fn done);

private:
  void connect();
  void write();
  void read();
  void fail(boost::beast::error_code ec);
  void close();
  void finish();

  const tcp::resolver::results_type& where_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<
    boost::beast::http::response_parser<boost::beast::http::string_body>>
    parser_;
  std::string wire_;
  reply_fn done_;
  reply reply_;
  bool open_ = false;
  /// The request went out on a connection opened for an earlier one.
  bool reused_ = false;
};

/// A few connections to the node under load for batches of requests
/// (setup and check), each run to completion on `ioc`. Confined to the
/// I/O thread; `ioc` and `where` must outlive it.
class pool {
public:
  pool(asio::io_context& ioc, const tcp::resolver::results_type& where,
       std::size_t size);

  /// Sends requests 0..n-1 (`make(i)`), one in flight per connection, hands
  /// each answer to `handle(i, answer)` and returns when all are answered.
  void batch(std::size_t n, const std::function<std::string(std::size_t)>& make,
             const std::function<void(std::size_t, reply&)>& handle);

  /// Sends one request and returns its answer.
  reply fetch(std::string wire);

private:
  asio::io_context& ioc_;
  std::vector<std::unique_ptr<connection>> connections_;
};

/// One blocking GET of `target` at http://host:port with `bearer` as the
/// Authorization token, on a connection of its own; a failure is in the
/// reply's `failure`.
reply blocking_get(const std::string& host, std::uint16_t port,
                   const std::string& target, const std::string& bearer);

} // namespace ordo::app::load
