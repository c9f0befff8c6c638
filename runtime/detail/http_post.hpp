#pragma once

// An outbound HTTP/1.1 JSON client for the adapters that talk to an external
// service (the payment provider, the SMS webhook): POST a JSON body to one
// host, learn whether it answered 2xx. Nothing is retried here except once,
// on a fresh connection, when a reused keep-alive connection turns out to
// have been closed by the peer while idle; every other failure goes back to
// the caller, whose own retry (the outbox relay) decides what happens next.
//
// Concurrency: one Asio io_context on one internal thread owns every
// connection (a keep-alive pool of at most `max_connections`) and the queue
// of requests waiting for one. `post` only hands the request to that thread
// and never blocks; callbacks run on it and must not block either.
//
// Threading: thread-safe.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/error_code.hpp>

#include "actors/vocabulary.hpp"

namespace ordo::runtime::detail {

/// A failure on a keep-alive connection that had already served a request,
/// such as the peer closing it while it sat idle: worth one more try on a
/// fresh connection before telling the caller.
bool closed_by_peer(const boost::system::error_code& ec) noexcept;

/// The parts of "http://HOST[:PORT][/PATH]".
struct http_url {
  std::string host; ///< without brackets for IPv6
  std::uint16_t port = 80;
  std::string path; ///< "" or "/path" without a trailing '/'
};

/// Parses "http://HOST[:PORT][/PATH]": scheme "http://" only, a host (IPv6
/// in brackets), an optional port 1..65535 (default 80), an optional path
/// (no query or fragment). nullopt and `*why` otherwise; `what` names the
/// URL's origin in that message ("invalid <what> URL '...': ..."), e.g.
/// "payment provider" or "--sms-webhook".
std::optional<http_url> parse_http_url(std::string_view url,
                                       std::string_view what, std::string* why);

struct http_post_options {
  /// Keep-alive connections to the host, at most. Default: 8.
  std::size_t max_connections = 8;
  /// One attempt (connect, write, read) must end within this. Default: 5 s.
  actors::millis timeout = 5'000;
  /// Names the peer in failure reasons and log lines. Default: "http".
  std::string name = "http";
};

class http_poster {
public:
  /// The outcome of one request: `ok` for a 2xx answer, otherwise `why`
  /// (status and the start of the body, or the connection error).
  using callback = std::function<void(bool ok, std::string why)>;

  /// What the client has done so far.
  struct figures {
    std::uint64_t calls = 0;     ///< requests sent (attempts)
    std::uint64_t succeeded = 0; ///< answered 2xx
    std::uint64_t failed = 0;    ///< non-2xx, connection errors, timeouts
    std::size_t connections = 0; ///< open or opening
  };

  /// Validates `opts` and starts the I/O thread; connects lazily, so an
  /// unreachable host is no error here. On failure returns nullptr and sets
  /// `*err`.
  static std::unique_ptr<http_poster>
  start(http_url url, const http_post_options& opts, std::string* err);

  /// Stops (see stop()).
  ~http_poster();
  http_poster(const http_poster&) = delete;
  http_poster& operator=(const http_poster&) = delete;

  /// Queues POST {url.path}{path} ("/" when both are empty) with
  /// `json_body` as application/json; returns at once. Callable from any
  /// thread; `done` (not empty) runs once on the I/O thread, unless stop()
  /// comes first.
  void post(std::string path, std::string json_body, callback done);

  figures stats() const;

  /// Stops the I/O thread and closes every connection; requests in flight
  /// or queued are dropped and their callbacks destroyed without running.
  /// Idempotent; not from a callback.
  void stop();

private:
  struct impl;
  explicit http_poster(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace ordo::runtime::detail
