#pragma once

// The order lifecycle as a plain state machine (DESIGN.md rules 1-5).
//
//   none --create--> (creating: reserve stock) --> PENDING_PAYMENT
//   PENDING_PAYMENT --pay--> PAID --complete--> COMPLETED
//   PENDING_PAYMENT --cancel | deadline--> CANCELLED
//   PAID | DISPATCHED | COMPLETED --refund--> REFUNDED
//
// A payment that cannot be applied (the order is cancelled, already paid by
// another transaction, the amount is wrong, or the deadline has passed) is
// captured and refunded through the outbox, once per transaction id.
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

using input = std::variant<create, cancel, pay, complete, refund, deadline,
                           reserved, refund_done, shortfall>;

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
  };
  std::optional<creating_t> creating;
};

/// Tunables of the order state machine.
struct config {
  /// Unpaid orders are cancelled with reason "timeout" after this long.
  /// Default: 15 minutes.
  millis payment_timeout = 15 * 60 * 1000;
};

struct context {
  millis now = 0;
  const config* cfg = nullptr;
};

/// Applies `in` to `s`. Pure: same inputs, same outputs. A create's reply is
/// deferred under the tag "create" until every SKU has answered.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "reserve.reply",
/// "refund_done", "shortfall", "timer"); bad_request for anything else.
result<input> decode(const envelope& msg);

/// True while a turn waits for answers; the actor must stay in memory.
inline bool busy(const state& s) noexcept {
  return s.creating.has_value();
}

void to_json(nlohmann::json& j, const state& s);
void from_json(const nlohmann::json& j, state& s);

} // namespace ordo::actors::order
