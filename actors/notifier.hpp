#pragma once

// The admin SMS of one order as a plain state machine (DESIGN.md rule 8):
// delay, then double-check, then send.
//
//   order_created --> new_order PENDING, timer "new_order" at created + delay
//   timer         --> TTL passed ? EXPIRED : request "status" of the order
//   status.reply  --> PENDING_PAYMENT | PAID | DISPATCHED | COMPLETED
//                       ? (TTL passed ? EXPIRED : "sms" to the adapter)
//                   : any other status (CANCELLED, REFUNDED,
//                     MANUAL_INTERVENTION, unknown) or not_found ? SUPPRESSED
//                   (another error answer re-checks after recheck_delay)
//   sms_sent      --> SENT
//
// The cancel notice ("order_cancelled") exists only for an order whose
// new_order notice went out, and never overtakes it: a cancel that arrives
// while the new_order SMS is in flight (handed to the adapter, not yet
// acknowledged) is queued until its sms_sent; a cancel that arrives before
// the new_order SMS left suppresses it at once, and no cancel notice ever
// follows. Messages may repeat and arrive out of order (a cancel before the
// create): every transition happens once. A status check whose answer is
// lost is retried: the timer stays armed while the check is outstanding.
// An SMS in flight is never expired (it is already on its way).
//
// Messages (envelope type: body):
//   in  "order_created" (outbox from the order): {"order_id", "at"}
//   in  "order_cancelled" (outbox from the order): {"order_id", "at"}
//   in  "timer": {"name": "new_order"}
//   in  "status.reply": the order's answer to "status", {"from", "ok",
//         "status": "PENDING_PAYMENT" | ... } or {"ok": false, "error", ...}
//   in  "sms_sent" (from the SMS adapter once delivered):
//         {"notification_id"}
//   out request "status" to {"order", order_id}: {"order_id"}
//   out "sms" to {"sms", ""}: {"notification_id", "order_id", "template",
//         "text", "confirm_to"}  (the adapter dedupes on notification_id and
//         sends "sms_sent" to {confirm_to, order_id})
//
// An order keeps this state inside its own (actors/order.hpp) and runs this
// machine in its own turns, answering the "status" check itself; the
// "notifier" actor kind serves the orders stored before that.
//
// Threading: a `state` is confined to the actor that owns it.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "actors/message.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::notifier {

/// The actor kind of an order's notifier: its address is {"notifier",
/// order_id}.
inline constexpr const char* kind = "notifier";

/// The templates, also the suffixes of notification ids.
inline constexpr const char* new_order_template = "new_order";
inline constexpr const char* cancelled_template = "order_cancelled";
/// The name of the cooling-period (and re-check) timer.
inline constexpr const char* timer_name = "new_order";

enum class status : std::uint8_t { pending, sent, suppressed, expired };

/// "PENDING", "SENT", "SUPPRESSED", "EXPIRED".
const char* to_string(status s) noexcept;
/// Parses a to_string() name; nullopt for anything else.
std::optional<status> parse_status(const std::string& s) noexcept;

/// "<order_id>:<template>": deterministic, so the adapter can dedupe.
std::string notification_id(const std::string& order_id,
                            const std::string& template_name);

struct notification {
  std::string notification_id;
  /// new_order_template or cancelled_template.
  std::string template_name;
  status st = status::pending;
  millis created_at = 0;
  /// When sms_sent arrived (SENT only).
  millis sent_at = 0;
  /// PENDING and handed to the adapter: waiting for sms_sent.
  bool in_flight = false;
};

struct state {
  std::string order_id;
  std::uint64_t version = 0;
  millis updated_at = 0;
  /// Created by order_created.
  std::optional<notification> new_order;
  /// Created by order_cancelled, only if new_order went (or is going) out.
  std::optional<notification> cancel_notice;
  /// The order told us it was cancelled.
  bool cancelled = false;
  /// A "status" request is outstanding.
  bool checking = false;
  /// When the timer is due (0: disarmed); an earlier firing is stale.
  millis due = 0;
};

/// The order was created at `at` (0: now).
struct order_created {
  std::string order_id;
  millis at = 0;

