#include "app/load/flows.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

namespace ordo::app::load {

namespace {

namespace beast = boost::beast;

/// Share of flash-cancel flows whose payment races the cancel.
constexpr double flash_pay_share = 0.3;

/// One flow runner: its connections and the flow it runs now.
struct runner {
  runner(asio::io_context& ioc, const tcp::resolver::results_type& where)
    : main(ioc, where), side(ioc, where), timer(ioc) {}

  connection main;
  connection side; ///< the second request of a race
  asio::steady_timer timer;
  // The current flow.
  order_record* rec = nullptr;
  time_point due;      ///< when it was due (open loop) or started
  time_point next_due; ///< open loop: when the next one is due
  bool counted = false;
  bool failed = false;
  std::string first_error;
  int pending = 0; ///< branches still running
  bool plan_pay = false;
};

/// Runs the load phase once. Confined to the thread that calls run().
class scheduler {
public:
  scheduler(const load_options& opts, const api& node, asio::io_context& ioc,
            const tcp::resolver::results_type& where, std::ostream& err,
            std::uint64_t seed)
    : opts_(opts), node_(node), ioc_(ioc), where_(where), err_(err),
      live_(::isatty(STDERR_FILENO) == 1), rng_(seed) {}

  load_outcome run() {
    for (std::size_t i = 0; i < opts_.connections; ++i) {
      runners_.push_back(std::make_unique<runner>(ioc_, where_));
    }
    start_ = clock_type::now();
    measure_from_ = start_ + std::chrono::milliseconds{opts_.warmup_ms};
    end_ = measure_from_ + std::chrono::milliseconds{opts_.duration_ms};
    if (opts_.rate > 0) {
      period_ = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(static_cast<double>(opts_.connections)
                                      / opts_.rate));
    }
    asio::signal_set signals{ioc_, SIGINT, SIGTERM};
    signals.async_wait([this](beast::error_code ec, int) {
      if (!ec) {
        interrupt();
      }
    });
    asio::steady_timer ticker{ioc_};
    on_idle_ = [&] {
      ticker.cancel();
      signals.cancel();
    };
    start_runners();
    std::function<void()> tick = [&] {
      ticker.expires_at(start_ + std::chrono::seconds{++ticks_});
      ticker.async_wait([&](beast::error_code ec) {
        // A tick already due when the last runner retired is not cancelled.
        if (!ec && active_ > 0) {
          progress();
          tick();
        }
      });
    };
    tick();
    ioc_.restart();
    ioc_.run();
    on_idle_ = nullptr;
    progress(true);
    runners_.clear();
    return finish();
  }

private:
  /// SIGINT or SIGTERM: the window ends now.
  void interrupt() {
    interrupted_ = true;
    end_ = std::max(measure_from_, std::min(end_, clock_type::now()));
    err_ << "\nordo load: interrupted, finishing the flows in flight\n";
    for (auto& r : runners_) {
      r->timer.cancel();
    }
  }

  /// Every runner on its first flow; in open loop, flow i is due at
  /// start + i/rate.
  void start_runners() {
    active_ = runners_.size();
    for (std::size_t i = 0; i < runners_.size(); ++i) {
      auto& r = *runners_[i];
      if (opts_.rate > 0) {
        r.next_due = start_
                     + std::chrono::duration_cast<clock_type::duration>(
                       std::chrono::duration<double>(static_cast<double>(i)
                                                     / opts_.rate));
      }
      next_flow(r);
    }
  }

  load_outcome finish() {
    auto& m = outcome_.figures;
    m.window_s = std::max(1e-3, seconds(end_ - measure_from_));
    m.interrupted = interrupted_;
    m.missed = missed_;
    return std::move(outcome_);
  }

  /// Starts the runner's next flow, waits for it to be due, or retires the
  /// runner when the run is over.
  void next_flow(runner& r) {
    auto now = clock_type::now();
    if (opts_.rate <= 0) {
      if (interrupted_ || now >= end_) {
        return retire();
      }
      return start_flow(r, now);
    }
    if (interrupted_ || now >= end_ || r.next_due >= end_) {
      if (r.next_due < end_ && !interrupted_) {
        missed_ += static_cast<std::uint64_t>(
          (end_ - r.next_due + period_ - clock_type::duration{1}) / period_);
      }
      return retire();
    }
    if (now >= r.next_due) {
      return start_flow(r, r.next_due); // late: latency counts from due
    }
    r.timer.expires_at(r.next_due);
    r.timer.async_wait([this, &r](beast::error_code) {
      next_flow(r); // on cancel (a signal) it retires
    });
  }

