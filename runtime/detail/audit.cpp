#include "runtime/detail/audit.hpp"

#include <chrono>
#include <future>
#include <set>

#include <nlohmann/json.hpp>

#include "log/log.hpp"
#include "runtime/detail/kinds.hpp"
#include "runtime/faults.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

namespace {

using actors::auditor::report;
using actors::auditor::snapshot;

/// Ledger kinds: loads every stored actor of `Kind` into `out` (by id),
/// headers and entries, in one scan of the kind's key range.
template <class Kind, class Map>
void load_all(storage::store& db, Map& out) {
  std::string prefix = std::string{Kind::name} + "/";
  db.scan(storage::cf::actors, prefix,
          [&](std::string_view key, std::string_view value) {
            std::string kind, id, suffix;
            if (!storage::keys::split_owned(key, &kind, &id, &suffix)
                || kind != Kind::name) {
              return true;
            }
            auto j = storage::codec::unpack(value);
            if (j.is_discarded()) {
              log::error("audit", "unreadable record of " + kind + "/"
                                    + actors::clip(id));
              return true;
            }
            auto& s = out[id];
            if (suffix.empty()) {
              // A header sorts before its entries ("id" < "id" NUL ...).
              j.get_to(s);
              Kind::init(s, id);
            } else if (suffix.rfind("e/", 0) == 0) {
              Kind::spec::entries_from_json(j, suffix.substr(2), s);
            }
            return true;
          });
}

/// Snapshot kinds: every key is a whole state; `each(id, state)` for each.
template <class Kind, class Fn>
void each_snapshot(storage::store& db, Fn each) {
  std::string prefix = std::string{Kind::name} + "/";
  db.scan(storage::cf::actors, prefix,
          [&](std::string_view key, std::string_view value) {
            std::string kind, id, suffix;
            if (!storage::keys::split_owned(key, &kind, &id, &suffix)
                || kind != Kind::name || !suffix.empty()) {
              return true;
            }
            auto j = storage::codec::unpack(value);
            if (!j.is_discarded()) {
              typename Kind::state st;
              j.get_to(st);
              each(id, std::move(st));
            }
            return true;
          });
}

/// The next `scope.sweep` order ids after `*scope.cursor`, to `each`;
/// the cursor wraps to the start after the last order.
template <class Fn>
void sweep_orders(storage::store& db, const order_scope& scope, Fn each) {
  if (scope.cursor == nullptr || scope.sweep == 0) {
    return;
  }
  std::string prefix = std::string{order_kind::name} + "/";
  std::string from = scope.cursor->empty() ? prefix : *scope.cursor + '\0';
  std::size_t n = 0;
  std::string last;
  db.scan_from(storage::cf::actors, prefix, from,
               [&](std::string_view key, std::string_view) {
                 std::string kind, id, suffix;
                 if (storage::keys::split_owned(key, &kind, &id, &suffix)
                     && kind == order_kind::name && suffix.empty()) {
                   each(id);
                   ++n;
                 }
                 last = key;
                 return n < scope.sweep;
               });
  *scope.cursor = n < scope.sweep ? std::string{} : last;
}

template <class Kind, class Map>
void load_snapshots(storage::store& db, Map& out) {
  each_snapshot<Kind>(db, [&](const std::string& id, auto st) {
    out[id] = std::move(st);
  });
}

std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false,
                                nlohmann::json::error_handler_t::replace);
}

} // namespace

audit_service::audit_service(storage::store& db, relay& outbox,
                             const switchboard& targets, clock& time,
                             counters& metrics, audit_options opts,
                             std::unique_ptr<http_poster> webhook)
  : db_(db), outbox_(outbox), targets_(targets), time_(time), metrics_(metrics),
    opts_(std::move(opts)), webhook_(std::move(webhook)) {}

