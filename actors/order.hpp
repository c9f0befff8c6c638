#pragma once

// The order lifecycle as a plain state machine (DESIGN.md rules 1-5).
//
//   none --create--> (creating: check, reserve stock) --> PENDING_PAYMENT
//   PENDING_PAYMENT --pay--> PAID --complete--> COMPLETED
//   PAID --dispatched--> DISPATCHED --complete--> COMPLETED
//   PENDING_PAYMENT --cancel | deadline--> CANCELLED
//   PAID | DISPATCHED | COMPLETED --refund--> REFUNDED
//   PAID --shortfall | coupon_conflict--> REFUNDED
//
// A payment that cannot be applied (the order is cancelled, already paid by
// another transaction, the amount is wrong, or the deadline has passed) is
// captured and refunded through the outbox, once per transaction id.
//
// What an order causes outside itself (all outbox, so exactly once):
//   created   -> "pending" {amount = rate x payable} to its affiliate
//   cancelled -> "release" to every SKU and its coupon; "close" to the
//                payment provider; "invalidate" to its affiliate
//   paid      -> "confirm" to every SKU; "consume" to its coupon;
//                "order_paid" to its dispatcher when it holds service items
//   completed -> "settle" to its affiliate
//   refunded  -> "refund" to the provider; "restock" (unless shipped);
//                "invalidate" to its affiliate; "order_refunded" to its
//                dispatcher when it holds service items
// Creating first checks, reserving nothing: a "quote" to every SKU (does it
// exist, its price and kind, enough available) and a "check" to the coupon
// (is it the user's and free); then the order refuses a total over
// max_amount or below the coupon's min_amount. Only a create that passes
// reserves: a "reserve" to every SKU and a "lock" to the coupon, as
// requests. A create refused after reserving (a race with another buyer)
// gives back what it holds twice over: "release" in the outbox (durable)
// and as a request, and answers only once every release request has been
// answered, so a refused create never holds stock past its answer. Lines of
// one SKU are merged before any limit applies.
// An order keeps one durable timer, "wake", armed for the first of what it
// waits for: its payment deadline (a top-level order waiting for payment,
// no cancel saga running) and the next check of its admin SMS. When it
// fires the order handles what is due and arms it for what comes next; a
// turn that changes either moves it. So a create arms one timer and a
// payment none (the SMS still waits), where a timer per purpose cost a
// record more at create and one at payment. (A timer "deadline" that an
// earlier version stored still fires and is handled.)
//
// A top-level order keeps its admin SMS (DESIGN.md rule 8) in its own
// state, `sms`: actors/notifier.hpp's machine, run inside the order's turns.
// The create arms it for the end of the cooling period,
// a cancel suppresses the SMS (or queues the cancel notice) in the cancel's
// own turn, and when the timer fires the order checks its own status and
// hands the "sms" to the adapter through the outbox; "sms_sent" comes back
// to the order. So the double check reads the order's state in the order's
// turn, and no message or turn of another actor is spent on it. An order
// stored without `sms` (placed before orders kept it) still tells its
// "notifier" actor "order_cancelled".
// Every top-level transition is also counted ("placed", "paid",
// "cancelled" with `flash`, "refunded", "manual") in the report shard of
// its partition, as additions to the shard's sums in the same batch
// (actors/reports.hpp).
//
// Split orders (DESIGN.md rule 9): when the reserved items have different
// kinds, the order becomes a parent with one child per kind, ids
// parent_id + "-1" (goods) and + "-2" (service). The parent keeps the
// coupon, the affiliate, the notifier and the one payment; each child owns
// its items, whose reservations stay keyed by the parent's id and token
// (the child sends confirm/release/restock in the parent's name). The
// discount is shared in proportion to the amounts, the last child taking
// the rounding. A saga, persisted in the parent's state:
//   create: "adopt" to every child; the create is answered once every
//           child has reported its status ("child_status").
//   pay:    the parent's payment pays every child ("parent_paid" with the
//           child's share; a child that was paid already refunds it).
//   cancel (user or deadline): "parent_cancel" to every child and the
//           timer "saga"; each child cancels or refuses (it is paid). All
//           cancelled: the parent is CANCELLED (coupon back, payment
//           closed, commission void). Any refusal, or a child silent when
//           the timer fires: MANUAL_INTERVENTION with `manual_reason`; a
//           late answer that completes the cancel still cancels.
// A child cannot be cancelled on its own (that would be a silent half-
// cancel) and has no deadline of its own; it can be paid, completed and
// refunded on its own. A parent is completed or refunded child by child.
//
// Messages (envelope type: body):
//   in  "quote.reply", "check.reply", "reserve.reply", "lock.reply",
//         "release.reply": answers to the create's requests
//   in  "status" (request, from the notifier and dispatcher): {"order_id"};
//         reply {"status": "PENDING_PAYMENT" | ...}; not_found if none
//   in  "refund_done": {"refund_id"}; "shortfall": {"sku"}
//   in  "coupon_conflict": {"coupon_id"}; "dispatched": {"dispatch_id",
//         "technician"}; "timer": {"name": "wake"} (and "deadline", stored
//         by earlier versions)
//   in  "reissue_refunds" (from the auditor): {"order_id"}
//   in  "sms_sent" (from the SMS adapter): {"notification_id"}
//   in  (child) "adopt": {"parent_id","user_id","items":[{"sku","q","p","k"}],
//         "amount","discount","payable","created_at","pay_deadline","token"};
//         "parent_paid": {"txn_id","amount"}; "parent_cancel": {"reason"}
//   in  (parent) "child_status": {"order_id","status","version","refused"};
//         "timer": {"name": "saga"}
//
// Threading: a `state` is confined to the actor that owns it.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/boxed.hpp"
#include "actors/message.hpp"
#include "actors/notifier.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::order {

