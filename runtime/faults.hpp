#pragma once

// Named failure-injection points, compiled into every build. A
// point is a place in the code that asks the process-wide registry whether
// a fault is armed for it; an operator arms faults at start-up (--faults
// SPEC) or at run time (/v1/admin/faults).
//
// Actions:
//   crash  the process dies at once, like kill -9 (SIGKILL: no destructors,
//          no flush), after one line on stderr naming the point.
//   error  the operation at the point fails with an error its caller
//          handles as it would a real failure.
//   delay  the operation waits `delay_ms`, then goes on.
//   drop   the operation's effect is silently lost (a message not sent, a
//          reply not answered).
//
// The points, what each supports and what it does (fault_points() is the
// authoritative table; `arm` refuses an action a point does not support):
//
//   store.before_commit  [crash error delay]       storage commit thread,
//       before a group commit is written. error: every batch of the group
//       fails (nothing is written) exactly as on a write error, but the
//       store goes on (no fail-stop: the WAL was not touched). delay: the
//       commit thread sleeps (a slow disk: every commit waits).
//   store.after_commit   [crash delay]             storage commit thread,
//       after the WAL write, before the batches' callbacks: a crash here
//       leaves data durable that nobody was told about.
//   store.before_sync    [crash delay]             the storage syncer,
//       before it fsyncs the WAL: turns are written and have reached the
//       actors of this process, and nothing they caused has left it.
//   store.before_read    [crash error delay]       where the node reads
//       storage for a caller, before each such read: a GET, the existence
//       check before a write reaches an order, the rate limit's scan of a
//       user's orders. error: the read fails and is answered `internal`;
//       delay: the reading thread sleeps (a slow disk read).
//   store.disk_low       [error]                   storage commit thread,
//       where the free-space guard (--min-free-disk) looks at the disk.
//       error: the disk counts as nearly full: the group fails (nothing is
//       written), /readyz says why, and the next group looks again.
//   gateway.before_reply [crash error delay drop]  just before an HTTP reply
//       is written. error: 500 internal instead of the reply; drop: the
//       connection is closed without an answer; delay: an Asio timer, the
//       I/O thread is not blocked.
//   relay.deliver        [crash error delay drop]  where the outbox relay
//       hands a delivery to its destination. error: a retryable failure
//       (`unavailable`, backoff) without calling it; drop: not called and
//       not answered (the ack timeout repeats it); delay: handed over later
//       by the relay's own timer, no thread is blocked.
//   payment.call         [crash error delay drop]  the payment adapter (the
//       HTTP provider and the built-in sandbox), for each close or refund
//       call. error: answered `unavailable` without calling; drop: called,
//       but never answered (the relay's ack timeout repeats it); delay: the
//       call is made later from the adapter's fault_delayer thread.
//   sms.call             [crash error delay drop]  the SMS adapter (webhook
//       and log sink), for each "sms": as payment.call.
//   cluster.forward      [crash error delay drop]  where the cluster mesh
//       sends a forwarded HTTP request or an actor message to another node.
//       error: fails it with `unavailable` unsent; drop: not sent, so it
//       fails at its deadline; delay: sent later from the mesh's
//       fault_delayer thread.
//   audit.before_orders  [delay]                   the auditor's thread,
//       after it read the SKUs, coupons, affiliates and pools and before it
//       reads the orders: turns run in between (the scan's race, see
//       runtime/detail/audit.cpp take_snapshot).
//
// Cost: while no rule is armed a point costs one relaxed atomic load.
//
// Threading: everything here is thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace ordo::runtime {

/// What an armed point does when it fires.
enum class fault_action : std::uint8_t {
  crash, ///< SIGKILL the process at once
  error, ///< the operation fails as on a real failure
  delay, ///< the operation waits delay_ms, then goes on
  drop,  ///< the operation's effect is silently lost
};

/// "crash", "error", "delay" or "drop".
const char* to_string(fault_action a) noexcept;

/// One armed fault. Spec form (parse_fault_spec):
/// POINT=ACTION[:DURATION][@PROBABILITY][#COUNT].
struct fault_rule {
  /// A name from fault_points().
  std::string point;
  fault_action action = fault_action::error;
  /// How long a delay waits, 1..600'000 ms; delay only (0 otherwise).
  std::uint32_t delay_ms = 0;
  /// Chance that one pass through the point fires, in (0, 1]. Default: 1.
  double probability = 1.0;
  /// Firings left; the rule disarms itself after the last. 0 = unlimited.
  std::uint64_t count = 0;
  /// Firings so far (output only).
  std::uint64_t fired = 0;
};

/// A known point: its name, the actions it supports, where it sits.
struct fault_point {
  const char* name;
  /// Bit (1 << action) for each supported action.
  unsigned actions;
  const char* where;

  bool supports(fault_action a) const noexcept {
    return (actions & (1u << static_cast<unsigned>(a))) != 0;
  }
};

/// Every known point, in a fixed order.
const std::vector<fault_point>& fault_points();

/// What a fired point asks its caller to do (see fault_draw).
struct fault_effect {
  fault_action action = fault_action::error;
  /// For delay: how long.
  std::uint32_t delay_ms = 0;
};