  static constexpr const char* type = "order_created";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f.optional("at", at);
  }
  const char* invalid() const;
};
/// The order was cancelled at `at` (0: now).
struct order_cancelled {
  std::string order_id;
  millis at = 0;

  static constexpr const char* type = "order_cancelled";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f.optional("at", at);
  }
  const char* invalid() const;
};
/// The timer "new_order" fired.
struct check {};
/// The order answered "status": its status name, or an error.
struct status_reply {
  std::optional<error> err;
  std::string status;
};
/// The SMS adapter delivered `notification_id`.
struct sms_sent {
  std::string notification_id;

  static constexpr const char* type = "sms_sent";
  template <class F>
  void fields(F& f) {
    f("notification_id", notification_id);
  }
  const char* invalid() const;
};

using input
  = std::variant<order_created, order_cancelled, check, status_reply, sms_sent>;

/// To the SMS adapter ({"sms", ""}, an outbox entry): send `text` for
/// notification `notification_id`, then tell {confirm_to, order_id}
/// "sms_sent" (an empty `confirm_to`, from earlier versions, means
/// "notifier").
struct sms {
  std::string notification_id;
  std::string order_id;
  std::string template_name;
  std::string text;
  std::string confirm_to;

  static constexpr const char* type = "sms";
  template <class F>
  void fields(F& f) {
    f("notification_id", notification_id);
    f("order_id", order_id);
    f.optional("template", template_name);
    f.optional("text", text);
    f.optional("confirm_to", confirm_to);
  }
  const char* invalid() const;
};

/// Tunables of the notifier.
struct config {
  /// Cooling period before the new_order SMS. Default: 180 s.
  millis notify_delay = 180 * 1000;
  /// A notification older than this is dropped (EXPIRED) instead of sent.
  /// Default: 300 s.
  millis notify_ttl = 300 * 1000;
  /// Wait before checking again when the order did not answer (or the
  /// answer was lost). Default: 10 s.
  millis recheck_delay = 10 * 1000;
};

/// Everything a handler may read besides the state.
struct context {
  millis now = 0;
  const config* cfg = nullptr;
  /// The kind of the actor that keeps this state: its {owner, order_id}
  /// gets "sms_sent" ("confirm_to" in the "sms" body). An order keeps its
  /// own notifications; a "notifier" actor keeps those of orders placed
  /// before that.
  const char* owner = kind;
};

/// Applies `in` to `s` in place. Deterministic and free of I/O: the same
/// state, input and context give the same new state and outcome. A turn that
/// sets a non-empty `event` bumps `version` and `updated_at`. Signals:
/// "sms_sent", "sms_suppressed", "sms_expired", once per notification.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "order_created",
/// "order_cancelled", "timer", "status.reply", "sms_sent"); bad_request for
/// anything else. A status.reply that is garbled becomes a failed answer
/// (internal), so the check is retried rather than stuck. Never throws.
result<input> decode(const envelope& msg);

void to_json(nlohmann::json& j, const state& s);
void from_json(const nlohmann::json& j, state& s);

/// The state of an order's SMS as the order keeps it in memory: `state`
/// less what follows from the order (its id, the notification ids and
/// templates, and when the new_order notice was made: the order's
/// creation). 48 bytes where `state` takes about 390 with its strings, and
/// every resident order carries it. The machine runs on `state`: a turn
/// unpacks, handles and packs again.
struct packed {
  millis updated_at = 0;
  millis due = 0;
  millis new_order_sent_at = 0;
  millis cancel_created_at = 0;
  millis cancel_sent_at = 0;
  std::uint32_t version = 0;
  /// 0 for none; else 1 + its status, plus in_flight_bit.
  std::uint8_t new_order = 0;
  std::uint8_t cancel_notice = 0;
  bool cancelled = false;
  bool checking = false;

  static constexpr std::uint8_t in_flight_bit = 0x80;
};

/// `s` packed. Precondition: s.new_order (if any) was made when the order
/// was created (order_created carried the order's creation time).
packed pack(const state& s) noexcept;

/// The state `p` packs, of the order `order_id` created at `created_at`.
state unpack(const packed& p, const std::string& order_id, millis created_at);

} // namespace ordo::actors::notifier
