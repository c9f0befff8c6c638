#pragma once

// GET /metrics: the node's figures in the Prometheus text exposition format
// (version 0.0.4). Counters end in _total; gauges are values now.
//
// Histograms follow Prometheus: cumulative `<name>_bucket{le="..."}` samples
// ending in `le="+Inf"`, then `<name>_sum` and `<name>_count`.
//
// Threading: pure functions.

#include <string>
#include <string_view>

#include "runtime/node.hpp"
#include "storage/store.hpp"

namespace ordo::gateway::detail {

/// The Content-Type of the exposition format.
inline constexpr const char* prometheus_content_type
  = "text/plain; version=0.0.4; charset=utf-8";

/// Every figure of `s` as Prometheus metrics named ordo_*, each with its
/// HELP and TYPE lines.
std::string prometheus_text(const runtime::node_stats& s);

/// `v` as a label value: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view v);

/// Appends the samples of one histogram series (no HELP/TYPE lines).
/// `labels` are preformatted and escaped (`route="/a",method="GET"`) or
/// empty; `le` is added after them. `h` follows storage::histogram_data's
/// contract.
void append_histogram_samples(std::string& out, std::string_view name,
                              std::string_view labels,
                              const storage::histogram_data& h);

/// A histogram family `name` with its HELP and TYPE lines and one unlabeled
/// series (e.g. "ordo_commit_batches" from commit_stats::group_sizes).
std::string render_histogram(std::string_view name, std::string_view help,
                             const storage::histogram_data& h);

} // namespace ordo::gateway::detail
