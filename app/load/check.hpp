#pragma once

// The load generator's consistency check, after the load: it waits for the
// node to settle, reads back every order, SKU and provider call of the run
// and holds them against what the flows were told (the rules are listed at
// the top of app/load.hpp).
//
// Threading: confined to the thread that runs the load.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "app/load.hpp"
#include "app/load/api.hpp"
#include "app/load/client.hpp"

namespace ordo::app::load {

/// Violations printed (and kept in the JSON) by the check.
constexpr std::size_t max_examples = 20;

/// The check's verdict and the facts it counted.
struct check_result {
  bool ran = false;
  bool settled = false;
  std::int64_t backlog = -1; ///< the outbox backlog at the last poll
  std::uint64_t orders = 0;
  std::uint64_t paid = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t pending = 0;
  std::uint64_t refunds = 0;
  std::uint64_t closes = 0;
  std::uint64_t retried_creates = 0;
  std::size_t skus = 0;
  std::map<std::string, std::uint64_t> violations;
  std::vector<std::string> examples;

  bool passed() const {
    return ran && violations.empty();
  }

  /// Counts a breach of `rule`; `detail` names the culprit.
  void violate(const std::string& rule, const std::string& detail);
};

/// Judges one order read back (`order`, GET /v1/orders/{id}) against what
/// its flow was told; records violations in `out` and returns its status.
std::string judge_order(const order_record& rec, const json& order,
                        check_result& out);

/// What the check needs besides the run's records: the options, the
/// requests, the connections to the node and the SKUs' counters at setup.
struct check_context {
  const load_options& opts;
  const api& node;
  pool& connections;
  const std::vector<sku_counts>& baseline;
};

/// Runs the check over `records`, the run's orders; an unanswered create
/// is sent again to learn its order, which updates its record.
check_result check(const check_context& ctx, std::deque<order_record>& records);

} // namespace ordo::app::load
