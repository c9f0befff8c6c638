#pragma once

// Bugs the deterministic simulator plants in the state machines to prove
// that its checks find them (tests/sim/). Only a build with
// ORDO_PLANTED_BUGS defined — the simulator's own copy of actors/ — can turn
// one on; everywhere else `on` is a constant false and each planted branch
// is dead code the compiler drops.
//
// Threading: set before a simulation runs, read by its one thread.

namespace ordo::actors::planted {

enum bug : unsigned {
  /// The order takes a repeated payment callback (same txn) as a new one.
  pay_without_dedupe = 1u << 0,
  /// The SKU returns a released reservation's units but keeps the
  /// reservation, so a repeated release returns them again.
  release_keeps_reservation = 1u << 1,
  /// The new-order SMS is due at once, not at the end of the cooling
  /// period, so it may go out for an order cancelled within that period.
  /// (An order checks its own status when its SMS is due, in its own
  /// turn, and a cancel suppresses the SMS in the cancel's turn: skipping
  /// either check alone can no longer send an SMS a cancel should stop.)
  sms_before_cooling = 1u << 2,
  /// The affiliate settles the commission of a cancelled order instead of
  /// voiding it.
  cancel_settles_commission = 1u << 3,
  /// The SKU counts the reservation margin back from the order's payment
  /// deadline instead of after it, so the reservation expires before the
  /// deadline and a payment accepted on time finds its units gone.
  reservation_expires_early = 1u << 4,
};

#ifdef ORDO_PLANTED_BUGS
/// The bugs on now (bits of `bug`).
extern unsigned bugs;
inline bool on(bug b) noexcept {
  return (bugs & b) != 0;
}
#else
constexpr bool on(bug) noexcept {
  return false;
}
#endif

} // namespace ordo::actors::planted
