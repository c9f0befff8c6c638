#pragma once

// The sales report of one partition ("shard") of the orders as a plain state
// machine (DESIGN.md rule 12): reports tell placed from paid. The amounts
// placed (GMV), paid, cancelled, refunded and cancelled by hand ("manual")
// are kept apart, each as a count and a sum in cents. A cancel within 60 s of
// placing is a flash cancel: it is counted in `cancelled` and again in
// `flash`, and per user, so abuse is visible; the users with the most flash
// cancels are kept ranked in `top`.
//
// Orders count their transitions with `count`, in their own turn: it adds
// the transition to the shard's sums (outcome::additions), which the
// runtime writes in the order's batch. So a transition is counted exactly
// when it is stored, and a shard takes no turn, message or dedupe record
// per order. The HTTP GET reads every shard and combines them with `merge`.
//
// Messages (envelope type: body), from orders of earlier versions still in
// an outbox; `handle` counts them the same way, through additions:
//   in  "placed" | "paid" | "cancelled" | "refunded" | "manual":
//       {"order_id", "user_id", "amount", "flash" (optional, cancelled only)}
// The report sends nothing.
//
// Storage (family actors, owner = "report/" shard):
//   owner NUL "sum"          -> sums: records counted, then count and
//                               amount of placed, paid, cancelled,
//                               refunded, manual, flash (13 values)
//   owner NUL "u/" user_id   -> sums: that user's flash cancels (1 value)
// and, as earlier versions wrote them and never rewritten now, a header
// (the tallies), "e/" user entries and a "top" record: a shard reads as
// the header plus its sums, and as every user's entry plus their sums.
//
// Threading: a `state` is confined to the actor that owns it; `merge` and
// `shard_of` are pure functions, safe from any thread.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/vocabulary.hpp"

namespace ordo::actors::reports {

/// The actor kind of a report shard: its address is {"report", shard}.
inline constexpr const char* kind = "report";

/// How many messages of one kind were counted, and their amounts (cents).
struct tally {
  std::int64_t count = 0;
  std::int64_t amount = 0;

  friend bool operator==(const tally& a, const tally& b) {
    return a.count == b.count && a.amount == b.amount;
  }
  friend bool operator!=(const tally& a, const tally& b) {
    return !(a == b);
  }
};

/// A user and their number of flash cancels.
struct user_count {
  std::string user_id;
  std::int64_t count = 0;

