#pragma once

// The auditor's runtime side (rule 13): takes a snapshot of stored state
// (one scan per actor kind; the relay's backlog before and after it, and
// the senders it was handed while it ran, say who is still settling), runs
// actors::auditor::audit, delivers the heals through the switchboard, and
// raises alerts for what it found: counters (metrics), one
// log line of key=value pairs per violation (log/log.hpp), and an optional POST
// of the report to an alert webhook. Runs on its own thread: every `interval`,
// and on request.
//
// Cost: a run reads every stored SKU, coupon and affiliate. An on-demand
// run reads every stored order too; a scheduled one only the orders written
// since the last run (`touched_orders`), those the other kinds name, and a
// slice of a sweep that walks all orders over many runs, so its cost follows
// what changed, not the history. (An unchanged order can still turn bad
// through time or another actor; the sweep finds it within
// orders / sweep runs.) The first scheduled run after start-up reads all.
//
// Threading: thread-safe; audits run one at a time on the internal thread.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>

#include "actors/auditor.hpp"
#include "runtime/clock.hpp"
#include "runtime/detail/counters.hpp"
#include "runtime/detail/http_post.hpp"
#include "runtime/detail/relay.hpp"
#include "runtime/detail/sink.hpp"
#include "runtime/detail/touched.hpp"
#include "runtime/node.hpp"

namespace ordo::storage {
class store;
}

namespace ordo::runtime::detail {

/// Which orders a run reads besides those the other kinds name: every one
/// (no scope), or `ids` and the next `sweep` after `cursor`.
struct order_scope {
  const std::unordered_set<std::string>* ids = nullptr;
  /// The last order key the sweep read ("" = start over); advanced.
  std::string* cursor = nullptr;
  std::size_t sweep = 0;
};

struct audit_options {
  /// Between scheduled runs; 0 = only on request. Default: 5 min.
  actors::millis interval = 5 * 60'000;
  /// Orders written since the last run, fed by the order hosts; nullptr =
  /// every scheduled run reads every order. Not owned.
  touched_orders* touched = nullptr;
  /// Unchanged orders a scheduled run re-reads, walking all over many runs.
  /// Default: 20,000.
  std::size_t sweep = 20'000;
  actors::auditor::config rules;
  /// "http://HOST:PORT/PATH" to POST reports with violations to; "" = none.
  std::string alert_webhook;
};

/// Loads every stored SKU, coupon, affiliate and technicians pool into `s`,
/// and of the orders those the audit under `rules` needs (see auditor.hpp):
/// `s.now`, `s.elsewhere` and the actors known to be settling so far are
/// the caller's, set before. With `scope`, of the orders only those it
/// names are read (see order_scope). Returns the number of orders read.
std::size_t load_state(storage::store& db, actors::auditor::snapshot& s,
                       const actors::auditor::config& rules,
                       const order_scope* scope = nullptr);

class audit_service {
public:
  using done_fn = std::function<void(const audit_run&)>;

  /// Everything passed in must outlive the service. Fails (nullptr, `*err`)
  /// on a bad webhook URL.
  static std::unique_ptr<audit_service>
  start(storage::store& db, relay& outbox, const switchboard& targets,
        clock& time, counters& metrics, audit_options opts, std::string* err);

  ~audit_service();

  /// Runs an audit on the service's thread and calls `done` there with it
  /// (an empty report, at 0, once stopping).
  void request(done_fn done);

  /// The last run that finished (scheduled or requested); nullopt before
  /// the first.
  std::optional<audit_run> last() const;

  /// Stops the thread; pending requests are answered with an empty report.
  /// Idempotent.
  void stop();

private:
  audit_service(storage::store& db, relay& outbox, const switchboard& targets,
                clock& time, counters& metrics, audit_options opts,
                std::unique_ptr<http_poster> webhook);

  void run();
  /// `scheduled`: an incremental run (see the top of this file).
  audit_run audit_once(bool scheduled);
  actors::auditor::snapshot take_snapshot(bool scheduled);
  void alert(const actors::auditor::report& r);

  // Constant after construction.
  storage::store& db_;
  relay& outbox_;
  const switchboard& targets_;
  clock& time_;
  counters& metrics_;
  const audit_options opts_;
  const std::unique_ptr<http_poster> webhook_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::deque<done_fn> requests_;
  std::optional<audit_run> last_;
  bool stopping_ = false;
  std::uint64_t runs_ = 0; ///< names heal messages uniquely
  /// Where the scheduled runs' sweep goes on (audit thread only).
  std::string sweep_cursor_;

  std::thread thread_;
};

} // namespace ordo::runtime::detail