/// The actor kind of an order: its address is {"order", order_id}.
inline constexpr const char* kind = "order";

enum class status : std::uint8_t {
  none, ///< Not created (or creation failed); nothing is stored.
  pending_payment,
  paid,
  dispatched,
  completed,
  cancelled,
  refunded,
  manual_intervention,
};

/// "PENDING_PAYMENT", ...; "NONE" for none.
const char* to_string(status s) noexcept;

/// A status in a message: its name (the codec of actors/message.hpp);
/// `none` is refused.
nlohmann::json value(status s);
bool read(const nlohmann::json& j, status& s);

enum class payment_status : std::uint8_t { captured, refund_pending, refunded };

const char* to_string(payment_status s) noexcept;

struct line_item {
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_price = 0;
  item_kind kind = item_kind::goods;

  template <class F>
  void fields(F& f) {
    f("sku", sku);
    f("q", quantity);
    f("p", unit_price);
    f("k", kind);
  }
  const char* invalid() const;
};

struct payment {
  std::string txn_id;
  std::int64_t amount = 0;
  payment_status status = payment_status::captured;
  /// Set once a refund is owed; the provider dedupes on it.
  std::string refund_id;
};

/// The largest order total (cents) an order may have: 10^15.
inline constexpr std::int64_t max_amount = 1'000'000'000'000'000;

/// The most units of one SKU an order may hold (its lines of that SKU
/// added up): 10^6.
inline constexpr std::int64_t max_quantity = 1'000'000;

struct requested_item {
  std::string sku;
  std::int64_t quantity = 0;
};

