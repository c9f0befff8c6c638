#include <boost/test/unit_test.hpp>

#include <string>
#include <thread>
#include <vector>

#include "gateway/detail/metrics.hpp"
#include "gateway/detail/request_metrics.hpp"

using namespace ordo::gateway::detail;
using ordo::storage::histogram_data;

namespace {

bool contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative_and_end_in_inf) {
  histogram_data h;
  h.bounds = {1, 2, 4};
  h.counts = {3, 0, 2, 1}; // the last is above 4
  h.sum = 17.5;
  h.count = 6;
  auto text = render_histogram("ordo_x", "An x.", h);
  BOOST_TEST(text
             == "# HELP ordo_x An x.\n"
                "# TYPE ordo_x histogram\n"
                "ordo_x_bucket{le=\"1\"} 3\n"
                "ordo_x_bucket{le=\"2\"} 3\n"
                "ordo_x_bucket{le=\"4\"} 5\n"
                "ordo_x_bucket{le=\"+Inf\"} 6\n"
                "ordo_x_sum 17.5\n"
                "ordo_x_count 6\n");
}

BOOST_AUTO_TEST_CASE(histogram_labels_come_before_le) {
  histogram_data h;
  h.bounds = {0.00025};
  h.counts = {1, 0};
  h.sum = 0.0001;
  h.count = 1;
  std::string out;
  append_histogram_samples(out, "ordo_y", "a=\"b\"", h);
  BOOST_TEST(out
             == "ordo_y_bucket{a=\"b\",le=\"0.00025\"} 1\n"
                "ordo_y_bucket{a=\"b\",le=\"+Inf\"} 1\n"
                "ordo_y_sum{a=\"b\"} 0.0001\n"
                "ordo_y_count{a=\"b\"} 1\n");
}

BOOST_AUTO_TEST_CASE(label_values_escape_backslash_quote_and_newline) {
  BOOST_TEST(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  BOOST_TEST(escape_label_value("/v1/orders/{id}") == "/v1/orders/{id}");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(request_metrics_unit)

BOOST_AUTO_TEST_CASE(requests_are_counted_by_route_method_and_status) {
  request_metrics m;
  m.record("/v1/orders/{id}", "GET", 200, 0.001);
  m.record("/v1/orders/{id}", "GET", 200, 0.002);
  m.record("/v1/orders/{id}", "GET", 404, 0.0001);
  m.record("/v1/orders", "POST", 201, 0.01);
  BOOST_TEST(m.count("/v1/orders/{id}", "GET", 200) == 2u);
  BOOST_TEST(m.count("/v1/orders/{id}", "GET", 404) == 1u);
  BOOST_TEST(m.count("/v1/orders", "POST", 201) == 1u);
  BOOST_TEST(m.count("/v1/orders", "GET", 200) == 0u);
  // Statuses share one duration histogram per route and method.
  BOOST_TEST(m.durations("/v1/orders/{id}", "GET").count == 3u);
}

BOOST_AUTO_TEST_CASE(durations_fall_into_le_buckets_bounds_inclusive) {
  request_metrics m;
  const auto& bounds = request_metrics::duration_bounds();
  m.record("/r", "GET", 200, bounds[0]); // exactly on a bound: le it
  m.record("/r", "GET", 200, 0.0);       // below the first bound
  m.record("/r", "GET", 200, 0.003);     // (0.0025, 0.005]
  m.record("/r", "GET", 200, 100.0);     // above every bound
  auto h = m.durations("/r", "GET");
  BOOST_TEST(h.bounds == bounds);
  BOOST_REQUIRE(h.counts.size() == bounds.size() + 1);
  BOOST_TEST(h.counts[0] == 2u);
  BOOST_TEST(h.counts[3] == 1u);
  BOOST_TEST(h.counts.back() == 1u);
  BOOST_TEST(h.count == 4u);
  BOOST_TEST(h.sum == bounds[0] + 0.003 + 100.0,
             boost::test_tools::tolerance(1e-12));
  auto none = m.durations("/other", "GET");
  BOOST_TEST(none.count == 0u);
  BOOST_TEST(none.counts.size() == bounds.size() + 1);
}

BOOST_AUTO_TEST_CASE(text_has_both_families_with_escaped_labels) {
  request_metrics m;
  auto empty = m.prometheus_text();
  BOOST_TEST(contains(empty, "# TYPE ordo_http_requests_total counter\n"));
  BOOST_TEST(
    contains(empty, "# TYPE ordo_http_request_duration_seconds histogram\n"));

  m.record(unmatched_route, "<unknown>", 400, 0.0002);
  m.record("/v1/\"odd\"", "PUT", 204, 0.3);
  auto text = m.prometheus_text();
  BOOST_TEST(contains(text, "ordo_http_requests_total{route=\"unmatched\","
                            "method=\"<unknown>\",status=\"400\"} 1\n"));
  BOOST_TEST(contains(text,
                      "ordo_http_requests_total{route=\"/v1/\\\"odd\\\"\","
                      "method=\"PUT\",status=\"204\"} 1\n"));
  BOOST_TEST(contains(text, "ordo_http_request_duration_seconds_bucket{route="
                            "\"unmatched\",method=\"<unknown>\",le=\"0.0005\"} "
                            "1\n"));
  BOOST_TEST(contains(text, "ordo_http_request_duration_seconds_bucket{route="
                            "\"/v1/\\\"odd\\\"\",method=\"PUT\",le=\"0.25\"} "
                            "0\n"));
  BOOST_TEST(contains(text, "ordo_http_request_duration_seconds_bucket{route="
                            "\"/v1/\\\"odd\\\"\",method=\"PUT\",le=\"0.5\"} "
                            "1\n"));
  BOOST_TEST(contains(text, "ordo_http_request_duration_seconds_count{route="
                            "\"/v1/\\\"odd\\\"\",method=\"PUT\"} 1\n"));
}

BOOST_AUTO_TEST_CASE(concurrent_records_are_all_counted) {
  request_metrics m;
  constexpr int threads = 4;
  constexpr int each = 2000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&m, t] {
      for (int i = 0; i < each; ++i) {
        m.record(t % 2 == 0 ? "/a" : "/b", "GET", 200, 0.001);
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  BOOST_TEST(m.count("/a", "GET", 200) == 2u * each);
  BOOST_TEST(m.count("/b", "GET", 200) == 2u * each);
  BOOST_TEST(m.durations("/a", "GET").count == 2u * each);
}

BOOST_AUTO_TEST_SUITE_END()
