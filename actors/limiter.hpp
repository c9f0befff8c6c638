#pragma once

// The order gate of one user as a plain state machine (DESIGN.md rule 10):
// at most `max_orders` creates per sliding `window`, and after
// `captcha_after` consecutive cancellations by the user the next order needs
// a solved captcha.
//
//   admit --(already admitted in the window)--> admitted, nothing changes
//   admit --(window full)--> rate_limited {"retry_after_ms"}
//   admit --(streak >= captcha_after, no or a wrong answer)-->
//         captcha_required {"challenge": {"id", "question"}}
//   admit --(streak below, or the open challenge solved)--> admitted
//
// The streak is the number of the user's latest consecutive cancellations
// (`admit::cancel_run`, read by the runtime from the user's order index)
// of orders created after the last solved captcha: solving one clears the
// streak for the orders already cancelled; three new cancels bring it back.
// A challenge stays open until it is solved or `challenge_ttl` passes; a
// create without an answer is shown the open one again, a wrong answer gets
// a new one (so answers cannot be guessed one after another against one
// question). The reply never carries the expected answer.
//
// A repeat of a create already admitted inside the window (a retry of the
// same order) is admitted again without counting twice. A create the order
// then refused (no stock, not the user's coupon, bad input) is withdrawn:
// its admission no longer counts, so a refusal never uses up a slot. Admissions
// that fell out of the window are dropped when the state next changes; a turn
// that only reads them changes nothing.
//
// A node does not count the rate limit with these admissions (it runs this
// actor with max_orders 0, for the captcha only, and never sends
// "withdraw"): it counts the user's stored orders (the order index) plus the
// creates in flight, with `over_rate` below. So a create counts once its
// order is stored and only then: a refused create, or one answered 503 or
// 500 whose order was not stored, uses no slot. The admissions and
// "withdraw" above are what the simulator (tests/sim) still drives.
//
// Messages (envelope type: body):
//   in  "admit" (request): {"order_id", "cancel_run": [created_at...]?,
//                           "captcha": {"id", "answer"}?}
//         result "admitted"; errors rate_limited (reply {"retry_after_ms"}),
//         captcha_required (reply {"challenge": {"id", "question"}})
//   in  "withdraw": {"order_id"}; result "withdrawn" (also when nothing was
//         admitted for it)
// The limiter sends nothing.
//
// Threading: a `state` is confined to the actor that owns it; the `config`
// and its verifier are immutable and shared.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/captcha.hpp"
#include "actors/message.hpp"
#include "actors/order.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::limiter {

/// The actor kind of a user's gate: its address is {"limiter", user_id}.
inline constexpr const char* kind = "limiter";

/// One create let through.
struct admission {
  millis at = 0;
  std::string order_id;
};

struct state {
  std::string user_id;
  std::uint64_t version = 0;
  millis updated_at = 0;
  /// Creates admitted inside the window, oldest first.
  std::vector<admission> admitted;
  /// The last solved captcha; cancels of orders created at or before it no
  /// longer count.
  millis solved_at = 0;
  /// The open challenge, if any.
  std::optional<captcha::challenge> challenge;
  /// Challenges issued so far (feeds their ids and seeds).
  std::uint64_t issued = 0;
};

/// The user's answer to a challenge.
struct answer {
  std::string id;
  std::string text;

  template <class F>
  void fields(F& f) {
    f("id", id);
    f("answer", text);
  }
  const char* invalid() const;
};

/// A create for a new order asks to be let through. `cancel_run`: the
/// created_at of the user's newest orders that were cancelled by the user,
/// newest first, stopping at the first order that was not (the runtime reads
/// it from the user's order index).
struct admit {
  std::string order_id;
  std::vector<millis> cancel_run;
  std::optional<answer> captcha;

  static constexpr const char* type = "admit";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
    f.optional("cancel_run", cancel_run);
    f.optional("captcha", captcha);
  }
  const char* invalid() const;
};

/// The create admitted for `order_id` was refused: forget its admission.
struct withdraw {
  std::string order_id;

  static constexpr const char* type = "withdraw";
  template <class F>
  void fields(F& f) {
    f("order_id", order_id);
  }
  const char* invalid() const;
};

/// True for a create refused with `code` that left no order behind and no
/// outcome in doubt (bad input, an unknown SKU, stock or coupon): its
/// admission is withdrawn, so it uses no slot. (The simulator's; a node
/// counts stored orders, see the top of this file.)
bool refused_outright(errc code) noexcept;

using input = std::variant<admit, withdraw>;

/// One of the user's orders as the runtime's order index lists it.
struct recent_order {
  order::status st = order::status::none;
  std::string cancel_reason;
  millis created_at = 0;
};

/// The `cancel_run` of an admit, from the user's newest orders (newest
/// first): the created_at of those the user cancelled, up to the first that
/// was not (paid, pending, timed out, ...); at most `max` of them.
std::vector<millis> cancel_run(const std::vector<recent_order>& newest_first,
                               std::size_t max);

struct config;

/// The rate limit of rule 10 from what the runtime knows of the user's
/// recent orders: `recent` holds when each was created (or, for a create
/// still in flight, admitted), in any order. nullopt when one more order
/// fits into the window; otherwise the ms until the oldest order inside the
/// window leaves it (at least 1). Counts like the limiter's own `admitted`
/// list: an order counts while `now - at < window`.
std::optional<millis> over_rate(const std::vector<millis>& recent,
                                const config& cfg, millis now);

/// The rate_limited error of a create refused for `retry` more ms.
error rate_limited(const config& cfg, millis retry);

/// Tunables of the limiter (API.md `--rate-limit`, `--captcha-after`).
struct config {
  /// Creates admitted per user per `window`; 0 = no limit (admissions are
  /// then not recorded). Default: 5.
  std::uint32_t max_orders = 5;
  /// The sliding window of `max_orders`. Default: 1 minute.
  millis window = 60'000;
  /// Consecutive cancellations after which the next order needs a solved
  /// captcha; 0 = never. Default: 3.
  std::uint32_t captcha_after = 3;
  /// An open challenge older than this is replaced; 0 = never expires.
  /// Default: 5 minutes.
  millis challenge_ttl = 5 * 60'000;
  /// Puts and checks challenges; not owned, must outlive every turn.
  /// nullptr = captcha::arithmetic(). Default: nullptr.
  const captcha::verifier* verifier = nullptr;
};

/// Everything a handler may read besides the state.
using context = turn_context<config>;

/// Applies `in` to `s` in place. Deterministic and free of I/O: the same
/// state, input and context give the same new state and outcome. A turn that
/// sets a non-empty `event` bumps `version` and `updated_at`; a turn without
/// one leaves `s` as it was.
outcome handle(state& s, const input& in, const context& ctx);

/// Turns an inter-actor message into an input (types "admit", "withdraw");
/// bad_request
/// for anything else. Never throws.
result<input> decode(const envelope& msg);

void to_json(nlohmann::json& j, const state& s);
void from_json(const nlohmann::json& j, state& s);

} // namespace ordo::actors::limiter
