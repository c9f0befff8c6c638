// `ordo load`, the entry (app/load.hpp): setup, then the load phase
// (flows), the check and the report, each in its own file under app/load/.

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <utility>
#include <vector>

#include "app/load.hpp"
#include "app/load/api.hpp"
#include "app/load/check.hpp"
#include "app/load/client.hpp"
#include "app/load/flows.hpp"
#include "app/load/report.hpp"

namespace ordo::app {

std::optional<load_workload> parse_workload(std::string_view text) noexcept {
  if (text == "steady") {
    return load_workload::steady;
  }
  if (text == "flash-cancel") {
    return load_workload::flash_cancel;
  }
  if (text == "race") {
    return load_workload::race;
  }
  if (text == "hot-sku") {
    return load_workload::hot_sku;
  }
  return std::nullopt;
}

const char* to_string(load_workload w) noexcept {
  switch (w) {
    case load_workload::steady: return "steady";
    case load_workload::flash_cancel: return "flash-cancel";
    case load_workload::race: return "race";
    case load_workload::hot_sku: return "hot-sku";
  }
  return "?";
}

namespace load {
namespace {

/// Connections of the pool that setup and the check send their batches on.
constexpr std::size_t max_pool = 32;

/// The options as the run uses them: hot-sku has one SKU.
load_options effective(load_options opts) {
  if (opts.workload == load_workload::hot_sku) {
    opts.skus = 1;
  }
  return opts;
}

/// Best effort: up to 2 sockets a runner need descriptors; without them,
/// sockets beyond the limit fail to connect and show up as "net" errors.
void raise_fd_limit() {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    static_cast<void>(::setrlimit(RLIMIT_NOFILE, &lim));
  }
}

/// Runs one `ordo load`: setup, load, check, report. Confined to the thread
/// that calls run().
class generator {
public:
  generator(const load_options& opts, std::ostream& out, std::ostream& err,
            std::random_device& rd, std::uint64_t seed)
    : opts_(effective(opts)), out_(out), err_(err), node_(opts_, run_name(rd)),
      seed_(seed) {}

  int run() {
    std::ofstream json_out;
    if (!opts_.json_file.empty()) {
      json_out.open(opts_.json_file, std::ios::trunc);
      if (!json_out) {
        return cannot_write_json();
      }
    }
    if (!setup()) {
      return 1;
    }
    auto outcome = run_flows(opts_, node_, ioc_, where_, err_, seed_);
    check_result verdict;
    if (opts_.check) {
      verdict = check({opts_, node_, *pool_, baseline_}, outcome.records);
    }
    run_summary summary{opts_, node_.run(), outcome.figures, verdict};
    print_summary(out_, summary);
    if (json_out.is_open()) {
      json_out << summary_json(summary).dump(2) << "\n";
      json_out.close();
      if (!json_out) {
        return cannot_write_json();
      }
    }
    return !opts_.check || verdict.passed() ? 0 : 1;
  }

private:
  /// Eight hex digits that tell this run's users from other runs'.
  static std::string run_name(std::random_device& rd) {
    char run[16];
    std::snprintf(run, sizeof run, "%08x", rd());
    return run;
  }

  int cannot_write_json() {
    err_ << "ordo load: --json: cannot write " << opts_.json_file << "\n";
    return 2;
  }

  /// Resolves the node, puts the SKUs, reads their baseline and probes the
  /// payment secret; prints why not and returns false when it cannot.
  bool setup() {
    raise_fd_limit();
    try {
      tcp::resolver resolver{ioc_};
      where_ = resolver.resolve(opts_.host, std::to_string(opts_.port));
    } catch (const std::exception& e) {
      err_ << "ordo load: cannot resolve " << opts_.host << ": " << e.what()
           << "\n";
      return false;
    }
    pool_ = std::make_unique<pool>(
      ioc_, where_, std::min<std::size_t>(opts_.connections, max_pool));
    return put_skus() && read_baseline() && probe_secret();
  }

  /// Says why setup failed at `what` (answered `r`); returns false.
  bool fails(const std::string& what, const reply& r) {
    err_ << "ordo load: http://" << node_.host_header() << ": " << what << ": "
         << (r.status == 0 ? r.failure
                           : std::to_string(r.status) + " " + r.body)
         << "\n";
    if (r.status == 401) {
      err_ << "ordo load: give the node's admin token (--admin-token or "
              "ORDO_ADMIN_TOKEN)\n";
    }
    return false;
  }

  /// `method` on every SKU of the run, with `body`; the answers by SKU.
  std::vector<reply> on_skus(std::string_view method, const std::string& body) {
    std::vector<reply> answers(opts_.skus);
    pool_->batch(
      opts_.skus,
      [&](std::size_t k) {
        return node_.admin_request(method, "/v1/skus/" + api::sku_name(k),
                                   body);
      },
      [&](std::size_t k, reply& r) {
        answers[k] = std::move(r);
      });
    return answers;
  }

  /// PUT the SKUs "load-<k>" with the run's price and stock.
  bool put_skus() {
    auto body = json{{"price", sku_price}, {"stock", sku_stock}}.dump();
    auto answers = on_skus("PUT", body);
    for (std::size_t k = 0; k < opts_.skus; ++k) {
      if (answers[k].status != 200) {
        return fails("PUT /v1/skus/" + api::sku_name(k), answers[k]);
      }
    }
    return true;
  }

  /// The SKUs' counters before the load, which the check compares with.
  bool read_baseline() {
    auto answers = on_skus("GET", {});
    baseline_.resize(opts_.skus);
    for (std::size_t k = 0; k < opts_.skus; ++k) {
      auto counts = parse_sku(answers[k].body);
      if (answers[k].status != 200 || !counts) {
        return fails("GET /v1/skus/" + api::sku_name(k), answers[k]);
      }
      baseline_[k] = *counts;
    }
    return true;
  }

  /// A callback for an order that does not exist: 404 once the signature
  /// is accepted, 401 when the secret is wrong.
  bool probe_secret() {
    auto probe = pool_->fetch(
      node_.payment_request("load-" + node_.run() + "-probe", 1));
    if (probe.status == 401) {
      err_ << "ordo load: the node refuses the payment signature: give its "
              "--payment-secret (or ORDO_PAYMENT_SECRET)\n";
      return false;
    }
    if (probe.status != 404) {
      return fails("probing POST /v1/payments/callback", probe);
    }
    return true;
  }

  // Constant after construction.
  const load_options opts_;
  std::ostream& out_;
  std::ostream& err_;
  const api node_;
  const std::uint64_t seed_;

  // Confined to the calling thread.
  asio::io_context ioc_;
  tcp::resolver::results_type where_;
  std::unique_ptr<pool> pool_; ///< setup and check
  std::vector<sku_counts> baseline_;
};

} // namespace
} // namespace load

int run_load(const load_options& opts, std::ostream& out, std::ostream& err) {
  try {
    std::random_device rd;
    auto seed = opts.seed != 0 ? opts.seed : (std::uint64_t{rd()} << 32) | rd();
    load::generator g{opts, out, err, rd, seed};
    return g.run();
  } catch (const std::exception& e) {
    err << "ordo load: " << e.what() << "\n";
    return 1;
  }
}

} // namespace ordo::app
