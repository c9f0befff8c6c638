#include "app/load/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

namespace ordo::app::load {

namespace {

using ojson = nlohmann::ordered_json;

/// `x` rounded to `digits` decimals (for JSON that people read).
double rounded(double x, int digits) {
  double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

double ms(std::uint64_t us) {
  return static_cast<double>(us) / 1000.0;
}

double per_s(std::uint64_t n, const measurement& m) {
  return static_cast<double>(n) / m.window_s;
}

/// Requests answered in the window: creates, payments and cancels.
std::uint64_t requests(const measurement& m) {
  return m.stats[op_create].count + m.stats[op_pay].count
         + m.stats[op_cancel].count;
}

void print_heading(std::ostream& out, const run_summary& s) {
  const auto& opts = s.opts;
  out << "ordo load: " << to_string(opts.workload) << ", ";
  if (opts.rate > 0) {
    out << "open loop at " << opts.rate << " flows/s over ";
  } else {
    out << "closed loop over ";
  }
  out << opts.connections << " connections, " << rounded(s.figures.window_s, 2)
      << " s measured after " << static_cast<double>(opts.warmup_ms) / 1000
      << " s warm-up" << (s.figures.interrupted ? " (interrupted)" : "")
      << ", run " << s.run << "\n";
}

/// One row per operation, then the rates of requests and flows.
void print_table(std::ostream& out, const measurement& m) {
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %9s %10s %9s %9s %9s %9s %9s %8s\n",
                "op", "count", "per s", "p50 ms", "p90 ms", "p99 ms",
                "p99.9 ms", "max ms", "errors");
  out << line;
  for (std::size_t o = 0; o < op_count; ++o) {
    const auto& s = m.stats[o];
    const auto& h = s.latency;
    std::snprintf(line, sizeof line,
                  "%-8s %9llu %10.1f %9.2f %9.2f %9.2f %9.2f %9.2f %8llu\n",
                  op_names[o], static_cast<unsigned long long>(s.count),
                  per_s(s.count, m), ms(h.quantile(0.5)), ms(h.quantile(0.9)),
                  ms(h.quantile(0.99)), ms(h.quantile(0.999)), ms(h.max()),
                  static_cast<unsigned long long>(s.errors));
    out << line;
  }
  std::snprintf(line, sizeof line,
                "requests %.1f/s; flows %.1f/s; missed (open loop, not "
                "started in time) %llu\n",
                per_s(requests(m), m), per_s(m.stats[op_flow].count, m),
                static_cast<unsigned long long>(m.missed));
  out << line;
}

void print_outcomes(std::ostream& out, const measurement& m) {
  out << "outcomes:";
  for (std::size_t o = 0; o < op_count; ++o) {
    out << " " << op_names[o];
    for (const auto& [k, n] : m.stats[o].outcomes) {
      out << " " << k << "=" << n;
    }
    out << (o + 1 < op_count ? ";" : "\n");
  }
  bool any = false;
  for (std::size_t o = 0; o < op_flow; ++o) {
    for (const auto& [k, n] : m.stats[o].error_kinds) {
      out << (any ? "; " : "errors: ") << op_names[o] << " " << k << " x" << n;
      any = true;
    }
  }
  out << (any ? "\n" : "errors: none\n");
}

void print_verdict(std::ostream& out, const check_result& v) {
  std::ostringstream facts;
  facts << v.orders << " orders (" << v.paid << " PAID, " << v.cancelled
        << " CANCELLED, " << v.pending << " pending), " << v.skus << " SKUs, "
        << v.refunds << " refunds, " << v.closes << " closes";
  if (v.retried_creates > 0) {
    facts << ", " << v.retried_creates << " unanswered creates retried";
  }
  if (v.passed()) {
    out << "check: passed: " << facts.str() << "\n";
    return;
  }
  std::uint64_t total = 0;
  for (const auto& [rule, n] : v.violations) {
    total += n;
  }
  out << "check: FAILED: " << total << " violation(s):";
  for (const auto& [rule, n] : v.violations) {
    out << " " << rule << "=" << n;
  }
  out << "; " << facts.str() << "\n";
  for (const auto& e : v.examples) {
    out << "  " << e << "\n";
  }
}

ojson operations_json(const measurement& m) {
  ojson ops = ojson::object();
  for (std::size_t o = 0; o < op_count; ++o) {
    const auto& s = m.stats[o];
    const auto& h = s.latency;
    auto ms3 = [](std::uint64_t us) {
      return rounded(ms(us), 3);
    };
    ops[op_names[o]] = {{"count", s.count},
                        {"per_s", rounded(per_s(s.count, m), 1)},
                        {"errors", s.errors},
                        {"latency_ms",
                         {{"p50", ms3(h.quantile(0.5))},
                          {"p90", ms3(h.quantile(0.9))},
                          {"p99", ms3(h.quantile(0.99))},
                          {"p99_9", ms3(h.quantile(0.999))},
                          {"max", ms3(h.max())},
                          {"mean", rounded(h.mean() / 1000.0, 3)}}},
                        {"outcomes", s.outcomes},
                        {"errors_by_code", s.error_kinds}};
  }
  return ops;
}

ojson verdict_json(const check_result& v) {
  return {{"ran", true},           {"passed", v.passed()},
          {"settled", v.settled},  {"orders", v.orders},
          {"paid", v.paid},        {"cancelled", v.cancelled},
          {"pending", v.pending},  {"refunds", v.refunds},
          {"closes", v.closes},    {"retried_creates", v.retried_creates},
          {"skus", v.skus},        {"violations", v.violations},
          {"examples", v.examples}};
}

} // namespace

// --- histogram
// -----------------------------------------------------------------

void histogram::record(std::int64_t us) {
  auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(us, 0));
  auto i = index(v);
  if (i >= counts_.size()) {
    counts_.resize(i + 1, 0);
  }
  ++counts_[i];
  ++total_;
  sum_ += v;
  max_ = std::max(max_, v);
}