/// Create the order. `fingerprint` identifies the request body: the same
/// Idempotency-Key with another fingerprint is refused.
struct create {
  std::string user_id;
  std::vector<requested_item> items;
  std::string coupon_id;
  std::string affiliate_id;
  std::string fingerprint;
  /// Identifies this create attempt's reservations (any unique number).
  std::uint64_t token = 0;
  /// The answer to the user's captcha challenge, if the request carries one
  /// (read by the runtime's rate limiter, not by the order; not part of the
  /// fingerprint).
  std::string captcha_id;
  std::string captcha_answer;
};
/// User cancel; an empty reason means "user".
struct cancel {
  std::string reason;
};
/// A payment provider callback.
struct pay {
  std::string txn_id;
  std::int64_t amount = 0;
  bool success = true;
};
/// Admin: the order was fulfilled.
struct complete {};
/// Admin: after-sale refund of a paid order.
struct refund {};
/// The payment deadline timer fired.
struct deadline {};
/// A SKU answered this order's reserve request (or, `quote`, its quote
/// request: nothing is reserved).
struct reserved {
  std::string sku;
  std::optional<error> err;
  std::int64_t unit_price = 0;
  item_kind kind = item_kind::goods;
  bool quote = false;
};
/// The payment provider confirmed refund `refund_id`.
struct refund_done {
  std::string refund_id;

  static constexpr const char* type = "refund_done";
  template <class F>
  void fields(F& f) {
    f("refund_id", refund_id);
  }
  const char* invalid() const;
};
/// An SKU could not turn this paid order's reservation into a sale.
struct shortfall {
  std::string sku;

  static constexpr const char* type = "shortfall";
  template <class F>
  void fields(F& f) {
    f("sku", sku);
  }
  const char* invalid() const;
};
/// The coupon answered this order's lock request (or, `check`, its check
/// request: nothing is locked).
struct coupon_locked {
  std::string coupon_id;
  std::optional<error> err;
  std::int64_t discount = 0;
  std::int64_t min_amount = 0;
  bool check = false;
};
/// A SKU or the coupon (`from`) answered a refused create's release
/// request: what it held for the create is back (or was never held).
struct released {
  std::string from;
};
/// Another actor (notifier, dispatcher) asks for the current status; the
/// reply is a `status_answer`.
struct status_query {
  static constexpr const char* type = "status";
  template <class F>
  void fields(F&) {}
};
/// The reply to a status_query: the order's status name.
struct status_answer {
  std::string status;

  template <class F>
  void fields(F& f) {
    f("status", status);
  }
  const char* invalid() const {
    return status.empty() ? "an empty 'status'" : nullptr;
  }
};
/// The coupon this paid order consumed is held by another order.
struct coupon_conflict {
  std::string coupon_id;

  static constexpr const char* type = "coupon_conflict";
  template <class F>
  void fields(F& f) {
    f("coupon_id", coupon_id);
  }
  const char* invalid() const;
};
/// The auditor found a payment owed back with nothing on its way: send
/// every REFUND_PENDING refund again (same refund_id, so the provider
/// dedupes) and refund a CAPTURED payment of a cancelled order.
struct reissue_refunds {
  static constexpr const char* type = "reissue_refunds";
  template <class F>
  void fields(F&) {}
};
/// The dispatcher assigned a technician to this paid order.
struct dispatched {
  std::string dispatch_id;
  std::string technician;

  static constexpr const char* type = "dispatched";
  template <class F>
  void fields(F& f) {
    f("dispatch_id", dispatch_id);
    f("technician", technician);
  }
  const char* invalid() const;
};

/// Parent -> child: become the child holding these items.
struct adopt {
  std::string parent_id;
  std::string user_id;
  std::vector<line_item> items;
  std::int64_t amount = 0;
  std::int64_t discount = 0;
  std::int64_t payable = 0;
  millis created_at = 0;
  millis pay_deadline = 0;
  /// The parent's token: the reservations are the parent's.
  std::uint64_t token = 0;

  static constexpr const char* type = "adopt";
  template <class F>
  void fields(F& f) {
    f("parent_id", parent_id);
    f("user_id", user_id);
    f("items", items);
    f("amount", amount);
    f("discount", discount);
    f("payable", payable);
    f("created_at", created_at);
    f("pay_deadline", pay_deadline);
    f("token", token);
  }
  const char* invalid() const;
};
/// Parent -> child: the parent was paid by `txn_id`; `amount` is this
/// child's share.
struct parent_paid {
  std::string txn_id;
  std::int64_t amount = 0;

