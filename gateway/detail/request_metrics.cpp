#include "gateway/detail/request_metrics.hpp"

#include <map>
#include <tuple>
#include <utility>

#include "gateway/detail/metrics.hpp"

namespace ordo::gateway::detail {

namespace {

using count_key = std::tuple<std::string, std::string, unsigned>;
using duration_key = std::tuple<std::string, std::string>;

std::string labels(std::string_view route, std::string_view method) {
  return "route=\"" + escape_label_value(route) + "\",method=\""
         + escape_label_value(method) + '"';
}

} // namespace

struct request_metrics::tables {
  std::map<count_key, std::uint64_t, std::less<>> counts;
  std::map<duration_key, storage::le_histogram, std::less<>> durations;
};

const std::vector<double>& request_metrics::duration_bounds() {
  static const std::vector<double> bounds{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  return bounds;
}

request_metrics::request_metrics() : tables_(std::make_unique<tables>()) {}

request_metrics::~request_metrics() = default;

void request_metrics::record(std::string_view route, std::string_view method,
                             unsigned status, double seconds) {
  std::lock_guard<std::mutex> guard(mu_);
  auto& counts = tables_->counts;
  auto c = counts.find(std::make_tuple(route, method, status));
  if (c == counts.end()) {
    c = counts.emplace(count_key{route, method, status}, 0).first;
  }
  ++c->second;
  auto& durations = tables_->durations;
  auto d = durations.find(std::make_tuple(route, method));
  if (d == durations.end()) {
    d = durations
          .emplace(duration_key{route, method},
                   storage::le_histogram{duration_bounds()})
          .first;
  }
  d->second.observe(seconds);
}

std::uint64_t request_metrics::count(std::string_view route,
                                     std::string_view method,
                                     unsigned status) const {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = tables_->counts.find(std::make_tuple(route, method, status));
  return it == tables_->counts.end() ? 0 : it->second;
}

storage::histogram_data
request_metrics::durations(std::string_view route,
                           std::string_view method) const {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = tables_->durations.find(std::make_tuple(route, method));
  return it == tables_->durations.end()
           ? storage::le_histogram{duration_bounds()}.data()
           : it->second.data();
}

std::string request_metrics::prometheus_text() const {
  std::string out
    = "# HELP ordo_http_requests_total HTTP requests answered, by route "
      "pattern, method and status.\n"
      "# TYPE ordo_http_requests_total counter\n";
  std::lock_guard<std::mutex> guard(mu_);
  for (const auto& [key, n] : tables_->counts) {
    const auto& [route, method, status] = key;
    out += "ordo_http_requests_total{";
    out += labels(route, method);
    out += ",status=\"";
    out += std::to_string(status);
    out += "\"} ";
    out += std::to_string(n);
    out += '\n';
  }
  out += "# HELP ordo_http_request_duration_seconds Time from a request read "
         "to its reply handed to the connection.\n"
         "# TYPE ordo_http_request_duration_seconds histogram\n";
  for (const auto& [key, h] : tables_->durations) {
    append_histogram_samples(out, "ordo_http_request_duration_seconds",
                             labels(std::get<0>(key), std::get<1>(key)),
                             h.data());
  }
  return out;
}

} // namespace ordo::gateway::detail