std::uint64_t histogram::quantile(double q) const {
  if (total_ == 0) {
    return 0;
  }
  auto rank
    = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
  rank = std::clamp<std::uint64_t>(rank, 1, total_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::min(lower(i) + (width(i) - 1) / 2, max_);
    }
  }
  return max_;
}

double histogram::mean() const {
  return total_ == 0 ? 0.0
                     : static_cast<double>(sum_) / static_cast<double>(total_);
}

std::size_t histogram::index(std::uint64_t v) {
  if (v < 128) {
    return static_cast<std::size_t>(v);
  }
  unsigned msb = 63 - static_cast<unsigned>(__builtin_clzll(v)); // >= 7
  unsigned shift = msb - 6;                                      // >= 1
  auto sub = v >> shift;                                         // in [64, 128)
  return 128 + (shift - 1) * 64 + static_cast<std::size_t>(sub - 64);
}

std::uint64_t histogram::lower(std::size_t i) {
  if (i < 128) {
    return i;
  }
  auto shift = (i - 128) / 64 + 1;
  return static_cast<std::uint64_t>((i - 128) % 64 + 64) << shift;
}

std::uint64_t histogram::width(std::size_t i) {
  return i < 128 ? 1 : std::uint64_t{1} << ((i - 128) / 64 + 1);
}

// --- the report
// ----------------------------------------------------------------

void print_summary(std::ostream& out, const run_summary& s) {
  print_heading(out, s);
  print_table(out, s.figures);
  print_outcomes(out, s.figures);
  if (!s.opts.check) {
    out << "check: skipped (--no-check)\n";
    return;
  }
  print_verdict(out, s.verdict);
}

ojson summary_json(const run_summary& s) {
  const auto& opts = s.opts;
  const auto& m = s.figures;
  ojson j{{"workload", to_string(opts.workload)},
          {"mode", opts.rate > 0 ? "open" : "closed"},
          {"connections", opts.connections},
          {"rate", opts.rate > 0 ? ojson(opts.rate) : ojson(nullptr)},
          {"duration_s", static_cast<double>(opts.duration_ms) / 1000},
          {"warmup_s", static_cast<double>(opts.warmup_ms) / 1000},
          {"measured_s", rounded(m.window_s, 3)},
          {"interrupted", m.interrupted},
          {"run", s.run},
          {"flows_per_s", rounded(per_s(m.stats[op_flow].count, m), 1)},
          {"requests_per_s", rounded(per_s(requests(m), m), 1)},
          {"missed", m.missed},
          {"operations", operations_json(m)}};
  j["check"] = opts.check ? verdict_json(s.verdict) : ojson{{"ran", false}};
  return j;
}

} // namespace ordo::app::load