  void retire() {
    if (--active_ == 0 && on_idle_) {
      on_idle_();
    }
  }

  /// A new order's flow on `r`, due at `due`: draws its SKU and plan, then
  /// sends the create.
  void start_flow(runner& r, time_point due) {
    auto& records = outcome_.records;
    records.emplace_back();
    auto& rec = records.back();
    rec.n = records.size();
    rec.sku = static_cast<std::uint32_t>(rng_() % opts_.skus);
    r.rec = &rec;
    r.due = due;
    r.next_due = due + period_;
    r.counted = due >= measure_from_;
    r.failed = false;
    r.first_error.clear();
    r.pending = 0;
    double draw = unit_(rng_);
    r.plan_pay = opts_.workload == load_workload::flash_cancel
                   ? draw < flash_pay_share
                   : draw < opts_.pay_ratio;
    r.main.send(node_.create_request(rec), [this, &r](reply& rep) {
      on_created(r, rep);
    });
  }

  void on_created(runner& r, const reply& rep) {
    auto& rec = *r.rec;
    std::optional<std::string> error;
    if (rep.status == 201 || rep.status == 200) {
      auto order = created(body_of(rep));
      if (order) {
        rec.create = order_record::created::yes;
        rec.order_id = std::move(order->order_id);
        rec.payable = order->payable;
      } else {
        rec.create = order_record::created::unknown;
        error = std::to_string(rep.status) + " unreadable order";
      }
    } else {
      rec.create = rep.status == 0 || rep.status >= 500
                     ? order_record::created::unknown
                     : order_record::created::refused;
      error = error_kind(rep);
    }
    account(op_create, r, rep, r.due, error, "created");
    if (rec.create != order_record::created::yes) {
      return end_flow(r);
    }
    after_create(r);
  }

  /// The workload's requests after the create; the flow ends when all are
  /// answered.
  void after_create(runner& r) {
    auto join = [this, &r] {
      if (--r.pending == 0) {
        end_flow(r);
      }
    };
    switch (opts_.workload) {
      case load_workload::steady:
      case load_workload::hot_sku:
        r.pending = 1;
        if (r.plan_pay) {
          pay(r, r.main, false, join);
        } else {
          cancel(r, r.main, join);
        }
        return;
      case load_workload::flash_cancel:
        r.pending = r.plan_pay ? 2 : 1;
        if (r.plan_pay) {
          pay(r, r.side, false, join);
        }
        cancel(r, r.main, join);
        return;
      case load_workload::race:
        r.pending = 2;
        pay(r, r.main, false, [this, &r, join] {
          pay(r, r.main, true, join); // the provider retries the callback
        });
        cancel(r, r.side, join);
        return;
    }
  }

  void pay(runner& r, connection& c, bool retry, std::function<void()> then) {
    c.send(node_.payment_request(r.rec->order_id, r.rec->payable),
           [this, &r, retry, then = std::move(then)](reply& rep) {
             auto body = body_of(rep);
             auto a = payment_answer(rep, body);
             auto& rec = *r.rec;
             (retry ? rec.retry : rec.pay) = a;
             std::optional<std::string> error;
             if (a == answer::other || a == answer::unknown) {
               error = error_kind(rep, body);
               if (rep.status == 200) {
                 *error += " result=" + string_at(body, "result").value_or("?");
               }
             } else if (retry && a != answer::duplicate
                        && (rec.pay == answer::captured
                            || rec.pay == answer::refunded)) {
               error = std::string{"retry answered "} + to_string(a);
             }
             account(op_pay, r, rep, rep.sent, error, to_string(a));
             then();
           });
  }

  void cancel(runner& r, connection& c, std::function<void()> then) {
    c.send(node_.cancel_request(r.rec->order_id),
           [this, &r, then = std::move(then)](reply& rep) {
             auto body = body_of(rep);
             auto a = cancel_answer(rep, body);
             r.rec->cancel = a;
             std::optional<std::string> error;
             if (a == answer::other || a == answer::unknown) {
               error = error_kind(rep, body);
             }
             account(op_cancel, r, rep, rep.sent, error, to_string(a));
             then();
           });
  }

