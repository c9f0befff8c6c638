#pragma once

// The order lifecycle as a plain state machine (DESIGN.md rules 1-5).
//
//   none --create--> (creating: reserve stock) --> PENDING_PAYMENT
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
//   created   -> "order_created" to its notifier; "pending" {amount = rate x
//                payable} to its affiliate
//   cancelled -> "release" to every SKU and its coupon; "close" to the
//                payment provider; "invalidate" to its affiliate;
//                "order_cancelled" to its notifier
//   paid      -> "confirm" to every SKU; "consume" to its coupon;
//                "order_paid" to its dispatcher when it holds service items
//   completed -> "settle" to its affiliate
//   refunded  -> "refund" to the provider; "restock" (unless shipped);
//                "invalidate" to its affiliate; "order_refunded" to its
//                dispatcher when it holds service items
// Creating locks the coupon with a request next to the stock reservations;
// the order checks the coupon's min_amount itself once it knows its amount.
//
// Messages (envelope type: body):
//   in  "reserve.reply", "lock.reply": answers to the create's requests
//   in  "status" (request, from the notifier and dispatcher): {"order_id"};
//         reply {"status": "PENDING_PAYMENT" | ...}; not_found if none
//   in  "refund_done": {"refund_id"}; "shortfall": {"sku"}
//   in  "coupon_conflict": {"coupon_id"}; "dispatched": {"dispatch_id",
//         "technician"}; "timer": {"name": "deadline"}
//   in  "reissue_refunds" (from the auditor): {"order_id"}
//
// Threading: a `state` is confined to the actor that owns it.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/turn.hpp"

namespace ordo::actors::order {

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

enum class payment_status : std::uint8_t { captured, refund_pending, refunded };

const char* to_string(payment_status s) noexcept;

struct line_item {
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_price = 0;
  item_kind kind = item_kind::goods;
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
/// A SKU answered this order's reserve request.
struct reserved {
  std::string sku;
  std::optional<error> err;
  std::int64_t unit_price = 0;
  item_kind kind = item_kind::goods;
};
/// The payment provider confirmed refund `refund_id`.
struct refund_done {
  std::string refund_id;
};
/// An SKU could not turn this paid order's reservation into a sale.
struct shortfall {
  std::string sku;
};
/// The coupon answered this order's lock request.
struct coupon_locked {
  std::string coupon_id;
  std::optional<error> err;
  std::int64_t discount = 0;
  std::int64_t min_amount = 0;
};
/// Another actor (notifier, dispatcher) asks for the current status.
struct status_query {};
/// The coupon this paid order consumed is held by another order.
struct coupon_conflict {
  std::string coupon_id;
};
/// The auditor found a payment owed back with nothing on its way: send
/// every REFUND_PENDING refund again (same refund_id, so the provider
/// dedupes) and refund a CAPTURED payment of a cancelled order.
struct reissue_refunds {};
/// The dispatcher assigned a technician to this paid order.
struct dispatched {
  std::string dispatch_id;
  std::string technician;
};

using input
  = std::variant<create, cancel, pay, complete, refund, deadline, reserved,
                 refund_done, shortfall, coupon_locked, status_query,
                 coupon_conflict, dispatched, reissue_refunds>;

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
  std::string parent_id;
  std::vector<std::string> children;
  millis created_at = 0;
  millis updated_at = 0;
  millis pay_deadline = 0;
  std::string cancel_reason;
  std::vector<payment> payments;
  /// Who was dispatched (DISPATCHED, and after a refund of one).
  std::string technician;
  /// Request fingerprint of the create that made this order.
  std::string fingerprint;
  /// Token of the reservations this order holds.
  std::uint64_t token = 0;

  /// Transient (never stored): the create in progress while stock is being
  /// reserved, and the SKUs that have answered.
  struct creating_t {
    create request;
    millis started_at = 0;
    std::vector<reserved> answers;
    /// The coupon's answer (only when the request names a coupon).
    std::optional<coupon_locked> coupon;
  };
  std::optional<creating_t> creating;
};

/// Tunables of the order state machine.
struct config {
  /// Unpaid orders are cancelled with reason "timeout" after this long.
  /// Default: 15 minutes.
  millis payment_timeout = 15 * 60 * 1000;
  /// The affiliate's share of the payable amount in millionths, rounded
  /// down to cents (--commission-rate 0.05 = 50'000). Default: 5%.
  std::int64_t commission_ppm = 50'000;
};

/// The commission of an order that pays `payable` cents: floor(payable x
/// ppm / 10^6), exact for every amount up to max_amount.
std::int64_t commission(std::int64_t payable, std::int64_t ppm) noexcept;

/// True if the order holds items of kind service (it is dispatched).
bool has_service(const state& s) noexcept;

struct context {
  millis now = 0;
  const config* cfg = nullptr;
};

/// Applies `in` to `s`. Pure: same inputs, same outputs. A create's reply is
/// deferred under the tag "create" until every SKU has answered.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "reserve.reply",
/// "lock.reply", "status", "refund_done", "shortfall", "coupon_conflict",
/// "dispatched", "reissue_refunds", "timer"); bad_request for anything
/// else.
result<input> decode(const envelope& msg);

/// True while a turn waits for answers; the actor must stay in memory.
inline bool busy(const state& s) noexcept {
  return s.creating.has_value();
}

void to_json(nlohmann::json& j, const state& s);
void from_json(const nlohmann::json& j, state& s);

} // namespace ordo::actors::order
