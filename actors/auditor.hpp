#pragma once

// The auditor (DESIGN.md rule 13) as a pure function: given a snapshot of
// stored state, the rules that do not hold, and the messages that heal what
// is safe to heal. The runtime takes the snapshot (a scan of storage), runs
// `audit`, delivers the heals and raises the alerts.
//
// Checks (rule names as reported):
//   stock_conservation  a SKU's available + reserved + sold != stocked, a
//                       negative counter, or reserved != its reservations
//   orphaned_reservation a reservation held for an order that is not
//                       PENDING_PAYMENT (cancelled: heal "release"; no
//                       order and past its expiry: heal the expiry); a
//                       paid order's reservation is reported only
//   refund_owed         a CANCELLED order with a CAPTURED payment, or a
//                       REFUND_PENDING payment with nothing in the outbox
//                       to the provider: heal "reissue_refunds" to the order
//                       (the provider dedupes on refund_id)
//   coupon_holder       a coupon that is not consistent, LOCKED by an order
//                       that no longer holds it (cancelled: heal "release"),
//                       LOCKED for a paid order (heal "consume"), or USED by
//                       an order that never paid (reported)
//   commission_status   an entry whose status disagrees with its order
//                       (PENDING for a cancelled/refunded order: heal
//                       "invalidate"; PENDING for a completed one: heal
//                       "settle"; a missing entry: heal "pending"), or an
//                       affiliate whose sums disagree with its entries
//   technicians_load    the pool's loads disagree with its assignments
//   manual_intervention a split order whose cancel could not finish
//                       (reported with its reason; its coupon and stock are
//                       left for the operator)
//   outbox_age          an unacknowledged message older than the threshold
//   dead_letters        messages rejected permanently (need an operator)
//
// Clusters: each node audits what it stores; pairs split across nodes
// (an order here, its SKU there) are skipped, see snapshot::elsewhere.
//
// Races: a snapshot is taken while turns run. An order with messages still
// in its outbox at any moment of the scan (before it, after it, or handed
// to the relay while it ran: the scan reads the SKUs before the orders) is
// "settling" and its cross-actor checks are skipped (the
// relay is about to do what the auditor would; an actor with a dead letter
// waits for an operator, reported by the dead_letters rule); expiries are given
// a grace period. Every heal is a message the receiver handles idempotently, so
// healing something that healed itself meanwhile changes nothing.
//
// Threading: pure functions.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actors/attribution.hpp"
#include "actors/coupon.hpp"
#include "actors/dispatcher.hpp"
#include "actors/inventory.hpp"
#include "actors/order.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::auditor {

/// Stored state, by id.
struct snapshot {
  millis now = 0;
  std::map<std::string, order::state> orders;
  std::map<std::string, inventory::state> skus;
  std::map<std::string, coupon::state> coupons;
  std::map<std::string, attribution::state> affiliates;
  std::vector<technicians::state> pools;
  /// Actors ("kind/id") that had unacknowledged outbox messages at some
  /// moment of the scan.
  std::set<std::string> settling;
  /// Age of the oldest unacknowledged outbox message, and how many dead
  /// letters are kept.
  millis oldest_outbox_ms = 0;
  std::size_t dead_letters = 0;
  /// In a cluster: true for actors another node keeps. A check that pairs
  /// an actor here with one of those is skipped (this snapshot cannot see
  /// it, and "not found" must not read as "gone"). Empty = all are here.
  std::function<bool(const address&)> elsewhere;
};

struct config {
  /// Expired reservations and locks are healed only this long after their
  /// expiry (their own timer normally fires first). Default: 60 s.
  millis grace = 60'000;
  /// Outbox messages older than this are a violation. Default: 10 min.
  millis outbox_age = 10 * 60'000;
  /// The commission rate in millionths (to heal a missing "pending").
  std::int64_t commission_ppm = 50'000;
};

struct violation {
  std::string rule;
  /// "kind/id" of the actor concerned.
  std::string subject;
  std::string detail;
  /// A heal was sent for it.
  bool healed = false;
};

struct report {
  std::vector<violation> violations;
  /// Messages that heal what was found; ids left empty for the runtime.
  std::vector<envelope> heals;

  /// Nothing is left broken: every violation found (if any) was healed.
  bool ok() const noexcept {
    for (const auto& v : violations) {
      if (!v.healed) {
        return false;
      }
    }
    return true;
  }
};

/// Checks `s` against the rules above.
report audit(const snapshot& s, const config& cfg);

// An audit without every order in memory. The checks of one order read
// only the order itself and the other kinds; the checks of the other kinds
// read the orders they name. So `audit` reports the same with `s.orders`
// cut to the orders `orders_named` lists and those `order_matters` keeps
// (more settling actors only ever skip more checks).

/// The orders the SKUs, coupons and affiliates of `s` name.
std::set<std::string> orders_named(const snapshot& s);
/// True if a check of order `o` alone reports something in `s` (whose
/// `orders` may be empty).
bool order_matters(const snapshot& s, const config& cfg, const std::string& id,
                   const order::state& o);

} // namespace ordo::actors::auditor
