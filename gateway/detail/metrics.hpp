#pragma once

// GET /metrics: the node's figures in the Prometheus text exposition format
// (version 0.0.4). Counters end in _total; gauges are values now.
//
// Threading: pure functions.

#include <string>

#include "runtime/node.hpp"

namespace ordo::gateway::detail {

/// The Content-Type of the exposition format.
inline constexpr const char* prometheus_content_type
  = "text/plain; version=0.0.4; charset=utf-8";

/// Every figure of `s` as Prometheus metrics named ordo_*, each with its
/// HELP and TYPE lines.
std::string prometheus_text(const runtime::node_stats& s);

} // namespace ordo::gateway::detail
