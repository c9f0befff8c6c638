#pragma once

// The payment provider over HTTP: the destination "payment" of the outbox
// when --payment-provider is set (API.md "Payments", outbound). A "close"
// {"order_id"} becomes POST {url}/close and a "refund" {"refund_id",
// "txn_id","amount","order_id"} POST {url}/refund, both JSON. A 2xx answer
// is success: a close is acknowledged at once, a refund is confirmed to its
// order (confirm_refund) and acknowledged once the order has recorded it.
// Anything else (non-2xx, connection error, timeout) answers `unavailable`,
// which the relay retries with backoff; the provider dedupes refunds on
// refund_id, so a repeated call is harmless.
//
// Concurrency: the calls go through an `http_poster` (http_post.hpp), a
// keep-alive pool of at most `max_connections` on its own I/O thread.
// `deliver` only hands the call to that thread and never blocks; replies
// run on it (or on the order's thread for a refund's confirmation) and must
// not block either.
//
// Fault point payment.call (runtime/faults.hpp), once a call is well-formed:
// error answers `unavailable` without calling; drop calls but never answers
// (nor confirms a refund; the relay's ack timeout repeats it); delay calls
// later, from the delayer's thread.
//
// Threading: thread-safe.

#include <cstdint>
#include <memory>
#include <string>

#include "actors/provider.hpp"
#include "runtime/detail/sink.hpp"
#include "runtime/faults.hpp"

namespace ordo::runtime::detail {

class http_poster;

struct http_provider_options {
  /// "http://HOST[:PORT][/BASE]". Default: "" (invalid: start() fails).
  std::string url;
  /// Keep-alive connections to the provider, at most. Default: 8.
  std::size_t max_connections = 8;
  /// One attempt (connect, write, read) must end within this. Default: 5 s.
  actors::millis timeout = 5'000;
};

class http_provider final : public sink {
public:
  /// What the adapter has done so far.
  struct figures {
    std::uint64_t calls = 0;     ///< HTTP requests sent (attempts)
    std::uint64_t succeeded = 0; ///< answered 2xx
    std::uint64_t failed = 0;    ///< non-2xx, connection errors, timeouts
    std::size_t connections = 0; ///< open or opening
  };

  /// Validates `opts` and starts the I/O thread. On failure returns nullptr
  /// and sets `*err`. `targets` (for refund confirmations) must outlive the
  /// adapter.
  static std::unique_ptr<http_provider> start(const http_provider_options& opts,
                                              const switchboard& targets,
                                              std::string* err);

  /// Stops (see stop()).
  ~http_provider() override;

  /// Posts the call onto the I/O thread; returns at once. Unknown types or
  /// missing ids are answered bad_request on the calling thread.
  void deliver(const actors::envelope& msg, std::string dedupe_id,
               reply_fn done) override;

  figures stats() const;

  /// Stops the I/O thread and closes every connection; calls in flight (or
  /// held back by an injected delay) are dropped unanswered (the relay,
  /// stopped first, repeats them after a restart). Idempotent.
  void stop();

private:
  http_provider(std::unique_ptr<http_poster> poster,
                const switchboard& targets);

  /// Makes the call `c`; answers `done` only if `answer`.
  void call(const actors::provider::input& c, reply_fn done, bool answer);

  // Constant after construction.
  const std::unique_ptr<http_poster> poster_;
  const switchboard& targets_;

  /// Calls held back by a payment.call delay.
  fault_delayer delayer_;
};

} // namespace ordo::runtime::detail
