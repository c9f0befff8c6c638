#pragma once

// The auditor's runtime side (rule 13): takes a snapshot of stored state
// (one scan per actor kind; the relay's backlog says who is still
// settling), runs actors::auditor::audit, delivers the heals through the
// router, and raises alerts for what it found: counters (metrics), one
// structured log line per violation on stderr, and an optional POST of the
// report to an alert webhook. Runs on its own thread: every `interval`, and
// on request.
//
// Cost: a run reads every stored order, SKU, coupon and affiliate into
// memory; fine for an on-demand audit and a schedule of minutes, not for a
// tight loop.
//
// Threading: thread-safe; audits run one at a time on the internal thread.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "actors/auditor.hpp"
#include "runtime/clock.hpp"
#include "runtime/detail/counters.hpp"
#include "runtime/detail/http_post.hpp"
#include "runtime/detail/relay.hpp"
#include "runtime/detail/sink.hpp"

namespace ordo::storage {
class store;
}

namespace ordo::runtime::detail {

struct audit_options {
  /// Between scheduled runs; 0 = only on request. Default: 5 min.
  actors::millis interval = 5 * 60'000;
  actors::auditor::config rules;
  /// "http://HOST:PORT/PATH" to POST reports with violations to; "" = none.
  std::string alert_webhook;
};

/// Loads every stored SKU, coupon, affiliate and technicians pool into `s`,
/// and of the orders those the audit under `rules` needs (see auditor.hpp):
/// `s.now`, `s.elsewhere` and the actors known to be settling so far are
/// the caller's, set before.
void load_state(storage::store& db, actors::auditor::snapshot& s,
                const actors::auditor::config& rules);

class audit_service {
public:
  using done_fn = std::function<void(const actors::auditor::report&)>;

  /// Everything passed in must outlive the service. Fails (nullptr, `*err`)
  /// on a bad webhook URL.
  static std::unique_ptr<audit_service>
  start(storage::store& db, relay& outbox, const router& targets, clock& time,
        counters& metrics, audit_options opts, std::string* err);

  ~audit_service();

  /// Runs an audit on the service's thread and calls `done` there.
  void request(done_fn done);

  /// Stops the thread; pending requests are answered with an empty report.
  /// Idempotent.
  void stop();

private:
  audit_service(storage::store& db, relay& outbox, const router& targets,
                clock& time, counters& metrics, audit_options opts,
                std::unique_ptr<http_poster> webhook);

  void run();
  actors::auditor::report audit_once();
  actors::auditor::snapshot take_snapshot();
  void alert(const actors::auditor::report& r);

  // Constant after construction.
  storage::store& db_;
  relay& outbox_;
  const router& targets_;
  clock& time_;
  counters& metrics_;
  const audit_options opts_;
  const std::unique_ptr<http_poster> webhook_;

  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::deque<done_fn> requests_;
  bool stopping_ = false;
  std::uint64_t runs_ = 0; ///< names heal messages uniquely

  std::thread thread_;
};

} // namespace ordo::runtime::detail
