#pragma once

// The SMS adapter: the destination "sms" of the outbox (API.md "Server",
// --sms-webhook). An order (or, for orders stored before orders kept their
// own, a notifier; actors/notifier.hpp) sends it
//
//   "sms" {"notification_id", "order_id", "template", "text", "confirm_to"}
//
// and expects, once the SMS went out, "sms_sent" {"notification_id"} at
// {confirm_to, order_id}: confirm_to is "order" or "notifier" (absent:
// "notifier"). The adapter delivers that through the switchboard without a
// dedupe id (the SMS machine ignores a repeat: it confirms only the
// notification in flight, so no dedupe record is needed), and
// acknowledges the relay with the sender's reply: the outbox keeps the "sms"
// until the sender has durably recorded that it went out, so a crash anywhere
// repeats the delivery and never loses it. A repeat reaches the adapter again;
// both modes dedupe on notification_id, so one notification is sent once.
//
// Two modes:
//   webhook (--sms-webhook URL): POST {URL} (the URL's own path) with the
//     JSON {"notification_id","order_id","template","text"}; a 2xx answer
//     is sent, anything else (non-2xx, connection error, timeout) answers
//     `unavailable` and the relay retries. The webhook dedupes on
//     notification_id.
//   log sink (no URL): records the notification durably in the aux column
//     family, prints ONE line to the log the first time a notification_id
//     is recorded and never for a repeat, then confirms as above. The
//     records, MessagePack in aux:
//
//       "sms/" notification_id -> {"order": order_id, "template": name,
//                                  "text": text, "n": deliveries received,
//                                  "to": confirm_to}
//       "sms-count"            -> {"sent": distinct ids recorded, ever}
//
//     Memory holds only the records whose write is in flight: a repeat is
//     looked up in the store, so a node with a million notifications
//     behind it starts without reading them.
//
// A message of another type, or without notification_id or order_id, or
// with a template or text that is not a string, or a confirm_to that is
// neither "order" nor "notifier", is answered bad_request on
// the calling thread (a dead letter: retrying cannot help); an absent
// template or text is "".
//
// Fault point sms.call (runtime/faults.hpp), once an "sms" is well-formed:
// error answers `unavailable` without sending; drop sends (posts, or
// records and prints) but neither confirms nor answers (the relay's ack
// timeout repeats it); delay sends later, from the delayer's thread.
//
// Threading: thread-safe. Webhook replies run on the adapter's I/O thread;
// log-sink replies on the store's commit thread. Neither blocks.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "runtime/detail/http_post.hpp"
#include "runtime/detail/inflight.hpp"
#include "runtime/detail/sink.hpp"
#include "runtime/faults.hpp"

namespace ordo::storage {
class store;
}

namespace ordo::runtime::detail {

/// One notification as the log sink recorded it.
struct sms_record {
  std::string notification_id;
  std::string order_id;
  std::string template_name;
  std::string text;
  std::uint32_t received = 0; ///< deliveries recorded (repeats included)
  /// The kind that gets "sms_sent": "order" or "notifier".
  std::string confirm_to = "notifier";
};

class sms_sink final : public sink {
public:
  /// Writes one log line (no newline); must not block for long.
  using line_fn = std::function<void(const std::string& line)>;

  /// What the adapter has done so far.
  struct figures {
    /// Distinct notification ids sent: log sink, recorded (ever); webhook,
    /// answered 2xx (since start).
    std::uint64_t sent = 0;
    std::uint64_t deliveries = 0; ///< well-formed "sms" messages received
    std::uint64_t failures = 0;   ///< failed POSTs, or failed commits
  };

  /// Webhook mode: parses `url` ("http://HOST[:PORT][/PATH]"; an error
  /// names --sms-webhook) and starts the HTTP client's I/O thread. On
  /// failure returns nullptr and sets `*err`. `targets` must outlive the
  /// adapter.
  static std::unique_ptr<sms_sink> start_webhook(const std::string& url,
                                                 const switchboard& targets,
                                                 std::string* err,
                                                 http_post_options opts = {});

  /// Log-sink mode over `db` (which, like `targets`, must outlive the
  /// adapter); call load() before the first delivery. `log` receives the
  /// one line per notification ("ordo sms: notification_id=..."); empty =
  /// an info event of component "sms" in ordo's log.
  static std::unique_ptr<sms_sink>
  log_sink(storage::store& db, const switchboard& targets, line_fn log = {});

  /// Stops (see stop()).
  ~sms_sink() override;
  sms_sink(const sms_sink&) = delete;
  sms_sink& operator=(const sms_sink&) = delete;

  /// Log sink: reads the count of notifications sent (one record).
  /// Webhook: does nothing.
  void load();

  /// Sends (webhook) or records (log sink) the SMS, then confirms it to
  /// the notifier; returns at once. `done` may be empty.
  void deliver(const actors::envelope& msg, std::string dedupe_id,
               reply_fn done) override;

  /// What the log sink has durably recorded, by notification_id (a scan of
  /// the store); empty for a webhook.
  std::vector<sms_record> sent() const;

  figures stats() const;

  /// Drops the sends held back by an injected delay unanswered; webhook:
  /// stops the I/O thread, and calls in flight are dropped unanswered too
  /// (the relay, stopped first, repeats them after a restart). Idempotent.
  void stop();

private:
  sms_sink(const switchboard& targets, storage::store* db,
           std::unique_ptr<http_poster> poster, line_fn log);

  /// Sends `r`; confirms it and answers `done` only if `confirm`.
  void send(sms_record r, reply_fn done, bool confirm);
  void record(sms_record r, reply_fn done, bool confirm);
  /// The record of `id` as last written (in flight or stored); received 0
  /// when there is none. Caller holds submit_mu_, not mu_ (a store read).
  sms_record latest(const std::string& id) const;
  void post(sms_record r, reply_fn done, bool confirm);
  /// The log line of `r`, printed once per notification_id.
  void print(const sms_record& r);

  // Constant after construction.
  const switchboard& targets_;
  storage::store* const db_;                  ///< log sink only
  const std::unique_ptr<http_poster> poster_; ///< webhook only
  const line_fn log_;

  /// Orders record()'s read-modify-write with its commit; taken before mu_.
  std::mutex submit_mu_;
  /// Log sink, by notification_id.
  inflight_records<sms_record> writing_;
  mutable std::mutex mu_;
  // Guarded by mu_.
  std::set<std::string> posted_; ///< webhook: ids answered 2xx
  std::uint64_t sent_ = 0;
  std::uint64_t deliveries_ = 0;
  std::uint64_t failures_ = 0;

  /// Sends held back by an sms.call delay. Last: stopped first.
  fault_delayer delayer_;
};

} // namespace ordo::runtime::detail
