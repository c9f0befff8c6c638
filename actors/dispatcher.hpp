#pragma once

// O2O auto-dispatch (DESIGN.md rule 8) as two plain state machines: the
// dispatcher of one paid service order, and the technicians pool.
//
// dispatcher (one per order, kind "dispatcher"): delay, double-check, assign.
//
//   order_paid    --> PENDING, timer "dispatch" at paid + dispatch_delay
//   timer         --> request "status" of the order
//   status.reply  --> PAID | DISPATCHED ? request "assign" of the technicians
//                   : not_found or any other status ? SUPPRESSED
//                   (an error answer re-checks after recheck_delay)
//   assign.reply  --> ASSIGNED, "dispatched" to the order
//                   (no technician free, or an error: re-check later)
//   order_refunded --> PENDING ? SUPPRESSED : ASSIGNED ? RECALLED + "recall"
//
// Every transition happens once however often a message repeats; a refund
// that overtakes order_paid suppresses the dispatch when it is created. The
// timer stays armed while a request is outstanding, so a lost answer is
// retried (status first, then assign, which the technicians answer
// idempotently per dispatch id). A dispatch suppressed after an assign was
// requested sends a "recall" too: the technicians may have assigned
// someone whose answer never arrived; a recall of an unassigned dispatch
// is harmless and blocks a late assign.
//
// technicians (one actor, {"technicians", "all"}): assigns the least-loaded
// configured technician (ties: round-robin in name order), once per dispatch
// id; a recall frees the technician once.
//
// Messages (envelope type: body):
//   dispatcher
//     in  "order_paid" (outbox from the order): {"order_id", "at"}
//     in  "order_refunded" (outbox from the order): {"order_id"}
//     in  "timer": {"name": "dispatch"}
//     in  "status.reply": {"from", "ok", "status"} | {"ok": false, "error"}
//     in  "assign.reply": {"from", "ok", "technician"} | {"ok": false,
//           "error": "unavailable" | ...}
//     out request "status" to {"order", order_id}: {"order_id"}
//     out request "assign" to {"technicians", "all"}: {"dispatch_id",
//           "order_id"}
//     out "dispatched" to {"order", order_id}: {"dispatch_id", "technician"}
//     out "recall" to {"technicians", "all"}: {"dispatch_id", "technician"}
//   technicians
//     in  "assign" (request): {"dispatch_id"}; reply {"technician"}; errors
//           unavailable (nobody configured), invalid_transition (recalled)
//     in  "recall": {"dispatch_id"}
//
// Threading: a `state` is confined to the actor that owns it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/message.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::dispatcher {

/// The actor kind of an order's dispatcher: its address is {"dispatcher",
/// order_id}.
inline constexpr const char* kind = "dispatcher";
/// The name of the cooling-period (and re-check) timer.
inline constexpr const char* timer_name = "dispatch";

enum class status : std::uint8_t { pending, assigned, suppressed, recalled };

/// "PENDING", "ASSIGNED", "SUPPRESSED", "RECALLED".
const char* to_string(status s) noexcept;
/// Parses a to_string() name; nullopt for anything else.
std::optional<status> parse_status(const std::string& s) noexcept;

/// "<order_id>:dispatch".
std::string dispatch_id(const std::string& order_id);

/// What a PENDING dispatch waits for.
enum class step : std::uint8_t {
  timer,  ///< the cooling period (or a re-check) to end
  status, ///< the order's answer to "status"
  assign, ///< the technicians' answer to "assign"
};

/// "timer", "status", "assign".
const char* to_string(step w) noexcept;

struct state {
  std::string order_id;
  std::uint64_t version = 0;
  millis updated_at = 0;
  /// False until order_paid (or a refund that overtook it) arrived.
  bool exists = false;
  std::string dispatch_id;
  std::string technician;
  status st = status::pending;
  millis paid_at = 0;
  step waiting = step::timer;
  /// When the timer is due (0: disarmed); an earlier firing is stale.
  millis due = 0;
  /// An "assign" request went out at least once.
  bool assign_requested = false;
  /// The order told us it was refunded.
  bool refunded = false;
  /// Failed attempts in a row (no answer, or nobody free): each waits
  /// twice as long as the one before, up to max_recheck_delay.
  std::uint32_t retries = 0;
};

/// A paid order with service items, paid at `at` (0: now).
struct order_paid {
  std::string order_id;
  millis at = 0;

  static constexpr const char* type = "order_paid";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f.optional("at", at);
  }
  const char* invalid() const;
};
/// The paid order was refunded.
struct order_refunded {
  std::string order_id;

  static constexpr const char* type = "order_refunded";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
  }
  const char* invalid() const;
};
/// The timer "dispatch" fired.
struct check {};
/// The order answered "status": its status name, or an error.
struct status_reply {
  std::optional<error> err;
  std::string status;
};
/// The technicians answered "assign": a name, or an error.
struct assign_reply {
  std::optional<error> err;
  std::string technician;
};

