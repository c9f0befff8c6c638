#pragma once

// The node's HTTP API (API.md) as the load generator speaks it: the
// requests it sends, and what it reads from their answers — which the check
// later holds the node's state against.
//
// Threading: `api` is immutable after construction; the rest are plain
// functions and values.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/load.hpp"
#include "app/load/client.hpp"

namespace ordo::app::load {

using nlohmann::json;

/// Stock of every load SKU: far more than any run sells.
constexpr std::int64_t sku_stock = 1'000'000'000;
/// Price of every load SKU, cents.
constexpr std::int64_t sku_price = 100;

/// What one request of a flow was answered, as the check reads it.
enum class answer : std::uint8_t {
  none,         ///< not sent
  captured,     ///< payment: 200 "captured"
  refunded,     ///< payment: 200 "refunded"
  duplicate,    ///< payment: 200 "duplicate"
  cancelled,    ///< cancel: 200 with the order CANCELLED
  already_paid, ///< cancel: 409 already_paid
  other,        ///< a definite answer that is none of the above
  unknown,      ///< no answer, or a 5xx: it may or may not have landed
};

const char* to_string(answer a);

/// One order of the run and what its flow was told.
struct order_record {
  enum class created : std::uint8_t { pending, yes, refused, unknown };

  std::uint64_t n = 0;   ///< user id and key: load-<run>-<n>
  std::uint32_t sku = 0; ///< load-<sku>
  created create = created::pending;
  bool create_retried = false; ///< by the check, to learn a lost answer
  std::string order_id;
  std::int64_t payable = 0;
  answer pay = answer::none;    ///< the payment callback
  answer retry = answer::none;  ///< race: the provider's retry of it
  answer cancel = answer::none; ///< the cancel
};

/// A SKU's counters as GET /v1/skus/{sku} shows them.
struct sku_counts {
  std::int64_t stocked = 0;
  std::int64_t available = 0;
  std::int64_t reserved = 0;
  std::int64_t sold = 0;
};

/// Builds the requests of one run to the node under load (complete
/// HTTP/1.1 requests, see make_request). Immutable after construction.
class api {
public:
  /// `run` names the run in user ids ("load-<run>-<n>").
  api(const load_options& opts, std::string run);

  /// "HOST:PORT" of the node, IPv6 in brackets.
  const std::string& host_header() const {
    return host_header_;
  }
  const std::string& run() const {
    return run_;
  }

  /// The user id and Idempotency-Key of `rec`'s flow.
  std::string user(const order_record& rec) const;
  /// "load-<k>".
  static std::string sku_name(std::size_t k);

  std::string request(std::string_view method, std::string_view target,
                      std::string_view headers = {},
                      std::string_view body = {}) const;
  /// `request` with the admin token.
  std::string admin_request(std::string_view method, std::string_view target,
                            std::string_view body = {}) const;
  /// POST /v1/orders of `rec`'s one unit, keyed by its user.
  std::string create_request(const order_record& rec) const;
  /// The signed SUCCESS callback of txn "t-<order_id>".
  std::string payment_request(const std::string& order_id,
                              std::int64_t amount) const;
  std::string cancel_request(const std::string& order_id) const;

private:
  std::string host_header_;
  std::string admin_token_;
  std::string payment_secret_;
  std::string run_;
};

// --- reading answers -----------------------------------------------------

/// The body of `r` parsed as JSON; discarded (`is_discarded()`) when it is
/// not JSON or no answer came.
json body_of(const reply& r);

/// `body[name]` when `body` is an object holding a string there.
std::optional<std::string> string_at(const json& body, const char* name);

/// `body[name]` when `body` is an object holding an integer there.
std::optional<std::int64_t> int_at(const json& body, const char* name);

/// "STATUS CODE" of an error answer ("409 insufficient_stock"), or
/// "net WHY" when none came. `body` is body_of(r).
std::string error_kind(const reply& r, const json& body);

/// error_kind of an answer whose body has not been parsed yet.
std::string error_kind(const reply& r);

/// What a payment callback was answered. `body` is body_of(r).
answer payment_answer(const reply& r, const json& body);

/// What a cancel was answered. `body` is body_of(r).
answer cancel_answer(const reply& r, const json& body);

/// The order a create was answered with: its id and payable.
struct created_order {
  std::string order_id;
  std::int64_t payable = 0;
};

/// The order in the body of a create's answer; nullopt when it is not
/// readable. `body` is body_of(r).
std::optional<created_order> created(const json& body);

/// The counters in an answer of GET /v1/skus/{sku}; nullopt when the body
/// does not hold them.
std::optional<sku_counts> parse_sku(const std::string& body);

} // namespace ordo::app::load