/// The process-wide registry of armed rules: at most one rule per point.
/// Threading: thread-safe; the rules and the random engine are guarded by
/// mu_, and armed_ (their number) is written under mu_ and read without it.
class faults {
public:
  /// THE registry of this process.
  static faults& global();

  /// Arms `r` (replacing the point's rule, if any; `fired` restarts at 0).
  /// False and `*why` for an unknown point, an action the point does not
  /// support, or a field out of range.
  bool arm(const fault_rule& r, std::string* why);
  /// Disarms `point`; false if nothing was armed there.
  bool clear(std::string_view point);
  void clear_all();
  /// The armed rules, by point name.
  std::vector<fault_rule> list() const;
  /// Reseeds the probability draws (tests); the default seed is random.
  void seed(std::uint64_t s);

  /// True while any rule is armed (one relaxed load).
  static bool any_armed() noexcept {
    return armed_.load(std::memory_order_relaxed) != 0;
  }

  /// The slow path of fault_hit / fault_draw: draws the point's rule and,
  /// when it fires, counts it and returns its action (crash included; the
  /// caller performs it). nullopt when nothing fires.
  std::optional<fault_effect> draw(const char* point);

  /// Ends the process like kill -9 after one stderr line naming `point`.
  [[noreturn]] static void crash(const char* point) noexcept;

private:
  faults();

  /// Armed rules, for the hot path's first test.
  inline static std::atomic<std::uint32_t> armed_{0};

  mutable std::mutex mu_;
  // Guarded by mu_. Sorted by point.
  std::vector<fault_rule> rules_;
  std::mt19937_64 rng_;
};

/// The point `point`: nullopt (go on) unless an armed rule fires. Performs
/// crash and delay itself (a delay sleeps on the calling thread), so the
/// caller only handles the two it gets back: error and drop.
inline std::optional<fault_action> fault_hit(const char* point) {
  if (!faults::any_armed()) {
    return std::nullopt;
  }
  auto e = faults::global().draw(point);
  if (!e) {
    return std::nullopt;
  }
  switch (e->action) {
    case fault_action::crash: faults::crash(point);
    case fault_action::delay:
      std::this_thread::sleep_for(std::chrono::milliseconds{e->delay_ms});
      return std::nullopt;
    default: return e->action;
  }
}

/// Like fault_hit for points that must not block their thread: performs
/// crash itself and hands back error, drop or delay (with its duration) for
/// the caller to wait without blocking.
inline std::optional<fault_effect> fault_draw(const char* point) {
  if (!faults::any_armed()) {
    return std::nullopt;
  }
  auto e = faults::global().draw(point);
  if (e && e->action == fault_action::crash) {
    faults::crash(point);
  }
  return e;
}

/// The storage hook (storage::store_options::fault) bound to the global
/// registry: runs fault_hit and answers true for `error`.
std::function<bool(const char* point)> storage_fault_hook();

/// Parses a comma-separated list of POINT=ACTION[:DURATION][@PROBABILITY]
/// [#COUNT] (e.g. "store.after_commit=crash@0.01,payment.call=error@0.5#10,
/// relay.deliver=delay:200ms"). DURATION is digits then "ms" or "s", and is
/// required for delay and refused otherwise; PROBABILITY a decimal in
/// (0, 1], default 1; COUNT digits, default 0 = unlimited. Spaces around an
/// item are ignored; an empty spec is no rules. Appends to `*out` only on
/// success; false and `*why` otherwise (a point given twice included).
bool parse_fault_spec(std::string_view spec, std::vector<fault_rule>* out,
                      std::string* why);

/// Reads the admin POST body {"point", "action", "delay_ms"?,
/// "probability"?, "count"?} with the rules of parse_fault_spec ("fired" is
/// ignored, any other key refused). False and `*why` otherwise.
bool rule_from_json(const nlohmann::json& j, fault_rule* out, std::string* why);

/// {"point", "action", "delay_ms" (delay only), "probability", "count",
/// "fired"}.
nlohmann::json rule_to_json(const fault_rule& r);

/// Runs functions after a delay on its own thread, for points that must not
/// block the thread they run on (the adapters' delay). The thread starts on
/// first use, so an owner that never sees a delay never has one. The owner
/// stops it (or destroys it) before anything its functions use goes away.
/// Threading: thread-safe.
class fault_delayer {
public:
  fault_delayer() = default;
  /// Stops.
  ~fault_delayer();
  fault_delayer(const fault_delayer&) = delete;
  fault_delayer& operator=(const fault_delayer&) = delete;

  /// Runs `fn` on the delayer's thread after `ms`; after stop(), destroys it
  /// unrun at once.
  void after(std::uint32_t ms, std::function<void()> fn);

  /// Destroys the functions not yet run (without running them), waits for
  /// the one running, joins the thread. Idempotent; not from a function it
  /// runs.
  void stop();

private:
  struct item {
    std::chrono::steady_clock::time_point due;
    std::uint64_t order = 0;
    std::function<void()> fn;
  };
  struct later {
    bool operator()(const item& a, const item& b) const {
      return a.due != b.due ? a.due > b.due : a.order > b.order;
    }
  };

  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::vector<item> heap_; ///< min-heap on (due, order)
  std::uint64_t next_ = 0;
  bool stopped_ = false;
  std::thread thread_; ///< started by the first `after`
};

} // namespace ordo::runtime