  static constexpr const char* type = "parent_paid";
  template <class F>
  void fields(F& f) {
    f("txn_id", txn_id);
    f("amount", amount);
  }
  const char* invalid() const;
};
/// Parent -> child: the parent is being cancelled.
struct parent_cancel {
  std::string reason;

  static constexpr const char* type = "parent_cancel";
  template <class F>
  void fields(F& f) {
    f.optional("reason", reason);
  }
};
/// Child -> parent: the child's status after one of its turns; `refused`
/// says why it would not cancel (empty otherwise).
struct child_status {
  std::string child_id;
  status st = status::none;
  std::uint64_t version = 0;
  std::string refused;

  static constexpr const char* type = "child_status";
  template <class F>
  void fields(F& f) {
    f("order_id", child_id);
    f("status", st);
    f("version", version);
    f.optional("refused", refused);
  }
  const char* invalid() const;
};
/// The timer "saga" fired: children that have not answered the cancel.
struct saga_timeout {};

/// The timer "wake" fired: the payment deadline or the admin SMS's check
/// may be due (see "wake" above).
struct wake {};
/// The SMS adapter delivered one of this order's notifications.
using sms_sent = notifier::sms_sent;

using input = std::variant<create, cancel, pay, complete, refund, deadline,
                           reserved, refund_done, shortfall, coupon_locked,
                           released, status_query, coupon_conflict, dispatched,
                           reissue_refunds, adopt, parent_paid, parent_cancel,
                           child_status, saga_timeout, wake, sms_sent>;

/// What a split parent knows of one child.
struct child_ref {
  std::string order_id;
  item_kind kind = item_kind::goods;
  std::int64_t payable = 0;
  /// The last status the child reported (none until it has).
  status st = status::none;
  std::uint64_t version = 0;
  /// Why it refused the cancel, if it did.
  std::string refused;
};

/// A parent's saga step in progress (persisted: it resumes after a crash).
struct saga_state {
  /// "cancel".
  std::string op;
  std::string reason;
  millis started_at = 0;
};

struct state {
  std::string order_id;
  std::string user_id;
  status st = status::none;
  std::uint64_t version = 0;
  std::vector<line_item> items;
  std::int64_t amount = 0;
  std::int64_t discount = 0;
  std::int64_t payable = 0;
  std::string coupon_id;
  std::string affiliate_id;
  /// A child's parent (empty for other orders).
  std::string parent_id;
  /// A split parent's children (empty for other orders).
  std::vector<child_ref> children;
  /// A parent's cancel in progress.
  boxed<saga_state> saga;
  /// Why a parent needs a human (MANUAL_INTERVENTION; boxed: rare, and
  /// every resident order would carry an empty string; see why_manual()).
  boxed<std::string> manual_reason;
  millis created_at = 0;
  millis updated_at = 0;
  millis pay_deadline = 0;
  std::string cancel_reason;
  std::vector<payment> payments;
  /// Who was dispatched (DISPATCHED, and after a refund of one).
  std::string technician;
  /// fingerprint_hash() of the create that made this order (8 bytes where
  /// the gateway's 64 hex digits took a heap block of 80 in every order).
  std::uint64_t fingerprint = 0;
  /// Token of the reservations this order holds.
  std::uint64_t token = 0;
  /// A top-level order's admin SMS, packed (empty for a child, and for an
  /// order stored before orders kept it: its "notifier" actor has it).
  /// sms_of() unpacks it.
  boxed<notifier::packed> sms;