std::unique_ptr<audit_service>
audit_service::start(storage::store& db, relay& outbox,
                     const switchboard& targets, clock& time, counters& metrics,
                     audit_options opts, std::string* err) {
  std::unique_ptr<http_poster> webhook;
  if (!opts.alert_webhook.empty()) {
    auto url = parse_http_url(opts.alert_webhook, "--alert-webhook", err);
    if (!url) {
      return nullptr;
    }
    http_post_options po;
    po.name = "alert webhook";
    webhook = http_poster::start(std::move(*url), po, err);
    if (!webhook) {
      return nullptr;
    }
  }
  std::unique_ptr<audit_service> a{new audit_service{
    db, outbox, targets, time, metrics, std::move(opts), std::move(webhook)}};
  a->thread_ = std::thread{[p = a.get()] {
    p->run();
  }};
  return a;
}

audit_service::~audit_service() {
  stop();
}

void audit_service::request(done_fn done) {
  {
    std::lock_guard<std::mutex> guard{mu_};
    if (!stopping_) {
      requests_.push_back(std::move(done));
      cv_.notify_all();
      return;
    }
  }
  done(audit_run{});
}

std::optional<audit_run> audit_service::last() const {
  std::lock_guard<std::mutex> guard{mu_};
  return last_;
}