  void end_flow(runner& r) {
    ++flows_done_;
    if (r.counted) {
      auto& s = outcome_.figures.stats[op_flow];
      ++s.count;
      s.latency.record(micros(clock_type::now() - r.due));
      const auto& rec = *r.rec;
      const char* how = rec.create != order_record::created::yes ? "not_created"
                        : rec.pay == answer::captured            ? "paid"
                        : rec.cancel == answer::cancelled        ? "cancelled"
                                                                 : "unsettled";
      ++s.outcomes[how];
      if (r.failed) {
        ++s.errors;
        ++s.error_kinds[r.first_error];
      }
    }
    next_flow(r);
  }

  /// Counts one answered request of the runner's flow.
  void account(op o, runner& r, const reply& rep, time_point from,
               const std::optional<std::string>& error, const char* outcome) {
    ++requests_done_;
    if (error) {
      ++errors_seen_;
      if (!r.failed) {
        r.failed = true;
        r.first_error = std::string{op_names[o]} + " " + *error;
      }
    }
    if (!r.counted) {
      return;
    }
    auto& s = outcome_.figures.stats[o];
    ++s.count;
    if (rep.status != 0) {
      s.latency.record(micros(rep.done - from));
    }
    if (error) {
      ++s.errors;
      ++s.error_kinds[*error];
    } else {
      ++s.outcomes[outcome];
    }
  }

  /// The progress line, once a second: rates over the last second, errors
  /// since the start. `final`: the totals of the whole load instead.
  void progress(bool final = false) {
    auto now = clock_type::now();
    char line[200];
    if (final) {
      std::snprintf(line, sizeof line,
                    "ordo load: %5.1fs done     flows %llu  requests %llu  "
                    "errors %llu",
                    seconds(now - start_),
                    static_cast<unsigned long long>(flows_done_),
                    static_cast<unsigned long long>(requests_done_),
                    static_cast<unsigned long long>(errors_seen_));
    } else {
      auto since = last_tick_at_ == time_point{} ? start_ : last_tick_at_;
      double dt = std::max(1e-3, seconds(now - since));
      auto mid = since + (now - since) / 2; // the phase of the past second
      std::snprintf(
        line, sizeof line,
        "ordo load: %5.1fs %-8s flows/s %8.0f  req/s %8.0f  errors %llu",
        seconds(now - start_),
        mid < measure_from_ ? "warm-up" : (mid < end_ ? "measure" : "drain"),
        static_cast<double>(flows_done_ - last_flows_) / dt,
        static_cast<double>(requests_done_ - last_requests_) / dt,
        static_cast<unsigned long long>(errors_seen_));
      last_tick_at_ = now;
      last_flows_ = flows_done_;
      last_requests_ = requests_done_;
    }
    if (live_) {
      err_ << "\r" << line << "\033[K" << (final ? "\n" : "") << std::flush;
    } else {
      err_ << line << "\n";
    }
  }

  // Constant after construction.
  const load_options& opts_;
  const api& node_;
  asio::io_context& ioc_;
  const tcp::resolver::results_type& where_;
  std::ostream& err_;
  const bool live_;

  // Everything below is confined to the calling thread.
  std::vector<std::unique_ptr<runner>> runners_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  load_outcome outcome_; ///< records: a deque for stable addresses

  time_point start_, measure_from_, end_;
  clock_type::duration period_{0};
  std::size_t active_ = 0;
  std::function<void()> on_idle_;
  bool interrupted_ = false;
  std::uint64_t missed_ = 0;
  // Progress.
  long ticks_ = 0;
  std::uint64_t flows_done_ = 0;
  std::uint64_t requests_done_ = 0;
  std::uint64_t errors_seen_ = 0;
  time_point last_tick_at_;
  std::uint64_t last_flows_ = 0;
  std::uint64_t last_requests_ = 0;
};

} // namespace

load_outcome run_flows(const load_options& opts, const api& node,
                       asio::io_context& ioc,
                       const tcp::resolver::results_type& where,
                       std::ostream& err, std::uint64_t seed) {
  return scheduler{opts, node, ioc, where, err, seed}.run();
}

} // namespace ordo::app::load
