#pragma once

// `ordo sandbox-provider`: a stand-alone fake payment provider and SMS
// webhook, for the tests and for anyone trying ordo without real ones (`ordo
// serve --payment-provider http://HOST:PORT --sms-webhook
// http://HOST:PORT/sms`). It speaks the outbound half of API.md "Payments"
// and the SMS adapter's webhook (runtime/detail/sms.hpp):
//
//   POST /refund {"refund_id","txn_id","amount"[,"order_id"]}
//   POST /close  {"order_id"}
//   POST /sms    {"notification_id","order_id","template","text"}
//     → 200 {"result":"recorded"|"duplicate"}; 400 on a bad body; 503 on an
//       injected failure. Refunds dedupe on refund_id, closes on order_id,
//       SMS on notification_id: a repeat answers "duplicate" and is not
//       recorded again.
//   GET /calls
//     → {"refunds":[{"refund_id","txn_id","amount","order_id","received",
//        "attempts"}], "closes":[{"order_id","received","attempts"}],
//        "sms":[{"notification_id","order_id","template","text",
//        "received","attempts"}], "requests":N, "failed":N, "duplicates":N}
//     `received`: times the id was recorded as new (1 unless the journal
//     was lost); `attempts`: POSTs that carried it since this process
//     started, failures included;
//     `requests`: POSTs to /refund, /close and /sms (bad bodies included);
//     `failed`: those answered 503.
//
// Failure injection: a fraction `fail_rate` of the POSTs is answered 503,
// half of them before recording and half after, so a client cannot tell
// whether the call landed (this is what exactly-once is tested against).
//
// Journal (`data_file`): every first-seen refund, close or SMS is appended
// as a JSON line and fsynced before it is answered; start-up reloads it, so
// the counts survive kill -9 and restart. A torn last line is skipped.
//
// Threading: start() and stop() from one owner thread; everything else runs
// on one internal I/O thread.

#include <cstdint>
#include <memory>
#include <string>

namespace ordo::app {

struct sandbox_provider_options {
  /// Listen address. Default: 127.0.0.1.
  std::string host = "127.0.0.1";
  /// Listen port; 0 picks a free one. Default: 0.
  std::uint16_t port = 0;
  /// Fraction of POSTs answered 503, in [0, 1]. Default: 0.
  double fail_rate = 0;
  /// Delay before every answer (an Asio timer, no thread sleeps), ms.
  /// Default: 0.
  std::int64_t latency_ms = 0;
  /// The journal file; "" keeps the calls in memory only. Default: "".
  std::string data_file;
  /// Seed of the failure draws; 0 = a random seed. Default: 0.
  std::uint64_t seed = 0;
};

class sandbox_provider {
public:
  virtual ~sandbox_provider() = default;

  /// Loads the journal, listens and starts serving. On failure returns
  /// nullptr and sets `*err`.
  static std::unique_ptr<sandbox_provider>
  start(const sandbox_provider_options& opts, std::string* err);

  /// The bound port (the chosen one when started with 0).
  virtual std::uint16_t port() const = 0;

  /// Stops serving and closes every connection; idempotent. What was
  /// answered "recorded" is already in the journal.
  virtual void stop() = 0;
};

} // namespace ordo::app
