#pragma once

// The commissions of one affiliate as a plain state machine (DESIGN.md
// rule 7): one entry per attributed order.
//
//   (none) --pending--> PENDING --settle--> SETTLED
//   PENDING --invalidate--> INVALID          (cancel, refund before completion)
//   SETTLED --invalidate--> SETTLED + clawback (refund after completion)
//
// A cancelled order never pays commission: INVALID is final, a later settle
// leaves it INVALID. A refund after completion cannot un-pay what was
// settled; the entry stays SETTLED, is flagged `clawback` once and raises the
// signal "commission_clawback_needed" for a human (or a later payout run) to
// charge it back. Every message is idempotent on its own: a repeat changes
// nothing. Messages may also arrive out of order (an invalidate or settle
// before the pending that carries the amount): the status they set is kept
// and the late pending only fills in the amount.
//
// The commission amount is computed by the order (rate x payable, rounded
// down to cents) and carried by `pending`.
//
// Messages (all outbox from the order, envelope type: body):
//   in  "pending":    {"order_id", "amount"}
//   in  "invalidate": {"order_id"}
//   in  "settle":     {"order_id"}
// The affiliate sends nothing.
//
// Threading: a `state` is confined to the actor that owns it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "actors/message.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::attribution {

/// The actor kind of an affiliate: its address is {"affiliate", id}.
inline constexpr const char* kind = "affiliate";

enum class status : std::uint8_t { pending, invalid, settled };

/// "PENDING", "INVALID", "SETTLED".
const char* to_string(status s) noexcept;
/// Parses a to_string() name; nullopt for anything else.
std::optional<status> parse_status(const std::string& s) noexcept;

/// The commission of one order.
struct entry {
  /// Cents; 0 until `known`.
  std::int64_t amount = 0;
  /// False while only an invalidate or settle has arrived: the pending that
  /// carries the amount is still on its way.
  bool known = false;
  status st = status::pending;
  /// A SETTLED commission whose order was refunded afterwards.
  bool clawback = false;
};

/// Sums of entry amounts by status (cents).
struct totals {
  std::int64_t pending = 0;
  std::int64_t invalid = 0;
  std::int64_t settled = 0;
  /// The part of `settled` flagged for clawback.
  std::int64_t clawback = 0;

  friend bool operator==(const totals& a, const totals& b) {
    return a.pending == b.pending && a.invalid == b.invalid
           && a.settled == b.settled && a.clawback == b.clawback;
  }
  friend bool operator!=(const totals& a, const totals& b) {
    return !(a == b);
  }
};

struct state {
  std::string affiliate_id;
  std::uint64_t version = 0;
  millis updated_at = 0;
  /// Kept equal to sum(entries) by every turn (stored with the header, so a
  /// summary needs no scan).
  totals sums;
  /// By order id.
  std::map<std::string, entry> entries;
};

/// The order was created with this affiliate: commission `amount` is owed
/// unless the order is cancelled. A repeat is a no-op.
struct pending {
  std::string order_id;
  std::int64_t amount = 0;

  static constexpr const char* type = "pending";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f("amount", amount);
  }
  const char* invalid() const;
};
/// The order was cancelled or refunded.
struct invalidate {
  std::string order_id;

  static constexpr const char* type = "invalidate";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
  }
  const char* invalid() const;
};
/// The order was completed: the commission is earned.
struct settle {
  std::string order_id;

  static constexpr const char* type = "settle";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
  }
  const char* invalid() const;
};

using input = std::variant<pending, invalidate, settle>;

/// Tunables of the attribution state machine (none yet).
struct config {};

/// Everything a handler may read besides the state.
using context = turn_context<config>;

/// Applies `in` to `s` in place. Deterministic and free of I/O: the same
/// state, input and context give the same new state and outcome. A turn that
/// sets a non-empty `event` bumps `version` and `updated_at`.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "pending",
/// "invalidate", "settle"); bad_request for anything else. Never throws.
result<input> decode(const envelope& msg);

/// The sums recomputed from the entries.
totals sum(const state& s) noexcept;
/// True when `s.sums` matches the entries and no amount is negative (the
/// auditor's check).
bool balanced(const state& s) noexcept;

/// The order an input concerns. A turn changes at most that order's entry
/// besides the header, so the runtime stores each entry as its own record.
const std::string& subject(const input& in) noexcept;

/// The stored form of `order_id`'s entry; null when it has none.
nlohmann::json entries_to_json(const state& s, const std::string& order_id);
/// Restores what `entries_to_json` stored for `order_id`.
void entries_from_json(const nlohmann::json& j, const std::string& order_id,
                       state& s);

/// The whole state, entries included (tools and tests; the runtime stores
/// the header with `header_to_json` and the entries one by one).
void to_json(nlohmann::json& j, const state& s);
/// The state without entries (id, version, sums).
nlohmann::json header_to_json(const state& s);
void from_json(const nlohmann::json& j, state& s);

} // namespace ordo::actors::attribution
