#pragma once

// The load generator's figures and its report of them: a latency histogram
// per operation, the summary table with the check's verdict on `out`, and
// the same as JSON (--json; bench/load.sh reads it).
//
// Threading: confined to the thread that runs the load.

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/load.hpp"
#include "app/load/check.hpp"

namespace ordo::app::load {

/// Latencies in microseconds, log-bucketed like HdrHistogram: exact below
/// 128 µs, then 64 linear sub-buckets per power of two (at most 1.6% off).
/// storage::le_histogram does not serve here: its buckets are fixed bounds
/// given up front and it keeps no maximum, while the report wants p99.9 and
/// the max of latencies anywhere from microseconds to seconds.
class histogram {
public:
  void record(std::int64_t us);

  std::uint64_t count() const {
    return total_;
  }

  /// The value at quantile `q` in (0, 1]: the middle of its bucket (never
  /// above the largest value recorded); 0 when empty.
  std::uint64_t quantile(double q) const;

  std::uint64_t max() const {
    return max_;
  }

  double mean() const;

private:
  static std::size_t index(std::uint64_t v);
  static std::uint64_t lower(std::size_t i);
  static std::uint64_t width(std::size_t i);

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

/// The operations the report has a row for; a flow is one order's requests.
enum op : std::size_t { op_create, op_pay, op_cancel, op_flow, op_count };
constexpr std::array<const char*, op_count> op_names{"create", "pay", "cancel",
                                                     "flow"};

/// One operation's figures over the measured window.
struct op_stats {
  histogram latency;        ///< answered requests (or finished flows)
  std::uint64_t count = 0;  ///< finished, errors included
  std::uint64_t errors = 0; ///< see error_kinds
  std::map<std::string, std::uint64_t> error_kinds;
  std::map<std::string, std::uint64_t> outcomes;
};

/// What the load phase measured.
struct measurement {
  std::array<op_stats, op_count> stats;
  /// The measured window, s (at least 1 ms).
  double window_s = 1e-3;
  /// Ended early by SIGINT or SIGTERM.
  bool interrupted = false;
  /// Open loop: flows due in the window that no runner started in time.
  std::uint64_t missed = 0;
};

/// What the report says about: the run's options and name, its figures and
/// the check's verdict (ignored without opts.check).
struct run_summary {
  const load_options& opts;
  const std::string& run;
  const measurement& figures;
  const check_result& verdict;
};

/// The summary table, outcomes, errors and the check's verdict.
void print_summary(std::ostream& out, const run_summary& s);

/// The summary as JSON (see bench/load.sh for a reader).
nlohmann::ordered_json summary_json(const run_summary& s);

} // namespace ordo::app::load