using input
  = std::variant<order_paid, order_refunded, check, status_reply, assign_reply>;

/// Tunables of the dispatcher.
struct config {
  /// Cooling period between payment and dispatch. Default: 90 s.
  millis dispatch_delay = 90 * 1000;
  /// Wait before trying again when the order or the technicians did not
  /// answer, or nobody was free. Default: 10 s.
  millis recheck_delay = 10 * 1000;
  /// The longest wait between two attempts (failures in a row back off
  /// exponentially from recheck_delay). Default: 10 min.
  millis max_recheck_delay = 10 * 60 * 1000;
};

/// Everything a handler may read besides the state.
using context = turn_context<config>;

/// Applies `in` to `s` in place. Deterministic and free of I/O: the same
/// state, input and context give the same new state and outcome. A turn that
/// sets a non-empty `event` bumps `version` and `updated_at`. Signals:
/// "dispatch_assigned", "dispatch_suppressed", "dispatch_recalled",
/// "dispatch_no_technician".
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "order_paid",
/// "order_refunded", "timer", "status.reply", "assign.reply"); bad_request
/// for anything else. A garbled reply becomes a failed answer (internal),
/// so it is retried rather than stuck. Never throws.
result<input> decode(const envelope& msg);

void to_json(nlohmann::json& j, const state& s);
void from_json(const nlohmann::json& j, state& s);

} // namespace ordo::actors::dispatcher

namespace ordo::actors::technicians {

/// The actor kind of the pool; its one address is {"technicians", "all"}.
inline constexpr const char* kind = "technicians";
inline constexpr const char* pool_id = "all";

/// Who got a dispatch. A recalled assignment stays as a tombstone, so a
/// repeated recall or a late assign changes nothing.
struct assignment {
  /// Empty for a recall that arrived before any assign.
  std::string technician;
  bool active = false;
};

struct state {
  std::string id;
  std::uint64_t version = 0;
  millis updated_at = 0;
  /// Active assignments per technician (names no longer configured stay
  /// until their assignments are recalled).
  std::map<std::string, std::int64_t> load;
  /// The technician picked last (breaks ties round-robin).
  std::string last;
  /// By dispatch id.
  std::map<std::string, assignment> assignments;
};

/// Request from a dispatcher: the technician of `dispatch_id`, picking one
/// on the first call. Replies {"technician"}.
struct assign {
  std::string dispatch_id;

  static constexpr const char* type = "assign";
  template <class F>
  void fields(F& f) {
    f("dispatch_id", dispatch_id);
  }
  const char* invalid() const;
};
/// The reply to an assign.
struct assigned {
  std::string technician;

  template <class F>
  void fields(F& f) {
    f("technician", technician);
  }
  const char* invalid() const {
    return technician.empty() ? "an empty 'technician'" : nullptr;
  }
};
/// Frees the technician of `dispatch_id` (once).
struct recall {
  std::string dispatch_id;

  static constexpr const char* type = "recall";
  template <class F>
  void fields(F& f) {
    f("dispatch_id", dispatch_id);
  }
  const char* invalid() const;
};

using input = std::variant<assign, recall>;

/// Tunables of the pool.
struct config {
  /// The technicians, in round-robin order (--technicians a,b,c). Empty
  /// names are ignored. Default: none (every assign answers unavailable).
  std::vector<std::string> names;
};

/// Everything a handler may read besides the state.
using context = turn_context<config>;

/// Applies `in` to `s` in place. Deterministic and free of I/O: the same
/// state, input and context give the same new state and outcome. A turn that
/// sets a non-empty `event` bumps `version` and `updated_at`.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "assign", "recall");
/// bad_request for anything else. Never throws.
result<input> decode(const envelope& msg);

/// True when every load is non-negative and equals the technician's active
/// assignments (the auditor's check).
bool balanced(const state& s) noexcept;

/// The dispatch an input concerns. A turn changes at most that dispatch's
/// assignment besides the header (loads), so the runtime stores each
/// assignment as its own record.
const std::string& subject(const input& in) noexcept;

/// The stored form of `dispatch_id`'s assignment; null when it has none.
nlohmann::json entries_to_json(const state& s, const std::string& dispatch_id);
/// Restores what `entries_to_json` stored for `dispatch_id`.
void entries_from_json(const nlohmann::json& j, const std::string& dispatch_id,
                       state& s);

/// The whole state, assignments included (tools and tests).
void to_json(nlohmann::json& j, const state& s);
/// The state without assignments (id, version, loads, last).
nlohmann::json header_to_json(const state& s);
void from_json(const nlohmann::json& j, state& s);

} // namespace ordo::actors::technicians
