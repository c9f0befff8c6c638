#pragma once

// The JSON the API returns (API.md), from the node's plain structs. Keys
// keep API.md's order; empty optional strings and unset times are null.
//
// Threading: pure functions.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/inventory.hpp"
#include "actors/order.hpp"
#include "runtime/node.hpp"

namespace ordo::gateway::detail {

/// RFC 3339 UTC with milliseconds: 1795342530123 → "2026-11-22T10:15:30.123Z".
std::string format_time(actors::millis t);

/// An order: {"order_id", "user_id", "status", "version", "items", "amount",
/// "discount", "payable", "coupon_id", "affiliate_id", "parent_id",
/// "children", "created_at", "updated_at", "pay_deadline", "cancel_reason",
/// "payments"}.
nlohmann::ordered_json render(const actors::order::state& o);

/// An SKU: {"sku", "price", "kind", "stocked", "available", "reserved",
/// "sold"}.
nlohmann::ordered_json render(const actors::inventory::state& s);

/// The sandbox provider's calls: {"calls": [{"kind", "id", "order_id",
/// "txn_id", "amount", "received"}]}.
nlohmann::ordered_json render(const std::vector<runtime::provider_call>& calls);

} // namespace ordo::gateway::detail
