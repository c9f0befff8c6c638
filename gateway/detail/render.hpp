#pragma once

// The JSON the API returns (API.md), from the node's plain structs. Keys
// keep API.md's order; empty optional strings and unset times are null.
//
// Threading: pure functions.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/attribution.hpp"
#include "actors/coupon.hpp"
#include "actors/dispatcher.hpp"
#include "actors/inventory.hpp"
#include "actors/notifier.hpp"
#include "actors/order.hpp"
#include "runtime/node.hpp"

namespace ordo::gateway::detail {

/// RFC 3339 UTC with milliseconds: 1795342530123 → "2026-11-22T10:15:30.123Z".
std::string format_time(actors::millis t);

/// An order: {"order_id", "user_id", "status", "version", "items", "amount",
/// "discount", "payable", "coupon_id", "affiliate_id", "parent_id",
/// "children", "created_at", "updated_at", "pay_deadline", "cancel_reason",
/// "payments", "technician"}.
nlohmann::ordered_json render(const actors::order::state& o);

/// An SKU: {"sku", "price", "kind", "stocked", "available", "reserved",
/// "sold"}.
nlohmann::ordered_json render(const actors::inventory::state& s);

/// A coupon: {"coupon_id", "user_id", "discount", "min_amount", "status",
/// "order_id"}.
nlohmann::ordered_json render(const actors::coupon::state& s);

/// An order's admin SMS: {"notifications": [{"notification_id", "order_id",
/// "template", "status", "created_at", "sent_at"}]}, new_order first.
nlohmann::ordered_json render(const actors::notifier::state& s);

/// An order's auto-dispatch: {"dispatches": [{"dispatch_id", "order_id",
/// "technician", "status", "paid_at"}]} (empty list when there is none).
nlohmann::ordered_json render(const actors::dispatcher::state& s);

/// An affiliate's commissions: {"affiliate_id", "pending", "invalid",
/// "settled", "clawback", "entries": [{"order_id", "amount", "status",
/// "clawback"}]} (sums in cents).
nlohmann::ordered_json render(const actors::attribution::state& s);

/// An audit: {"ok" (nothing left unhealed), "violations": [{"rule",
/// "subject", "detail"}] (not healed), "healed": [same, healed]}.
nlohmann::ordered_json render(const actors::auditor::report& r);

/// An actor for inspection: {"kind", "id", "exists", "active", "version",
/// "state", "journal": [{"version", "event", "cause", "at"}], "timers":
/// [{"name", "due_at"}], "outbox": [{"seq", "id", "to", "type", "attempts",
/// "last_error"}], "mailbox_size" (null when not active)}. `state` is
/// `v.state` decoded by its kind's codec and rendered under the API's
/// names: for an order, SKU, coupon, notifier, dispatcher or affiliate its
/// GET rendering above plus the internal fields (tokens, expiries, pending
/// checks, ...); the stored form unchanged for a kind it does not know.
nlohmann::ordered_json render(const runtime::actor_view& v);

/// The relay's messages: {"backlog", "dead_letters", "oldest_ms",
/// "messages": [{"seq", "id", "from", "to", "type", "body", "attempts",
/// "last_error", "dead", "age_ms"}]}; addresses as "kind/id".
nlohmann::ordered_json render(const std::vector<runtime::outbox_message>& held,
                              const runtime::node_stats& stats);

/// The SMS log sink's record: {"sms": [{"notification_id", "order_id",
/// "template", "text", "received"}]}.
nlohmann::ordered_json render(const std::vector<runtime::sent_sms>& sent);

/// The sandbox provider's calls: {"calls": [{"kind", "id", "order_id",
/// "txn_id", "amount", "received"}]}.
nlohmann::ordered_json render(const std::vector<runtime::provider_call>& calls);

/// A user's orders: {"orders": [{"order_id", "status", "payable",
/// "created_at"}], "next_cursor": string or null}.
nlohmann::ordered_json render(const runtime::user_orders_page& page);

/// API.md's sales report: {"placed", "paid", "cancelled", "refunded",
/// "manual_intervention": {"count", "amount"}, "flash_cancels": {"count",
/// "amount", "window_seconds"}, "top_flash_cancel_users": [{"user_id",
/// "count"}]}.
nlohmann::ordered_json render(const runtime::sales_report& r);

/// The receivers with pending messages: [{"to", "pending", "oldest_ms",
/// "attempts_max", "last_error" (null before the first failure)}].
nlohmann::ordered_json
render(const std::vector<runtime::outbox_destination>& destinations);

/// An audit with when and why it ran: render(report) plus "at" and
/// "trigger" ("scheduled" or "request"); before the first run, ok true,
/// nothing found, "at" and "trigger" null.
nlohmann::ordered_json render(const std::optional<runtime::audit_run>& run);

/// The operators' trail: {"entries": [{"at", "operator", "action",
/// "subject", "detail"}]}, as given (newest first).
nlohmann::ordered_json render(const std::vector<runtime::operator_action>& log);

} // namespace ordo::gateway::detail
