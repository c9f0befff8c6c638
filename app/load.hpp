#pragma once

// `ordo load`: a load generator for a running node that speaks only the HTTP
// API (API.md) over keep-alive connections (Boost.Asio + Beast, async), then
// checks through the same API that everything it was told adds up.
//
// A run, in phases:
//   setup   PUT the SKUs "load-<k>" (price 100, stock 10^9) and read their
//           counters as the baseline; probe the payment secret
//   load    warm-up (not counted), then the measured window; then the
//           flows in flight finish and no new one starts
//   settle  poll GET /v1/admin/outbox until its backlog is 0 (bounded)
//   check   read back every order, SKU and provider call of the run
//
// Flows. Each flow is one order of a fresh user ("load-<run>-<n>", which is
// also its Idempotency-Key), one unit of one SKU, so the node's per-user
// rate limit and captcha never interfere. Workloads:
//   steady        create, then pay (a share `pay_ratio`) or cancel
//   flash-cancel  create, then cancel at once; in 30% of the flows the
//                 payment is sent concurrently with the cancel
//   race          create, then pay and cancel concurrently, then the same
//                 payment callback again (a provider retry: "duplicate")
//   hot-sku       steady, every flow on one SKU
// Payments are signed callbacks (X-Ordo-Signature) with txn "t-<order>" and
// amount = payable.
//
// Load model. `connections` runners each own one keep-alive connection
// (plus a second one for workloads that race two requests of a flow).
// Closed loop (rate == 0): each runner runs one flow after another. Open
// loop (rate > 0): flow i is due at start + i/rate and runner i %
// connections runs it; a runner still busy starts it late, and the create
// and flow latencies count from the due time, so queueing shows instead of
// being hidden (coordinated omission). Due flows a runner could not start
// before the end are reported as missed. Latencies of pay and cancel count
// from when they were sent.
//
// The check (check == true), after the node settles:
//   * every order's final status must follow from the answers: a payment
//     answered "captured" => PAID; a cancel answered 200 => CANCELLED, and
//     any payment answered "refunded"; never captured and cancelled; PAID
//     only after a payment, CANCELLED only after a cancel (or timeout);
//     a provider retry of an answered payment answers "duplicate"; the
//     order's payments match (one CAPTURED when PAID, REFUNDED when
//     refunded). Answers lost to the network allow either outcome;
//     creates without an answer are retried with the same key to learn
//     the order.
//   * per SKU: available + reserved + sold == stocked, and since setup sold
//     grew by the run's PAID orders and reserved by its pending ones.
//   * GET /v1/admin/sandbox/calls holds exactly one refund (by refund_id,
//     with the order's txn and payable) per refunded payment, none for a
//     paid order, and one close per cancelled order.
//
// Threading: run_load() does everything on the caller's thread.
//
// The implementation is under app/load/: client (HTTP connections), api
// (requests and reading their answers), flows (the load phase), check and
// report; run.cpp wires them.

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ordo::app {

/// What each flow does (see the top of this file).
enum class load_workload { steady, flash_cancel, race, hot_sku };

/// "steady", "flash-cancel", "race", "hot-sku"; nullopt for anything else.
std::optional<load_workload> parse_workload(std::string_view text) noexcept;

/// The flag spelling of `w`.
const char* to_string(load_workload w) noexcept;

struct load_options {
  /// The node, split from --url http://HOST:PORT. Required.
  std::string host;
  std::uint16_t port = 0;
  /// The other nodes of the same cluster (--node http://HOST:PORT, any
  /// number): the check also waits for their outboxes to empty and counts
  /// their built-in sandbox providers' calls. Default: none.
  std::vector<std::pair<std::string, std::uint16_t>> others;
  /// Bearer token of the admin endpoints (setup and check). Required.
  std::string admin_token;
  /// HMAC-SHA256 key of the payment callbacks. Default: "dev-secret".
  std::string payment_secret = "dev-secret";
  /// Default: steady.
  load_workload workload = load_workload::steady;
  /// Runners, each with its keep-alive connection. Default: 64.
  std::size_t connections = 64;
  /// Flows started per second (open loop); 0 = closed loop. Default: 0.
  double rate = 0;
  /// The measured window, ms. Default: 10 s.
  std::int64_t duration_ms = 10'000;
  /// Load before the measured window, not counted, ms. Default: 2 s.
  std::int64_t warmup_ms = 2'000;
  /// steady and hot-sku: the share of flows that pay (the rest cancel),
  /// in [0, 1]. Default: 0.8.
  double pay_ratio = 0.8;
  /// SKUs the flows spread over (hot-sku uses 1). Default: 16.
  std::size_t skus = 16;
  /// Where to write the summary as JSON; "" = nowhere. Default: "".
  std::string json_file;
  /// Whether to run the consistency check. Default: true.
  bool check = true;
  /// Seed of the generator's draws (SKU, pay or cancel); 0 = random.
  /// Default: 0.
  std::uint64_t seed = 0;
};

/// Runs the load and the check against the node. Progress goes to `err`
/// once a second, the summary table and the check's verdict to `out`.
/// Returns 0 when the check passed (or was skipped), 1 when it failed or the
/// run could not start (node unreachable, wrong token or secret), 2 when
/// the JSON file cannot be written.
int run_load(const load_options& opts, std::ostream& out, std::ostream& err);

} // namespace ordo::app
