#pragma once

// Request validation: turns headers and raw bodies into the node's command
// structs, or throws api_error(bad_request) with a message naming the field
// (malformed JSON surfaces as nlohmann::json::parse_error; see errors.hpp).
//
// Rules: a body is a JSON object; required fields are present with the right
// JSON type (integers are JSON integers: no floats, strings or bools);
// optional fields may be absent or null; unknown fields are rejected.
//
// Threading: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "actors/coupon.hpp"
#include "actors/inventory.hpp"
#include "actors/order.hpp"
#include "gateway/detail/router.hpp"

namespace ordo::gateway::detail {

/// Limits of API.md's inputs.
namespace limits {
inline constexpr std::size_t id_length = 128;
inline constexpr std::size_t key_length = 128;
inline constexpr std::size_t reason_length = 256; ///< characters
inline constexpr std::size_t items = 100;
/// Units of one SKU in an order (its lines added up).
inline constexpr std::int64_t quantity = actors::order::max_quantity;
inline constexpr std::int64_t price = 1'000'000'000'000;
inline constexpr std::int64_t stock = 1'000'000'000;
inline constexpr std::int64_t amount = 1'000'000'000'000'000;
} // namespace limits

/// True for 1..128 printable ASCII characters other than space and '/'.
bool valid_id(std::string_view id) noexcept;

/// The path parameter `name`, checked with valid_id().
std::string path_id(const params& args, std::string_view name);

/// The query parameter `name` of request target `target`, checked with
/// valid_id(); bad_request if it is missing or the query holds any other
/// parameter.
std::string query_id(std::string_view target, std::string_view name);

/// GET /v1/admin/outbox?state=pending|dead&limit=N (both optional;
/// defaults pending and 100, limit 1..10000); `node` is skipped (routes.cpp
/// routes by it).
struct outbox_query {
  bool dead = false;
  std::size_t limit = 100;
};
outbox_query parse_outbox_query(std::string_view target);

/// A query that takes only `limit` (1..max, default `fallback`) and the
/// `node` every per-node route takes: GET /v1/admin/operator-log.
std::size_t parse_limit_query(std::string_view target, std::size_t fallback,
                              std::size_t max);

/// GET /v1/admin/cluster?order_id=ID (optional): the id, checked with
/// valid_id(), or "".
std::string parse_cluster_query(std::string_view target);

/// The outbox seq in a path ("/v1/admin/outbox/{seq}"): a decimal integer
/// 1..2^63; bad_request otherwise.
std::uint64_t path_seq(const params& args, std::string_view name);

/// Checks an X-Ordo-Operator header value, the name an operator's action
/// is recorded under: 1..64 printable ASCII characters. `required`: a
/// missing one is bad_request; otherwise it reads "" as "unnamed".
std::string operator_name(std::string_view header, bool required);

/// GET /v1/users/{id}/orders?limit=N&cursor=C (both optional; limit 1..100,
/// default 20; cursor: a next_cursor, lower-case hex).
struct page_query {
  std::size_t limit = 20;
  std::string cursor;
};
page_query parse_page_query(std::string_view target);

/// GET /v1/reports/sales?top=N (optional; 1..max, default 10).
std::size_t parse_top_query(std::string_view target, std::size_t max);

/// Checks an Idempotency-Key header value: 1..128 printable ASCII
/// characters (interior spaces allowed). Missing = empty.
void check_idempotency_key(std::string_view key);

/// Parses `body` as JSON and requires an object.
nlohmann::json parse_object(std::string_view body);

/// PUT /v1/skus/{sku}: {"price", "stock", "kind"?}.
actors::inventory::put parse_put_sku(std::string_view body);

/// PUT /v1/coupons/{id}: {"user_id", "discount" (1..10^15), "min_amount"?
/// (0..10^15, default 0)}.
actors::coupon::put parse_put_coupon(std::string_view body);

/// POST /v1/orders: {"user_id", "items": [{"sku", "quantity"}],
/// "coupon_id"?, "affiliate_id"?, "captcha"?: {"id", "answer"}}. Sets
/// `fingerprint` to the hex SHA-256 of the parsed body's canonical dump
/// (keys sorted, no whitespace, null optional fields dropped); leaves
/// `token` at 0. An SKU may appear once.
actors::order::create parse_create_order(std::string_view body);

/// POST /v1/orders/{id}/cancel: empty, or {"reason"?: string of at most 256
/// characters, no control characters}.
actors::order::cancel parse_cancel(std::string_view body);

/// A payment provider's callback.
struct payment_notice {
  std::string order_id;
  actors::order::pay pay;
};

/// POST /v1/payments/callback: {"txn_id", "order_id", "amount",
/// "status": "SUCCESS" | "FAILED"}.
payment_notice parse_payment_callback(std::string_view body);

} // namespace ordo::gateway::detail
