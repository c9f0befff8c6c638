#pragma once

// Request counts and latencies of one gateway, for GET /metrics:
// ordo_http_requests_total{route,method,status} and
// ordo_http_request_duration_seconds{route,method}. `route` is the
// registered pattern ("/v1/orders/{id}/cancel"), never the concrete path, so
// the number of series stays bounded.
//
// Threading: thread-safe; every method takes mu_ for a map lookup (a few
// string compares) and an increment.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.hpp"

namespace ordo::gateway::detail {

/// The route label of a request no pattern matched (404, 405, unreadable).
inline constexpr std::string_view unmatched_route = "unmatched";

class request_metrics {
public:
  /// Bucket upper bounds of request durations, in seconds.
  static const std::vector<double>& duration_bounds();

  request_metrics();
  ~request_metrics();
  request_metrics(const request_metrics&) = delete;
  request_metrics& operator=(const request_metrics&) = delete;

  /// Counts one answered request that took `seconds` from being read to its
  /// reply being handed to the connection.
  void record(std::string_view route, std::string_view method, unsigned status,
              double seconds);

  /// Requests counted for (route, method, status); 0 if none.
  std::uint64_t count(std::string_view route, std::string_view method,
                      unsigned status) const;

  /// The duration histogram of (route, method); all counts 0 if none.
  storage::histogram_data durations(std::string_view route,
                                    std::string_view method) const;

  /// Both families in the Prometheus text format, with HELP and TYPE lines
  /// even when nothing was recorded; series sorted by their labels.
  std::string prometheus_text() const;

private:
  struct tables;

  mutable std::mutex mu_;
  std::unique_ptr<tables> tables_; // guarded by mu_ (the pointer is constant)
};

} // namespace ordo::gateway::detail