  friend bool operator==(const user_count& a, const user_count& b) {
    return a.user_id == b.user_id && a.count == b.count;
  }
  friend bool operator!=(const user_count& a, const user_count& b) {
    return !(a == b);
  }
};

struct state {
  /// The partition this report counts, e.g. "o002a" (see shard_of).
  std::string shard;
  std::uint64_t version = 0;
  millis updated_at = 0;
  tally placed;
  tally paid;
  tally cancelled;
  tally refunded;
  tally manual;
  /// The part of `cancelled` that were flash cancels.
  tally flash;
  /// Flash cancels per user (one ledger entry per user).
  std::map<std::string, std::int64_t> flash_by_user;
  /// The users with the most flash cancels, most first (ties: user_id
  /// ascending), at most config::top_n; kept exact on every turn.
  std::vector<user_count> top;
};

/// The transition an order reports; also the message type.
enum class event_kind : std::uint8_t {
  placed,
  paid,
  cancelled,
  refunded,
  manual
};

/// "placed", "paid", "cancelled", "refunded", "manual".
const char* to_string(event_kind k) noexcept;

/// One order transition. `amount` in cents (the order's payable); `flash`
/// only for cancelled.
struct record {
  event_kind what = event_kind::placed;
  std::string order_id;
  std::string user_id;
  std::int64_t amount = 0;
  bool flash = false;
};

using input = std::variant<record>;

/// The most users a ranking holds (the sales report's top_n at most).
inline constexpr std::size_t max_top_users = 100;

/// Tunables of the report state machine.
struct config {
  /// How many users `top` ranks.
  /// Default: 10
  std::size_t top_n = 10;
};

/// Everything a handler may read besides the state.
using context = turn_context<config>;

/// The part of a shard's records that holds its tallies as sums, and the
/// prefix of those that hold one user's flash cancels (storage above).
inline constexpr const char* sums_part = "sum";
inline constexpr const char* user_part = "u/";

/// Counts `r` in the shard of its order (shard_of(order_id)): the additions
/// to that shard's sums, appended to `o` (the order's turn that made the
/// transition). Refuses what `handle` refuses, adding nothing.
std::optional<error> count(const record& r, outcome& o);

/// Adds the sums read from the shard's record `part` to `s`: the tallies
/// (and `version`) for sums_part, a user's flash cancels for user_part +
/// user_id. False, changing nothing, for any other part or a short tally.
bool add_sums(state& s, const std::string& part,
              const std::vector<std::int64_t>& sums);

/// Ranks `s.flash_by_user` into `s.top`, at most `top_n` users.
void rank_top(state& s, std::size_t top_n);

/// Applies `in` to `s`: adds it to the tally of `what`; a flash cancel also
/// adds to `flash` and to its user's count, and updates `top`. Refuses
/// (bad_request, no change) an empty order_id, a negative amount, flash on
/// anything but cancelled, or a flash cancel without a user_id. Every
/// counted message is the event "counted" and bumps `version` and
/// `updated_at`, and carries the additions of `count` that store it.
/// Deterministic and free of I/O; changes `s` in place.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types as to_string of
/// event_kind); bad_request for anything else. Never throws.
result<input> decode(const envelope& msg);

/// The header: everything but `flash_by_user` (`top` included).
nlohmann::json header_to_json(const state& s);
/// The stored form of `user_id`'s entry (their flash cancels); null when
/// they have none.
nlohmann::json entries_to_json(const state& s, const std::string& user_id);
/// Restores what `entries_to_json` stored for `user_id`.
void entries_from_json(const nlohmann::json& j, const std::string& user_id,
                       state& s);

/// The whole state, entries included (tools and tests; the runtime stores
/// the header with `header_to_json` and the entries one by one).
/// The ranking as stored in its own record: [{"u": user_id, "n": count}].
nlohmann::json top_to_json(const state& s);
/// Reads that record into `s.top` (ignores anything but an array).
void top_from_json(const nlohmann::json& j, state& s);

void to_json(nlohmann::json& j, const state& s);
/// Reads a header, or a whole state as to_json writes it. Missing fields
/// keep their defaults.
void from_json(const nlohmann::json& j, state& s);

/// The report over every shard.
struct totals {
  tally placed;
  tally paid;
  tally cancelled;
  tally refunded;
  tally manual;
  tally flash;
  /// Ranked as state::top, at most `top_n`.
  std::vector<user_count> top;
};

/// The report over every shard: tallies summed, the flash cancels of the
/// same user summed over the shards, ranked and cut to `top_n`. Exact when
/// the shards carry their entries (`flash_by_user`); a shard read without
/// them (header only) contributes its `top`.
totals merge(const std::vector<state>& shards, std::size_t top_n);

/// `t` as a shard read without its entries, for merging reports that were
/// merged already (one per node).
state header_only(const totals& t);

/// The shard of an order id: order ids look like 'o' + 4 hex digits (the
/// partition) + '-' + more, e.g. "o002a-9f3a..."; the shard is that
/// 5-character prefix ("o002a"). Anything else (short test ids like "o1")
/// maps to "o0000".
std::string shard_of(const std::string& order_id);

/// The shard of partition `p` (< 65536): "o" + 4 lower-case hex digits, as
/// order ids of that partition begin.
std::string shard_name(std::uint32_t p);

} // namespace ordo::actors::reports
