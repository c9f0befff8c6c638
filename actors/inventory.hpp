#pragma once

// The inventory of one SKU as a plain state machine (DESIGN.md rule 5).
//
// Invariant after every turn: available + reserved + sold == stocked, all
// non-negative. A reservation is keyed by order id and carries the token of
// the create attempt that made it, so a late release or confirm from an
// older attempt cannot touch a newer reservation; releasing twice releases
// once. A reservation nobody confirms expires through the SKU's one durable
// timer "expiry", armed for the earliest reservation that may expire: a
// reserve arms it only when it would expire before every other (rarely:
// reservations made later expire later), a confirm or release never
// touches it, and when it fires it releases every reservation due and
// re-arms for the next. (Earlier versions armed "res:<order_id>" per
// reservation; such a timer still expires its own reservation.)
//
// Threading: a `state` is confined to the actor that owns it.

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/message.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::inventory {

/// The actor kind of an SKU's inventory: its address is {"sku", sku}.
inline constexpr const char* kind = "sku";

struct reservation {
  std::int64_t quantity = 0;
  std::uint64_t token = 0;
  millis expires_at = 0;
};

struct state {
  std::string sku;
  /// False until the first `put`; such an SKU answers not_found.
  bool exists = false;
  std::uint64_t version = 0;
  std::int64_t price = 0;
  item_kind kind = item_kind::goods;
  std::int64_t stocked = 0;
  std::int64_t available = 0;
  std::int64_t reserved = 0;
  std::int64_t sold = 0;
  millis updated_at = 0;
  /// When the "expiry" timer is due; 0 = not armed. Never later than any
  /// reservation's expires_at.
  millis expiry_due = 0;
  /// Live reservations by order id.
  std::map<std::string, reservation> reservations;
  /// Orders whose confirm found no stock (answered with "shortfall"); a later
  /// restock from them returns nothing. Rare and small.
  std::map<std::string, std::int64_t> shortfalls;
  /// The reservations the last turn released because the expiry timer
  /// fired (not stored: the runtime deletes their entries, which a turn
  /// otherwise changes only for `subject(in)`).
  std::vector<std::string> expired_now;
};

/// Admin: set price, kind and total stocked units (available moves by the
/// difference; refused if it would go below zero).
struct put {
  std::int64_t price = 0;
  std::int64_t stock = 0;
  item_kind kind = item_kind::goods;
};
/// Request from an order being created: reserve `quantity` units. Replies
/// with {"unit_price", "kind"}. A repeat for the same order and token is a
/// success that changes nothing, except that a later deadline extends the
/// reservation; another token replaces the old reservation. The
/// reservation expires at `pay_deadline + margin` (the order's payment
/// deadline, so a payment accepted on time always finds it); a message
/// without a deadline (0: written before orders sent one) expires
/// `reservation_ttl` after the SKU handles it.
struct reserve {
  std::string order_id;
  std::uint64_t token = 0;
  std::int64_t quantity = 0;
  /// The order's payment deadline, ms since the epoch; 0 if not given.
  millis pay_deadline = 0;
  /// How long after the deadline the units stay held (>= 0).
  millis margin = 0;
  /// Refused (bad_request, nothing held) when quantity x price exceeds this
  /// many cents; 0 = no limit. Lets a one-line order reserve without
  /// quoting first.
  std::int64_t max_total = 0;

  static constexpr const char* type = "reserve";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f("token", token);
    f("quantity", quantity);
    f.optional("pay_deadline", pay_deadline);
    f.optional("margin", margin);
    f.optional("max_total", max_total);
  }
  const char* invalid() const;
};
/// Request from an order being created, before it reserves anything: could
/// `quantity` units be reserved now? Changes nothing. Replies like reserve
/// ({"unit_price", "kind"}); errors not_found, insufficient_stock (units
/// this order holds already count as available to it).
struct quote {
  std::string order_id;
  std::int64_t quantity = 0;

  static constexpr const char* type = "quote";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f("quantity", quantity);
  }
  const char* invalid() const;
};
/// The reply to a reserve or a quote: what one unit costs and what it is.
struct priced {
  std::int64_t unit_price = 0;
  item_kind kind = item_kind::goods;

  template <class F>
  void fields(F& f) {
    f("unit_price", unit_price);
    f("kind", kind);
  }
  const char* invalid() const;
};
/// Return a reservation to available (cancel, timeout, failed create).
struct release {
  std::string order_id;
  std::uint64_t token = 0;

  static constexpr const char* type = "release";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f("token", token);
  }
  const char* invalid() const;
};
/// The order was paid: the reservation becomes sold. If it has expired, the
/// units are taken from available; if there are none, the SKU sends the
/// order a "shortfall" message.
struct confirm {
  std::string order_id;
  std::uint64_t token = 0;
  std::int64_t quantity = 0;

  static constexpr const char* type = "confirm";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f("token", token);
    f("quantity", quantity);
  }
  const char* invalid() const;
};
/// A paid order was refunded before shipping: sold units go back.
struct restock {
  std::string order_id;
  std::int64_t quantity = 0;

  static constexpr const char* type = "restock";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f("quantity", quantity);
  }
  const char* invalid() const;
};
/// A reservation timer fired: "expiry" (empty `order_id`) releases every
/// reservation due and re-arms for the next; "res:<order_id>", of an
/// earlier version, that order's reservation if it is due.
struct expire {
  std::string order_id;
};

using input
  = std::variant<put, reserve, quote, release, confirm, restock, expire>;

/// Tunables of the inventory state machine.
struct config {
  /// How long an unconfirmed reservation lives when its reserve message
  /// carries no payment deadline (older messages). Default: 15 minutes.
  millis reservation_ttl = 15 * 60 * 1000;
};

/// Everything a handler may read besides the state.
using context = turn_context<config>;

/// Applies `in` to `s` in place. Deterministic and free of I/O: the same
/// state, input and context give the same new state and outcome.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "reserve", "quote",
/// "release", "confirm", "restock", "timer"); bad_request for anything
/// else.
result<input> decode(const envelope& msg);

/// The SKU's reservation timer.
inline constexpr const char* expiry_timer = "expiry";
/// The timer name of an order's reservation, as earlier versions armed it.
std::string timer_name(const std::string& order_id);

/// True when the stock invariant holds.
bool conserved(const state& s) noexcept;

/// The order an input concerns ("" for `put`). A turn changes at most that
/// order's entries (reservation, shortfall) besides the counters, so the
/// runtime stores each order's entries as their own record.
const std::string& subject(const input& in) noexcept;

/// The stored form of `order_id`'s entries; null when it has none.
nlohmann::json entries_to_json(const state& s, const std::string& order_id);
/// Restores what `entries_to_json` stored for `order_id`.
void entries_from_json(const nlohmann::json& j, const std::string& order_id,
                       state& s);

/// The whole state, entries included (tools and tests; the runtime stores
/// the counters with `header_to_json` and the entries one by one).
void to_json(nlohmann::json& j, const state& s);
/// The state without reservations and shortfalls.
nlohmann::json header_to_json(const state& s);
void from_json(const nlohmann::json& j, state& s);

} // namespace ordo::actors::inventory
