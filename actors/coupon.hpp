#pragma once

// One coupon as a plain state machine (DESIGN.md rule 6): locked by the
// order being created, consumed when that order is paid, returned when it is
// cancelled -- each exactly once, however often a message repeats. One
// coupon backs at most one live order.
//
//   AVAILABLE --lock--> LOCKED --consume--> USED
//   LOCKED --release | timer "lock"--> AVAILABLE
//   AVAILABLE --consume (the order's lock had expired)--> USED
//
// A lock carries the token of the create attempt that made it, like a SKU
// reservation: a late release from an older attempt cannot return a newer
// attempt's lock. A lock nobody consumes or releases (the order never came
// to exist) expires on its own through the durable timer "lock"; a lock
// whose expiry is due counts as expired even before that timer fires. A paid
// order whose consume finds the coupon held by another order gets one
// "coupon_conflict" message, so it can refund.
//
// Messages (envelope type: body):
//   in  "lock" (request): {"order_id", "user_id", "token"}
//         reply {"discount", "min_amount"}; errors not_found,
//         coupon_unavailable
//   in  "check" (request): {"order_id", "user_id"}; replies as "lock",
//         changes nothing
//   in  "release": {"order_id", "token"}
//   in  "consume": {"order_id"}
//   in  "timer": {"name": "lock"}
//   out "coupon_conflict" to {"order", order_id}: {"coupon_id"}
// The admin `put` is an input the gateway builds; it has no envelope.
//
// Threading: a `state` is confined to the actor that owns it.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "actors/message.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::coupon {

/// The actor kind of a coupon: its address is {"coupon", coupon_id}.
inline constexpr const char* kind = "coupon";

enum class status : std::uint8_t { available, locked, used };

/// "AVAILABLE", "LOCKED", "USED".
const char* to_string(status s) noexcept;
/// Parses a to_string() name; nullopt for anything else.
std::optional<status> parse_status(const std::string& s) noexcept;

struct state {
  std::string coupon_id;
  /// False until the first `put`; such a coupon answers not_found.
  bool exists = false;
  std::uint64_t version = 0;
  std::string user_id;
  /// Cents off the order amount; positive.
  std::int64_t discount = 0;
  /// The order amount (cents) below which the coupon does not apply.
  std::int64_t min_amount = 0;
  status st = status::available;
  /// The order holding the coupon (LOCKED or USED); empty when AVAILABLE.
  std::string order_id;
  /// The create attempt that locked it (LOCKED only).
  std::uint64_t token = 0;
  /// When a lock lapses (LOCKED only).
  millis lock_expires_at = 0;
  millis updated_at = 0;
  /// Paid orders already told that another order holds the coupon; each
  /// hears it once. Rare and small.
  std::set<std::string> conflicts;
};

/// Admin: create the coupon or change an AVAILABLE one (a LOCKED or USED
/// coupon answers invalid_transition). Needs a user, discount > 0 and
/// min_amount >= 0.
struct put {
  std::string user_id;
  std::int64_t discount = 0;
  std::int64_t min_amount = 0;
};
/// Request from an order being created. Succeeds iff the coupon exists, is
/// the user's, and is AVAILABLE or already locked by this order; replies
/// {"discount", "min_amount"} and arms the timer "lock". A repeat with the
/// same token changes nothing; another token of the same order relocks.
/// The order checks min_amount itself once it knows its amount.
struct lock {
  std::string order_id;
  std::string user_id;
  std::uint64_t token = 0;

  static constexpr const char* type = "lock";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f("user_id", user_id);
    f("token", token);
  }
  const char* invalid() const;
};
/// Request from an order being created, before it reserves anything: would
/// `lock` succeed now? Changes nothing; replies and fails like lock.
struct check {
  std::string order_id;
  std::string user_id;

  static constexpr const char* type = "check";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f("user_id", user_id);
  }
  const char* invalid() const;
};
/// Return the coupon (cancel, timeout, failed create): only a lock of this
/// order and token is returned; anything else is a no-op.
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
/// The order was paid. Its lock (or, the lock having expired, the AVAILABLE
/// coupon) becomes USED; a repeat is a no-op; a coupon held by another
/// order sends this order one "coupon_conflict".
struct consume {
  std::string order_id;

  static constexpr const char* type = "consume";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
  }
  const char* invalid() const;
};
/// The reply to a lock or a check: the coupon's terms.
struct terms {
  std::int64_t discount = 0;
  std::int64_t min_amount = 0;

  template <class F>
  void fields(F& f) {
    f("discount", discount);
    f("min_amount", min_amount);
  }
  const char* invalid() const;
};
/// The timer "lock" fired: a LOCKED coupon whose lock is due goes back.
struct expire {};

using input = std::variant<put, lock, check, release, consume, expire>;

/// Tunables of the coupon state machine.
struct config {
  /// How long a lock lives unless consumed or released; keep it at least
  /// the payment timeout, or a slow payer's coupon may go to their next
  /// order (the paid one then gets a coupon_conflict). Default: 15 minutes.
  millis lock_ttl = 15 * 60 * 1000;
};

/// Everything a handler may read besides the state.
using context = turn_context<config>;

/// Applies `in` to `s` in place. Deterministic and free of I/O: the same
/// state, input and context give the same new state and outcome. A turn that
/// sets a non-empty `event` bumps `version` and `updated_at`.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "lock", "check",
/// "release", "consume", "timer"); bad_request for anything else. Never throws.
result<input> decode(const envelope& msg);

/// The name of the lock expiry timer.
inline constexpr const char* timer_name = "lock";

/// True when status, holder and lock fields agree (the auditor's check).
bool consistent(const state& s) noexcept;

void to_json(nlohmann::json& j, const state& s);
void from_json(const nlohmann::json& j, state& s);

} // namespace ordo::actors::coupon