  /// Transient (never stored): the create in progress while stock is being
  /// checked, reserved or (refused) released, and who has answered.
  struct creating_t {
    /// What the create waits for.
    enum class step : std::uint8_t {
      checking,  ///< quote and check answers; nothing is held
      reserving, ///< reserve and lock answers
      releasing, ///< release answers; then `refusal` is the answer
    };
    create request;
    millis started_at = 0;
    std::vector<reserved> answers;
    /// The coupon's answer (only when the request names a coupon).
    std::optional<coupon_locked> coupon;
    step at = step::checking;
    /// Releasing: the create's answer, and who has yet to confirm a
    /// release (SKU or coupon ids, one entry per request).
    std::optional<error> refusal;
    std::vector<std::string> releasing;
  };
  boxed<creating_t> creating;
};

/// Tunables of the order state machine.
struct config {
  /// Unpaid orders are cancelled with reason "timeout" after this long.
  /// Default: 15 minutes.
  millis payment_timeout = 15 * 60 * 1000;
  /// Each reserve message asks the SKU to hold its units until the order's
  /// payment deadline plus this margin, so a payment accepted at the
  /// deadline still finds its reservation when its confirm arrives (the
  /// margin covers the confirm's way through the outbox). Default: 60 s.
  millis reservation_margin = 60'000;
  /// The affiliate's share of the payable amount in millionths, rounded
  /// down to cents (--commission-rate 0.05 = 50'000). Default: 5%.
  std::int64_t commission_ppm = 50'000;
  /// A cancel this soon after create is a flash cancel (reports).
  /// Default: 60 s.
  millis flash_window = 60'000;
  /// How long a parent waits for its children to answer a cancel before it
  /// asks for manual intervention. Default: 30 s.
  millis saga_timeout = 30'000;
  /// The admin SMS: cooling period, TTL, re-check delay.
  notifier::config notify;
};

/// The commission of an order that pays `payable` cents: floor(payable x
/// ppm / 10^6), exact for every amount up to max_amount.
std::int64_t commission(std::int64_t payable, std::int64_t ppm) noexcept;

/// A stable 64-bit hash (FNV-1a) of a create's fingerprint: two requests
/// under one Idempotency-Key differ unless their hashes are equal (odds
/// 2^-64 for an honest client; a client can only confuse its own orders).
std::uint64_t fingerprint_hash(std::string_view fingerprint) noexcept;

/// Why the order needs a human; "" when it does not.
const std::string& why_manual(const state& s) noexcept;

/// The order's admin SMS as actors/notifier.hpp's machine sees it; nullopt
/// when the order does not keep one.
std::optional<notifier::state> sms_of(const state& s);

/// When the order next needs a turn of its own, the due of its timer
/// "wake"; 0 for never.
millis wake_at(const state& s) noexcept;

/// True if the order holds items of kind service (it is dispatched).
bool has_service(const state& s) noexcept;

/// True for a split parent.
inline bool is_parent(const state& s) noexcept {
  return !s.children.empty();
}

/// Parses a to_string() name; status::none for anything else.
status parse_status(const std::string& s) noexcept;

/// Everything a handler may read besides the state.
using context = turn_context<config>;

/// Applies `in` to `s`: changes `s` in place and returns what the turn
/// causes outside it. Deterministic (the same state, input and context give
/// the same new state and outcome) and free of I/O: time comes from `ctx`,
/// and effects are only described in the outcome. A create's reply is
/// deferred under the tag "create" until every SKU has answered.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "quote.reply",
/// "check.reply", "reserve.reply", "lock.reply", "release.reply", "status",
/// "refund_done", "shortfall", "coupon_conflict", "dispatched",
/// "reissue_refunds", "sms_sent", "timer"); bad_request for anything else.
result<input> decode(const envelope& msg);

/// True while a turn waits for answers; the actor must stay in memory.
inline bool busy(const state& s) noexcept {
  return s.creating.has_value();
}

void to_json(nlohmann::json& j, const state& s);
void from_json(const nlohmann::json& j, state& s);

} // namespace ordo::actors::order
