#pragma once

// The load phase of `ordo load`: runners that each run one flow after
// another (closed loop) or the flows due at an open-loop rate, per the
// workload (see app/load.hpp for the flows and the load model), with a
// progress line once a second.
//
// Threading: confined to the caller's thread, which runs the io_context.

#include <cstdint>
#include <deque>
#include <iosfwd>

#include "app/load.hpp"
#include "app/load/api.hpp"
#include "app/load/client.hpp"
#include "app/load/report.hpp"

namespace ordo::app::load {

/// What the load phase leaves for the check and the report.
struct load_outcome {
  /// Every flow's order and what it was told, warm-up included.
  std::deque<order_record> records;
  measurement figures;
};

/// Runs the warm-up, the measured window and the flows still in flight at
/// its end (or at SIGINT/SIGTERM) on `ioc`, over connections to `where`,
/// with the progress line on `err`. `seed` seeds the draws of SKU and of pay
/// or cancel.
load_outcome run_flows(const load_options& opts, const api& node,
                       asio::io_context& ioc,
                       const tcp::resolver::results_type& where,
                       std::ostream& err, std::uint64_t seed);

} // namespace ordo::app::load
