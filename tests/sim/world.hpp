#pragma once

// A deterministic simulator of one ordo node: the real state
// machines of actors/, stored through the real codecs of
// runtime/detail/kinds.hpp, under the runtime's delivery semantics —
// one durable batch per turn (state, consumed id, outbox, timers), an
// outbox delivered until acknowledged and deduped by its receiver, durable
// timers, requests that may be lost, actors reloaded from storage — on a
// simulated clock, with one seeded scheduler choosing every next event.
//
// Faults it injects: any deliverable message may go next (reordering,
// delay), an outbox message may be delivered again before its ack
// (duplication), a request or reply may be lost, a commit may fail (the
// turn is lost before its durable write; the message is redelivered), the
// whole node may crash at any step (memory and everything in flight is
// lost, storage kept), the payment provider and the SMS gateway may fail,
// and clients retry with the same idempotency key or transaction id.
//
// After every step it checks the rules of DESIGN.md it can see (the list
// is in docs/simulator.md; world::check_step and the checks at each turn
// in world.cpp); at quiescence (every client op issued, every
// message delivered, every timer fired) it also runs the auditor over the
// stored state and checks that every payment is settled.
//
// The same options give the same run, event for event, on every machine:
// one std::mt19937_64 drives every choice, and no container is iterated in
// an order that depends on addresses.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ordo::sim {

/// Bugs the simulator can plant, to prove that its checks find them (one
/// bit each): in the host semantics it simulates, and (bits 16 and up) in
/// its own build of the state machines (actors/planted.hpp). Never in a
/// real node.
enum planted : unsigned {
  no_bug = 0,
  /// A receiver applies a redelivered outbox message again.
  skip_dedupe = 1u << 0,
  /// A client is answered before its turn's batch is durable.
  reply_before_commit = 1u << 1,
  /// The relay forgets a message as soon as it is handed over, before the
  /// receiver's turn is durable.
  ack_before_commit = 1u << 2,
  /// After a failed commit the actor keeps the turn's state in memory and
  /// builds on it.
  keep_failed_state = 1u << 3,
  /// Timers are armed in memory only: a crash forgets them.
  volatile_timers = 1u << 4,
  /// Outbox messages are kept in memory only: a crash forgets them.
  volatile_outbox = 1u << 5,
  /// The payment provider refunds every call, not once per refund id.
  provider_without_dedupe = 1u << 6,
  /// A fired timer is handled twice (its durable record is not removed
  /// when it fires, and a crash fires it again).
  timer_fires_twice = 1u << 7,
  // In the state machines themselves (actors/planted.hpp, shifted by 16):
  /// The order takes a repeated payment callback as a new payment.
  pay_without_dedupe = 1u << 16,
  /// The SKU keeps a released reservation (a repeated release returns its
  /// units again).
  release_keeps_reservation = 1u << 17,
  /// The new-order SMS is due at once, not after the cooling period.
  sms_before_cooling = 1u << 18,
  /// The affiliate settles a cancelled order's commission.
  cancel_settles_commission = 1u << 19,
  /// The SKU lets a reservation expire before the order's payment deadline
  /// (the margin counted back from it).
  reservation_expires_early = 1u << 20,
};

struct options {
  std::uint64_t seed = 1;
  /// Most scheduler steps; a run that reaches quiescence earlier ends
  /// there.
  std::size_t max_steps = 3000;
  /// Client operations the workload generates (before shrinking).
  std::size_t client_ops = 24;
  /// Planted bugs (planted bits).
  unsigned bugs = no_bug;
  /// Chances in per mille per step.
  unsigned crash_permille = 8;
  unsigned commit_failure_permille = 20;
  unsigned request_loss_permille = 30;
  unsigned provider_failure_permille = 150;
  /// Only these workload ops, by index (empty: all); what shrinking edits.
  std::vector<std::size_t> only_ops;
};

/// A rule that did not hold.
struct failure {
  std::uint64_t seed = 0;
  std::size_t step = 0;
  std::string rule;
  std::string detail;
  /// The events up to the failure, oldest first (at most 40).
  std::vector<std::string> last_events;
  /// What else the failing run was given besides its seed (for the replay
  /// command): options::bugs and options::only_ops.
  unsigned bugs = 0;
  std::vector<std::size_t> only_ops;
};

/// How a run went.
struct outcome {
  std::optional<failure> failed;
  std::size_t steps = 0;
  bool quiescent = false;
  /// Every event, one line each, when asked for (replay).
  std::vector<std::string> trace;
  /// Counts of what happened (for the report and for tests that must know
  /// a window was hit).
  std::size_t crashes = 0;
  std::size_t passivations = 0;
  std::size_t commit_failures = 0;
  std::size_t redeliveries = 0;
  std::size_t requests_lost = 0;
  std::size_t provider_failures = 0;
  std::size_t creates_acked = 0;
  std::size_t cancels_acked = 0;
  std::size_t payments_acked = 0;
  std::size_t refunds = 0;
  /// Client ops of the kinds that must not occur only by chance, counted
  /// when they are what they are meant to be: a declined payment; a pay
  /// sent after its order's deadline (and, of those, before the deadline
  /// timer cancelled the order); a cancel within the cooling period.
  std::size_t failed_pays = 0;
  std::size_t late_pays = 0;
  std::size_t late_pays_before_timeout = 0;
  std::size_t flash_cancels = 0;
};

/// Runs one simulation. `keep_trace`: fill outcome::trace.
outcome run(const options& o, bool keep_trace = false);

/// The smallest subset of the workload's ops (options::only_ops) that still
/// fails with the same rule, by delta debugging; `o` must fail. Its
/// only_ops lists exactly the ops the shrunk run sends.
options shrink(options o);

/// The client ops a run of `o` sends, in order, one line each ("op 5: pay
/// of op 2's order, txn-5"), numbered by their index in the seed's whole
/// workload (what options::only_ops holds).
std::vector<std::string> workload(const options& o);

/// The command that replays `o` (seed, planted bugs, op subset; the other
/// options at their defaults): "ORDO_SIM_SEED=N [ORDO_SIM_BUGS=a,b]
/// [ORDO_SIM_OPS=1,4,7] build/tests/sim/sim_test --run_test=sim/replay".
std::string replay_command(const options& o);

/// The options the replay variables name (null: unset; no seed: 42). Throws
/// std::invalid_argument on a value it cannot read.
options replay_options(const char* seed, const char* bugs, const char* ops);

/// A failure as the lines a test prints: seed, step, rule, detail, events,
/// and how to replay it.
std::string describe(const failure& f);

/// The planted bit named `name` ("skip_dedupe", ...), or nullopt.
std::optional<unsigned> planted_by_name(const std::string& name);

} // namespace ordo::sim
