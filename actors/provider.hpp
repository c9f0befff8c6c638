#pragma once

// The messages the payment provider's adapter takes from orders (its
// address is {"payment", ""}; runtime/detail/http_provider.hpp calls the
// provider, runtime/detail/builtin_provider.hpp stands in for it in tests).
// Outbox entries: each is sent until the adapter acknowledges it.

#include <cstdint>
#include <string>
#include <variant>

#include "actors/message.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::provider {

/// The adapter's address kind.
inline constexpr const char* kind = "payment";

/// Close the order's payment page: a cancelled order takes no payment.
struct close {
  std::string order_id;

  static constexpr const char* type = "close";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
  }
  const char* invalid() const {
    return order_id.empty() ? "missing 'order_id'" : nullptr;
  }
};

/// Pay `amount` of payment `txn_id` back, once per `refund_id` (the
/// provider dedupes on it).
struct refund {
  std::string refund_id;
  std::string txn_id;
  std::int64_t amount = 0;
  std::string order_id;

  static constexpr const char* type = "refund";
  template <class F>
  void fields(F& f) {
    f("refund_id", refund_id);
    f("txn_id", txn_id);
    f("amount", amount);
    f("order_id", order_id);
  }
  const char* invalid() const {
    return order_id.empty() || refund_id.empty()
             ? "needs an 'order_id' and a 'refund_id'"
             : nullptr;
  }
};

using input = std::variant<close, refund>;

/// Reads what an order asks of the provider; bad_request for anything else.
inline result<input> decode(const envelope& msg) {
  if (auto in = decode_one_of<input, close, refund>("payment provider", msg)) {
    return std::move(*in);
  }
  return error{errc::bad_request, "payment provider: unknown call " + msg.type};
}

} // namespace ordo::actors::provider