void audit_service::stop() {
  {
    std::lock_guard<std::mutex> guard{mu_};
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  if (webhook_) {
    webhook_->stop();
  }
  std::deque<done_fn> left;
  {
    std::lock_guard<std::mutex> guard{mu_};
    left.swap(requests_);
  }
  for (auto& done : left) {
    done(audit_run{});
  }
}

void audit_service::run() {
  using namespace std::chrono;
  auto next = steady_clock::now() + milliseconds{opts_.interval};
  std::unique_lock<std::mutex> lock{mu_};
  while (!stopping_) {
    bool due = false;
    if (requests_.empty()) {
      if (opts_.interval > 0) {
        due = !cv_.wait_until(lock, next, [this] {
          return stopping_ || !requests_.empty();
        });
      } else {
        cv_.wait(lock, [this] {
          return stopping_ || !requests_.empty();
        });
      }
    }
    if (stopping_) {
      break;
    }
    std::deque<done_fn> waiting;
    waiting.swap(requests_);
    lock.unlock();
    auto run = audit_once(waiting.empty());
    for (auto& done : waiting) {
      done(run);
    }
    if (due || opts_.interval > 0) {
      next = steady_clock::now() + milliseconds{opts_.interval};
    }
    lock.lock();
  }
}

std::size_t load_state(storage::store& db, snapshot& s,
                       const actors::auditor::config& rules,
                       const order_scope* scope) {
  load_all<sku_kind>(db, s.skus);
  load_snapshots<coupon_kind>(db, s.coupons);
  load_all<affiliate_kind>(db, s.affiliates);
  std::map<std::string, actors::technicians::state> pools;
  load_all<technicians_kind>(db, pools);
  for (auto& [id, p] : pools) {
    s.pools.push_back(std::move(p));
  }
  // Fault point audit.before_orders (delay): turns run between the reads of
  // the other kinds and of the orders (tests; see take_snapshot).
  static_cast<void>(fault_hit("audit.before_orders"));
  // Orders last, streamed: only those the others name or whose own checks
  // find something stay (see auditor.hpp), not a million of them.
  auto named = actors::auditor::orders_named(s);
  std::size_t read = 0;
  auto keep = [&](const std::string& id, actors::order::state o) {
    ++read;
    if (named.count(id) > 0
        || actors::auditor::order_matters(s, rules, id, o)) {
      s.orders.emplace(id, std::move(o));
    }
  };
  if (scope == nullptr) {
    each_snapshot<order_kind>(db, keep);
    return read;
  }
  auto read_one = [&](const std::string& id) {
    if (s.orders.count(id) > 0) {
      return;
    }
    auto v
      = db.get(storage::cf::actors, storage::keys::owner(order_kind::name, id));
    auto j = v ? storage::codec::unpack(*v) : nlohmann::json{};
    if (v && !j.is_discarded()) {
      actors::order::state o;
      j.get_to(o);
      keep(id, std::move(o));
    }
  };
  for (const auto& id : named) {
    read_one(id);
  }
  if (scope->ids != nullptr) {
    for (const auto& id : *scope->ids) {
      read_one(id);
    }
  }
  sweep_orders(db, *scope, read_one);
  return read;
}

snapshot audit_service::take_snapshot(bool scheduled) {
  snapshot s;
  auto settling = [this](snapshot& into) {
    for (const auto& from : outbox_.senders()) {
      into.settling.insert(from.kind + "/" + from.id);
    }
  };
  // An actor with messages in flight at any moment of the scan is settling
  // (see auditor.hpp): those the relay holds before it and after it, and
  // every sender whose message was handed over in between. The scan reads
  // the SKUs before the orders, so without the watch an order paid while
  // it ran, its confirm delivered before it ended, is read PAID while its
  // SKU was read still holding the reservation: a "reservation held for
  // PAID order" that never existed at any one moment.
  outbox_.begin_watch();
  settling(s);
  s.now = time_.now();
  if (const auto* peers = targets_.peers()) {
    s.elsewhere = [peers](const actors::address& a) {
      return peers->elsewhere(a).has_value();
    };
  }
  std::size_t read = 0;
  auto touched = scheduled && opts_.touched != nullptr
                   ? opts_.touched->take()
                   : touched_orders::taken{{}, true};
  if (touched.all) {
    read = load_state(db_, s, opts_.rules);
  } else {
    order_scope scope{&touched.ids, &sweep_cursor_, opts_.sweep};
    read = load_state(db_, s, opts_.rules, &scope);
  }
  metrics_.add("audit_orders_read", read);
  // A turn's batch is visible to the scan from its write, and its messages
  // reach the relay in the batch's callback, on the commit thread, a moment
  // later: wait for the callbacks of every batch written so far.
  std::promise<void> passed;
  db_.commit(storage::batch{}, [&passed](const storage::status&) {
    passed.set_value();
  });
  passed.get_future().wait();
  settling(s);
  for (const auto& from : outbox_.end_watch()) {
    s.settling.insert(from.kind + "/" + from.id);
  }
  auto f = outbox_.stats();
  s.oldest_outbox_ms = f.oldest_ms;
  s.dead_letters = f.dead_letters;
  return s;
}

audit_run audit_service::audit_once(bool scheduled) {
  report r;
  try {
    r = actors::auditor::audit(take_snapshot(scheduled), opts_.rules);
  } catch (const std::exception& e) {
    r.violations.push_back({"audit_failed", "storage",
                            std::string{"cannot audit: "} + e.what(), false});
  }
  if (auto h = db_.health(); !h.writable) {
    r.violations.push_back({"storage_writable", "storage",
                            "writes are refused: " + h.reason, false});
  }
  auto run = ++runs_;
  for (std::size_t i = 0; i < r.heals.size(); ++i) {
    auto& h = r.heals[i];
    h.id = "audit#" + std::to_string(run) + "." + std::to_string(i);
    targets_.deliver(h, h.id, nullptr); // lost: the next run heals again
  }
  audit_run done{r, time_.now(), scheduled};
  {
    std::lock_guard<std::mutex> guard{mu_};
    last_ = done;
  }
  metrics_.add("audit_runs");
  metrics_.add("audit_violations", r.violations.size());
  metrics_.add("audit_heals", r.heals.size());
  alert(r);
  return done;
}

void audit_service::alert(const report& r) {
  for (const auto& v : r.violations) {
    log::write(v.healed ? log::level::warn : log::level::error, "audit",
               "violation rule=" + v.rule
                 + " subject=" + actors::clip(v.subject)
                 + " healed=" + (v.healed ? "true" : "false")
                 + " detail="
                 // A detail may quote a client's cancel reason.
                 + quoted(actors::clip(v.detail, 2 * actors::clip_length)));
  }
  if (!webhook_ || r.violations.empty()) {
    return;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& v : r.violations) {
    list.push_back({{"rule", v.rule},
                    {"subject", v.subject},
                    {"detail", v.detail},
                    {"healed", v.healed}});
  }
  // Best effort: an alert that cannot be delivered is still in the log
  // and the metrics.
  webhook_->post(
    "",
    nlohmann::json{{"source", "ordo audit"}, {"violations", list}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace),
    [](bool ok, const std::string& why) {
      if (!ok) {
        log::warn("audit", "alert webhook: " + why);
      }
    });
}

} // namespace ordo::runtime::detail
