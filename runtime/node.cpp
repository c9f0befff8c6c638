#include "runtime/node.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "runtime/clock.hpp"
#include "runtime/detail/audit.hpp"
#include "runtime/detail/builtin_provider.hpp"
#include "runtime/detail/host.hpp"
#include "runtime/detail/http_post.hpp"
#include "runtime/detail/http_provider.hpp"
#include "runtime/detail/inspect.hpp"
#include "runtime/detail/kinds.hpp"
#include "runtime/detail/oplog.hpp"
#include "runtime/detail/readers.hpp"
#include "runtime/detail/relay.hpp"
#include "runtime/detail/sms.hpp"
#include "runtime/detail/timers.hpp"
#include "runtime/faults.hpp"
#include "runtime/ids.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime {

namespace {

using namespace detail;

actors::millis steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
    .count();
}

actors::error unknown_kind(const std::string& kind) {
  std::string known;
  for (const auto& k : actor_kinds()) {
    known += (known.empty() ? "" : ", ") + k;
  }
  return {actors::errc::not_found,
          "no actor kind '" + kind + "' (kinds: " + known + ")"};
}

/// `cb` called exactly once (detail::exactly_once): with the reply, or with
/// `unavailable` if the mail carrying it is dropped unanswered (its actor
/// stopped).
template <class T>
callback<T> guard(callback<T> cb) {
  return exactly_once<actors::result<T>>(
    std::move(cb),
    actors::error{actors::errc::unavailable, "the request was dropped; retry"});
}

/// `cb`, run once everything written before its answer is durable: every
/// answer of the node leaves the process through here, so no client hears
/// of a write a crash of the machine could still undo (docs/durability.md).
template <class T>
callback<T> released(storage::store& db, callback<T> cb) {
  return [&db, cb = std::move(cb)](actors::result<T> r) {
    db.after_durable([cb, r = std::move(r)]() mutable {
      cb(std::move(r));
    });
  };
}

/// The creates of rule 10 admitted and not yet answered, per user, behind
/// one of a few locks (by user): a user's admissions are decided one at a
/// time, so two concurrent creates never both take the last slot.
struct admission_gate {
  std::mutex mu;
  /// user -> order id -> when admitted.
  std::unordered_map<std::string, std::map<std::string, actors::millis>>
    in_flight;
};

class admission_gates {
public:
  admission_gate& of(const std::string& user) {
    return gates_[std::hash<std::string>{}(user) % gates_.size()];
  }

private:
  std::array<admission_gate, 16> gates_;
};

/// A mail whose reply is the state after the turn.
template <class Kind>
mail<Kind> state_mail(typename Kind::input in,
                      callback<typename Kind::state> cb) {
  mail<Kind> m;
  m.in = std::move(in);
  m.want_state = true;
  m.done = [g = guard(std::move(cb))](const turn_reply& r,
                                      const typename Kind::state* s) {
    if (r.err) {
      g(*r.err);
    } else {
      g(*s);
    }
  };
  return m;
}

template <class State>
actors::result<State> read_snapshot(storage::store& db, const char* kind,
                                    const std::string& id) {
  auto bytes = db.get(storage::cf::actors, storage::keys::owner(kind, id));
  if (!bytes) {
    return actors::error{actors::errc::not_found,
                         std::string{kind} + " " + id + " not found"};
  }
  auto j = storage::codec::unpack(*bytes);
  try {
    if (j.is_discarded()) {
      throw std::runtime_error{"not MessagePack"};
    }
    return j.get<State>();
  } catch (const std::exception& e) {
    return actors::error{actors::errc::internal,
                         "unreadable " + std::string{kind} + " " + id};
  }
}

class node_impl final : public node {
public:
  explicit node_impl(node_options opts) : opts_(std::move(opts)) {
    time_ = opts_.time ? opts_.time : std::make_shared<system_clock>();
  }

  ~node_impl() override {
    stop();
  }

  bool open(std::string* err) {
    std::unique_ptr<http_provider> provider;
    std::unique_ptr<sms_sink> sms;
    // Before storage opens: a bad option or URL fails fast and touches
    // nothing.
    if (!check_options(err) || !start_adapters(provider, sms, err)
        || !open_store(err)) {
      return false;
    }
    readers_ = std::make_unique<readers>(opts_.reader_threads);
    relay_ = std::make_unique<relay>(*db_, switchboard_, relay_settings());
    timers_ = std::make_unique<timer_service>(*time_, switchboard_);
    if (provider) {
      provider_ = std::move(provider);
    } else {
      builtin_provider_
        = std::make_unique<builtin_provider>(*db_, switchboard_);
    }
    sms_ = sms ? std::move(sms) : sms_sink::log_sink(*db_, switchboard_);
    start_actors();
    connect_sinks();
    sms_->load();
    timers_->load(*db_);
    relay_->load();
    relay_->start();
    timers_->start();
    audit_ = audit_service::start(*db_, *relay_, switchboard_, *time_, metrics_,
                                  audit_settings(), err);
    if (!audit_) {
      return false;
    }
    ready_ = true;
    return true;
  }

  bool check_options(std::string* err) const {
    const char* why = nullptr;
    if (opts_.journal_keep < 1) {
      why = "journal_keep must be at least 1";
    } else if (opts_.outbox_backoff_cap < 1) {
      why = "outbox_backoff_cap must be positive";
    } else if (opts_.dedupe_retention < 60'000) {
      why = "dedupe_retention must be at least 1 min";
    } else if (opts_.reader_threads < 1) {
      why = "reader_threads must be at least 1";
    }
    if (why != nullptr) {
      *err = why;
    }
    return why == nullptr;
  }

  /// The HTTP adapters of --payment-provider and --sms-webhook, if given.
  bool start_adapters(std::unique_ptr<http_provider>& provider,
                      std::unique_ptr<sms_sink>& sms, std::string* err) {
    if (!opts_.payment_provider.empty()) {
      http_provider_options po;
      po.url = opts_.payment_provider;
      provider = http_provider::start(po, switchboard_, err);
      if (!provider) {
        return false;
      }
    }
    if (!opts_.sms_webhook.empty()) {
      sms = sms_sink::start_webhook(opts_.sms_webhook, switchboard_, err);
      if (!sms) {
        return false;
      }
    }
    return true;
  }

  bool open_store(std::string* err) {
    storage::store_options so;
    so.path = opts_.data_dir;
    so.sync = opts_.sync;
    so.min_free_bytes = opts_.min_free_disk;
    so.fault = opts_.store_fault ? opts_.store_fault : storage_fault_hook();
    fault_ = so.fault;
    so.dedupe_retention_ms = opts_.dedupe_retention;
    so.now = [time = time_] {
      return time->now();
    };
    db_ = storage::store::open(so, err);
    return db_ && check_partitions(err);
  }

  relay_options relay_settings() const {
    relay_options ro;
    // Half the retention: the rest is margin for clock skew between nodes
    // and for the time a delivery spends on its way.
    ro.max_age = opts_.dedupe_retention / 2;
    ro.now = [time = time_] {
      return time->now();
    };
    ro.bounded = [](const actors::address& to) {
      return to.kind != "payment" && to.kind != "sms";
    };
    ro.give_up_after = opts_.external_give_up;
    ro.backoff_cap = opts_.outbox_backoff_cap;
    ro.backoff_base = std::min(ro.backoff_base, ro.backoff_cap);
    return ro;
  }

  /// The services every host uses, the actor system, and one directory of
  /// hosts per kind.
  void start_actors() {
    env_.db = db_.get();
    env_.time = time_.get();
    env_.outbox = relay_.get();
    env_.timers = timers_.get();
    env_.targets = &switchboard_;
    env_.passivate_after = std::chrono::milliseconds{opts_.passivate_after};
    env_.metrics = &metrics_;
    env_.touched = opts_.audit_interval > 0 ? &touched_ : nullptr;
    env_.journal_keep = opts_.journal_keep;
    auto& cfg = caf_config_;
    // Work sharing: the default work-stealing scheduler spins on 2 cores
    // when non-actor threads feed it (MEASUREMENTS.md).
    cfg.set("scheduler.policy", caf::atom("sharing"));
    cfg.set("scheduler.max-threads", opts_.scheduler_threads);
    system_ = std::make_unique<caf::actor_system>(cfg);
    // The rate limit is counted by admit() from the order index.
    rate_.max_orders = opts_.rate_limit;
    rate_.window = opts_.rate_window;
    open_directories();
  }

  /// Where messages to other nodes and to the external adapters go, and
  /// the gate that holds what leaves the process until it is durable.
  void connect_sinks() {
    switchboard_.set_remote(opts_.cluster);
    if (provider_) {
      switchboard_.add_external("payment", provider_.get());
    } else {
      switchboard_.add_external("payment", builtin_provider_.get());
    }
    switchboard_.add_external("sms", sms_.get());
    switchboard_.set_gate([db = db_.get()](std::function<void()> fn) {
      db->after_durable(std::move(fn));
    });
  }

  audit_options audit_settings() {
    audit_options ao;
    ao.interval = opts_.audit_interval;
    ao.touched = opts_.audit_interval > 0 ? &touched_ : nullptr;
    ao.sweep = opts_.audit_sweep;
    ao.alert_webhook = opts_.alert_webhook;
    ao.rules.commission_ppm = opts_.commission_ppm;
    return ao;
  }

  /// The partition count is fixed for a data directory (order ids name
  /// their partition): the first start records it, later ones must match.
  bool check_partitions(std::string* err) {
    if (opts_.partitions < 1 || opts_.partitions > 65536) {
      *err = "partitions must be in 1..65536 (an order id names its "
             "partition in 4 hex digits)";
      return false;
    }
    static const std::string key = "meta/partitions";
    auto stored = db_->get(storage::cf::aux, key);
    if (!stored) {
      storage::batch b;
      b.put(storage::cf::aux, key, storage::keys::be64(opts_.partitions));
      auto s = db_->commit_sync(std::move(b));
      if (!s.ok()) {
        *err = "cannot record the partition count: " + s.message();
        return false;
      }
      return true;
    }
    auto n = storage::keys::from_be64(*stored);
    if (n != std::optional<std::uint64_t>{opts_.partitions}) {
      *err = "the data in " + opts_.data_dir + " was written with --partitions "
             + (n ? std::to_string(*n) : std::string{"?"}) + ", not "
             + std::to_string(opts_.partitions)
             + ": order ids name their partition, so the count of a data "
               "directory cannot change";
      return false;
    }
    return true;
  }

  void put_sku(const std::string& sku, actors::inventory::put cmd,
               callback<actors::inventory::state> cb) override {
    cb = released(*db_, std::move(cb));
    dir<sku_kind>().send(sku, state_mail<sku_kind>(cmd, std::move(cb)));
  }

  void get_sku(const std::string& sku,
               callback<actors::inventory::state> cb) override {
    reading(released(*db_, std::move(cb)), [this, sku](const auto& cb) {
      auto r
        = read_snapshot<actors::inventory::state>(*db_, sku_kind::name, sku);
      if (r.ok() && !r->exists) {
        r = actors::error{actors::errc::not_found, "sku " + sku + " not found"};
      }
      cb(r.ok()
           ? actors::result<actors::inventory::state>{sku_kind::view(r.value())}
           : r);
    });
  }

  void create_order(const std::string& idempotency_key,
                    actors::order::create cmd,
                    callback<created_order> cb) override {
    cb = released(*db_, std::move(cb));
    auto id = order_id(cmd.user_id, idempotency_key, opts_.partitions);
    bool limited = opts_.rate_limit > 0 || opts_.captcha_after > 0;
    if (!limited) {
      send_create(id, std::move(cmd), std::move(cb));
      return;
    }
    reading(std::move(cb), [this, id, cmd = std::move(cmd)](const auto& cb) {
      if (exists(id)) {
        // A retry of an existing order is answered by it, never limited.
        send_create(id, cmd, cb);
        return;
      }
      admit(id, cmd, cb);
    });
  }

  /// Rule 10 for a new order. The rate limit counts the user's orders in
  /// the window from their index plus the creates admitted and not yet
  /// answered (`admissions_`), in memory: no turn, no write. Only a user
  /// whose last orders were cancelled in a run long enough for a captcha
  /// goes through their limiter actor, which keeps the challenge.
  void admit(const std::string& id, actors::order::create cmd,
             callback<created_order> cb) {
    auto user = cmd.user_id;
    auto now = time_->now();
    std::vector<actors::millis> run;
    // Decided under the user's gate, answered after it is let go.
    std::optional<actors::result<created_order>> refused;
    {
      auto& gate = admissions_.of(user);
      std::lock_guard<std::mutex> guard{gate.mu};
      std::vector<actors::millis> recent;
      try {
        run = recent_orders(user, gate, recent);
        if (auto retry = actors::limiter::over_rate(recent, rate_, now)) {
          auto why = actors::limiter::rate_limited(rate_, *retry);
          created_order out;
          out.refused = admission_refusal{};
          out.refused->code = why.code;
          out.refused->message = std::move(why.message);
          out.refused->retry_after_ms = *retry;
          refused = std::move(out);
        } else {
          gate.in_flight[user][id] = now;
        }
      } catch (const std::exception& e) {
        refused = actors::error{actors::errc::internal, e.what()};
      }
    }
    if (refused) {
      if (refused->ok()) {
        metrics_.add("order_rate_limited");
      }
      cb(std::move(*refused));
      return;
    }
    // Answered: the order is in the index now, or was never made.
    auto done
      = [this, id, user, cb = std::move(cb)](actors::result<created_order> r) {
          {
            auto& gate = admissions_.of(user);
            std::lock_guard<std::mutex> guard{gate.mu};
            auto i = gate.in_flight.find(user);
            if (i != gate.in_flight.end() && i->second.erase(id) > 0
                && i->second.empty()) {
              gate.in_flight.erase(i);
            }
          }
          cb(std::move(r));
        };
    if (opts_.captcha_after == 0 || run.size() < opts_.captcha_after) {
      send_create(id, std::move(cmd), std::move(done));
      return;
    }
    ask_limiter(id, std::move(run), std::move(cmd), std::move(done));
  }

  /// The captcha of rule 10: the user's limiter actor decides.
  void ask_limiter(const std::string& id, std::vector<actors::millis> run,
                   actors::order::create cmd, callback<created_order> cb) {
    actors::limiter::admit a;
    a.order_id = id;
    a.cancel_run = std::move(run);
    if (!cmd.captcha_id.empty()) {
      a.captcha = actors::limiter::answer{cmd.captcha_id, cmd.captcha_answer};
    }
    auto user = cmd.user_id;
    mail<limiter_kind> m;
    m.in = std::move(a);
    auto g = guard(std::move(cb));
    m.done = [this, g, id, cmd = std::move(cmd)](
               const turn_reply& r, const actors::limiter::state*) mutable {
      if (!r.err) {
        send_create(id, std::move(cmd), g);
        return;
      }
      if (r.err->code != actors::errc::captcha_required) {
        g(*r.err);
        return;
      }
      admission_refusal refused;
      refused.code = r.err->code;
      refused.message = r.err->message;
      if (auto c = r.reply.find("challenge"); c != r.reply.end()) {
        refused.challenge_id = c->value("id", "");
        refused.question = c->value("question", "");
      }
      created_order out;
      out.refused = std::move(refused);
      g(std::move(out));
    };
    dir<limiter_kind>().send(user, std::move(m));
  }

  /// The user's newest orders from the index (as many as rule 10 looks
  /// at), with the creates of `gate` in flight: when each was made goes to
  /// `recent`; the user's run of cancels (limiter::cancel_run) is returned.
  /// Throws on an unreadable index entry.
  std::vector<actors::millis>
  recent_orders(const std::string& user, const admission_gate& gate,
                std::vector<actors::millis>& recent) {
    std::vector<actors::limiter::recent_order> newest;
    auto in_flight = gate.in_flight.find(user);
    auto want = std::max<std::size_t>(opts_.rate_limit, opts_.captcha_after);
    auto prefix = storage::keys::user_orders(user);
    db_->scan(storage::cf::aux, prefix,
              [&](std::string_view key, std::string_view value) {
                auto o = read_index_entry(value);
                auto order
                  = key.substr(std::min(key.size(), prefix.size() + 8));
                if (in_flight == gate.in_flight.end()
                    || in_flight->second.count(std::string{order}) == 0) {
                  recent.push_back(o.created_at); // else counted below
                }
                newest.push_back({o.st, o.cancel_reason, o.created_at});
                return newest.size() < want;
              });
    if (in_flight != gate.in_flight.end()) {
      for (const auto& [order, at] : in_flight->second) {
        recent.push_back(at);
      }
    }
    if (opts_.captcha_after == 0) {
      return {};
    }
    return actors::limiter::cancel_run(newest, opts_.captcha_after);
  }

  void send_create(const std::string& id, actors::order::create cmd,
                   callback<created_order> cb) {
    mail<order_kind> m;
    m.in = std::move(cmd);
    m.want_state = true;
    m.done = [g = guard(std::move(cb))](const turn_reply& r,
                                        const actors::order::state* s) {
      if (r.err) {
        g(*r.err);
      } else {
        created_order c;
        c.order = *s;
        c.created = r.result != "existing" && r.result != "joined";
        g(std::move(c));
      }
    };
    dir<order_kind>().send(id, std::move(m));
  }

  void get_order(const std::string& order_id,
                 callback<actors::order::state> cb) override {
    reading(released(*db_, std::move(cb)), [this, order_id](const auto& cb) {
      cb(read_snapshot<actors::order::state>(*db_, order_kind::name, order_id));
    });
  }

  void user_orders(const std::string& user_id, std::size_t limit,
                   const std::string& cursor,
                   callback<user_orders_page> cb) override {
    cb = released(*db_, std::move(cb));
    auto prefix = storage::keys::user_orders(user_id);
    auto from = prefix;
    if (!cursor.empty()) {
      auto raw = storage::codec::unhex(cursor);
      if (!raw || raw->size() < 9) {
        cb(actors::error{actors::errc::bad_request,
                         "cursor is not one this server gave out"});
        return;
      }
      from += *raw;
    }
    reading(std::move(cb), [this, prefix, from, limit](const auto& cb) {
      cb(user_orders_from(prefix, from, limit));
    });
  }

  /// Up to `limit` entries of the index `prefix`, from key `from` on.
  /// Throws on an unreadable entry.
  user_orders_page user_orders_from(const std::string& prefix,
                                    const std::string& from,
                                    std::size_t limit) {
    user_orders_page page;
    std::string last;
    bool more = false;
    db_->scan_from(storage::cf::aux, prefix, from,
                   [&](std::string_view key, std::string_view value) {
                     if (page.orders.size() == limit) {
                       more = true;
                       return false;
                     }
                     auto o = read_index_entry(value);
                     auto rest = key.substr(prefix.size());
                     user_order u;
                     u.order_id = std::string{rest.substr(8)};
                     u.status = o.st;
                     u.payable = o.payable;
                     u.created_at = o.created_at;
                     page.orders.push_back(std::move(u));
                     last = std::string{rest};
                     return true;
                   });
    if (more) {
      // Resume just after the last key listed.
      page.next_cursor = storage::codec::hex(last + std::string(1, '\0'));
    }
    return page;
  }

  void sales(std::size_t top_n, callback<sales_report> cb) override {
    reading(released(*db_, std::move(cb)), [this, top_n](const auto& cb) {
      std::vector<actors::reports::state> shards;
      for (std::uint32_t p = 0;
           p < std::max<std::uint32_t>(opts_.partitions, 1); ++p) {
        actors::reports::state s;
        report_kind::restore(*db_, actors::reports::shard_name(p), s);
        shards.push_back(std::move(s));
      }
      cb(sales_report{actors::reports::merge(shards, top_n),
                      opts_.flash_window});
    });
  }

  void cancel_order(const std::string& order_id, actors::order::cancel cmd,
                    callback<actors::order::state> cb) override {
    cb = released(*db_, std::move(cb));
    to_order(order_id, std::move(cmd), std::move(cb));
  }

  void complete_order(const std::string& order_id,
                      callback<actors::order::state> cb) override {
    cb = released(*db_, std::move(cb));
    to_order(order_id, actors::order::complete{}, std::move(cb));
  }

  void refund_order(const std::string& order_id,
                    callback<actors::order::state> cb) override {
    cb = released(*db_, std::move(cb));
    to_order(order_id, actors::order::refund{}, std::move(cb));
  }

  void payment_callback(const std::string& order_id, actors::order::pay cmd,
                        callback<payment_result> cb) override {
    known_order(order_id, released(*db_, std::move(cb)),
                [this, order_id, cmd](const auto& cb) {
                  mail<order_kind> m;
                  m.in = cmd;
                  m.want_state = true;
                  m.done = [g = guard(cb)](const turn_reply& r,
                                           const actors::order::state* s) {
                    if (r.err) {
                      g(*r.err);
                    } else {
                      g(payment_result{r.result, *s});
                    }
                  };
                  dir<order_kind>().send(order_id, std::move(m));
                });
  }

  void put_coupon(const std::string& coupon_id, actors::coupon::put cmd,
                  callback<actors::coupon::state> cb) override {
    cb = released(*db_, std::move(cb));
    dir<coupon_kind>().send(
      coupon_id, state_mail<coupon_kind>(std::move(cmd), std::move(cb)));
  }

  void get_coupon(const std::string& coupon_id,
                  callback<actors::coupon::state> cb) override {
    reading(released(*db_, std::move(cb)), [this, coupon_id](const auto& cb) {
      auto r = read<coupon_kind>(coupon_id);
      if (r.ok() && !r->exists) {
        r = actors::error{actors::errc::not_found,
                          "coupon " + coupon_id + " not found"};
      }
      cb(std::move(r));
    });
  }

  void notifications(const std::string& order_id,
                     callback<actors::notifier::state> cb) override {
    reading(released(*db_, std::move(cb)), [this, order_id](const auto& cb) {
      // One read of the order answers whether it exists and where its SMS
      // is (one being created is in memory only: its notifier has nothing
      // yet).
      auto order = read<order_kind>(order_id);
      if (!order.ok()) {
        cb(order.err());
      } else if (auto sms = actors::order::sms_of(order.value())) {
        cb(std::move(*sms));
      } else if (order->st == actors::order::status::none
                 && !dir<order_kind>().active(order_id)) {
        cb(no_order(order_id));
      } else {
        cb(read<notifier_kind>(order_id));
      }
    });
  }

  void dispatches(const std::string& order_id,
                  callback<actors::dispatcher::state> cb) override {
    reading(released(*db_, std::move(cb)), [this, order_id](const auto& cb) {
      cb(exists(order_id) ? read<dispatcher_kind>(order_id)
                          : no_order(order_id));
    });
  }

  void commissions(const std::string& affiliate_id,
                   callback<actors::attribution::state> cb) override {
    reading(released(*db_, std::move(cb)),
            [this, affiliate_id](const auto& cb) {
              cb(read<affiliate_kind>(affiliate_id));
            });
  }

  // The adapters' logs (sandbox_calls, sms_log) are what the outside
  // received, so they are answered without waiting for an fsync, as
  // before; the tests of the durable gate read them while it is held.
  void sandbox_calls(callback<std::vector<provider_call>> cb) override {
    reading(std::move(cb), [this](const auto& cb) {
      cb(builtin_provider_ ? builtin_provider_->calls()
                           : std::vector<provider_call>{});
    });
  }

  void inspect(const std::string& kind, const std::string& id,
               callback<actor_view> cb) override {
    reading(released(*db_, std::move(cb)), [this, kind, id](const auto& cb) {
      actor_view v;
      v.kind = kind;
      v.id = id;
      if (!read_stored(*db_, v, opts_.journal_keep)) {
        cb(unknown_kind(kind));
        return;
      }
      cb(with_memory(std::move(v)));
    });
  }

  /// `v`, read from storage, with what only memory knows: its mailbox and
  /// the relay's messages from it.
  actor_view with_memory(actor_view v) {
    auto* dir = directory_of(v.kind);
    v.mailbox_size = dir->mailbox_size(v.id);
    v.active = v.mailbox_size >= 0;
    auto now = steady_ms();
    for (auto& m : relay_->messages_of({v.kind, v.id})) {
      v.outbox.push_back(view_of(std::move(m), now));
    }
    return v;
  }

  void audit(callback<audit_run> cb) override {
    cb = released(*db_, std::move(cb));
    audit_->request([cb = std::move(cb)](const audit_run& run) {
      cb(run);
    });
  }

  std::vector<outbox_message> outbox(bool dead, std::size_t limit) override {
    std::vector<outbox_message> out;
    auto now = steady_ms();
    for (auto& m : relay_->messages(dead, limit)) {
      out.push_back(view_of(std::move(m), now));
    }
    return out;
  }

  std::vector<outbox_destination> outbox_destinations() override {
    std::vector<outbox_destination> out;
    for (auto& d : relay_->destinations()) {
      out.push_back({std::move(d.to), d.pending, d.oldest_ms, d.attempts_max,
                     std::move(d.last_error)});
    }
    return out;
  }

  void retry_dead_letter(std::uint64_t seq, const std::string& who,
                         callback<std::uint64_t> cb) override {
    cb = released(*db_, std::move(cb));
    storage::batch b;
    append(b, {time_->now(), who, "dead_letter.retry",
               "outbox/" + std::to_string(seq), "moved back into the outbox"});
    relay_->revive(seq, std::move(b), std::move(cb));
  }

  void discard_dead_letter(std::uint64_t seq, const std::string& who,
                           callback<std::uint64_t> cb) override {
    cb = released(*db_, std::move(cb));
    storage::batch b;
    append(b, {time_->now(), who, "dead_letter.discard",
               "outbox/" + std::to_string(seq), ""});
    relay_->discard(seq, std::move(b), std::move(cb));
  }

  void record_action(operator_action a) override {
    if (a.at == 0) {
      a.at = time_->now();
    }
    storage::batch b;
    append(b, a);
    db_->commit(std::move(b), [](const storage::status& s) {
      s.ignore(); // the trail is best effort; the action itself stands
    });
  }

  void operator_log(std::size_t limit,
                    callback<std::vector<operator_action>> cb) override {
    reading(released(*db_, std::move(cb)), [this, limit](const auto& cb) {
      cb(read_oplog(*db_, limit));
    });
  }

  std::optional<audit_run> last_audit() override {
    return audit_->last();
  }

  void sms_log(callback<std::vector<sent_sms>> cb) override {
    reading(std::move(cb), [this](const auto& cb) {
      std::vector<sent_sms> out;
      for (auto& r : sms_->sent()) {
        out.push_back({std::move(r.notification_id), std::move(r.order_id),
                       std::move(r.template_name), std::move(r.text),
                       r.received});
      }
      cb(std::move(out));
    });
  }

  void receive(const actors::envelope& msg, std::string dedupe_id,
               remote_done done) override {
    done = [db = db_.get(), done = std::move(done)](turn_reply r) {
      db->after_durable([done, r = std::move(r)]() mutable {
        done(std::move(r));
      });
    };
    if (!ready_) {
      turn_reply r;
      r.err = actors::error{actors::errc::unavailable, "starting up"};
      done(std::move(r));
      return;
    }
    switchboard_.deliver_here(
      msg, std::move(dedupe_id),
      answer_once([done = std::move(done)](const turn_reply& r) {
        done(r);
      }));
  }

  void peer_up(const std::string& node_id) override {
    if (relay_ == nullptr || opts_.cluster == nullptr) {
      return;
    }
    auto* cluster = opts_.cluster;
    relay_->retry_now([&](const actors::address& to) {
      return cluster->elsewhere(to) == std::optional<std::string>{node_id};
    });
  }

  node_stats stats() const override {
    node_stats s;
    s.active_orders = dir<order_kind>().size();
    s.active_skus = dir<sku_kind>().size();
    for (auto* d : directories()) {
      s.active_others += d->size();
      s.activations += d->activations();
      s.mailbox_depth += d->mailbox_depth();
      s.passivations += d->passivations();
    }
    s.active_others -= s.active_orders + s.active_skus;
    s.timers_pending = timers_->pending();
    auto r = relay_->stats();
    s.outbox_backlog = r.backlog;
    s.outbox_delivered = r.delivered;
    s.outbox_attempts = r.attempts;
    s.outbox_dead = r.dead;
    s.outbox_dead_letters = r.dead_letters;
    s.outbox_oldest_ms = r.oldest_ms;
    s.refunds_owed = r.refunds_owed;
    s.dedupe_bytes = db_->family_bytes(storage::cf::dedupe);
    auto c = db_->stats();
    s.commits = c.commits;
    s.batches = c.batches;
    s.records = c.records;
    s.wal_syncs = c.syncs;
    s.batches_failed = c.failed;
    s.commit_queue = c.queued;
    s.actors_recovered = metrics_.get("recovered");
    auto h = db_->health();
    s.writable = h.writable;
    s.disk_free_bytes = h.free_bytes;
    s.writes_refused = h.refused;
    s.commit_group_sizes = c.group_sizes;
    s.wal_sync_seconds = c.sync_seconds;
    s.refund_anomalies = metrics_.get("refund_anomaly");
    s.sms_sent = metrics_.get("sms_sent");
    s.sms_suppressed = metrics_.get("sms_suppressed");
    s.sms_expired = metrics_.get("sms_expired");
    s.dispatch_assigned = metrics_.get("dispatch_assigned");
    s.dispatch_suppressed = metrics_.get("dispatch_suppressed");
    s.dispatch_recalled = metrics_.get("dispatch_recalled");
    s.audit_runs = metrics_.get("audit_runs");
    s.audit_orders_read = metrics_.get("audit_orders_read");
    s.audit_violations = metrics_.get("audit_violations");
    s.audit_heals = metrics_.get("audit_heals");
    s.refunds_reissued = metrics_.get("refund_reissued");
    s.rate_limited = metrics_.get("order_rate_limited");
    s.captcha_issued = metrics_.get("captcha_issued");
    s.captcha_failed = metrics_.get("captcha_failed");
    s.captcha_solved = metrics_.get("captcha_solved");
    s.manual_interventions = metrics_.get("manual_intervention");
    if (provider_) {
      auto p = provider_->stats();
      s.payment_calls = p.calls;
      s.payment_failures = p.failed;
    }
    return s;
  }

  bool quiesce(actors::millis timeout) override {
    return relay_->wait_empty(timeout);
  }

  bool ready() const override {
    return ready_.load();
  }

  storage::write_health storage_health() const override {
    return db_->health();
  }

  void stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    ready_ = false;
    // Readers first: the reads already asked for still run against open
    // storage, and what they send on (a write to an order, after its
    // existence check) finds the directories open, as any other mail.
    if (readers_) {
      readers_->stop();
    }
    if (audit_) {
      audit_->stop();
    }
    if (timers_) {
      timers_->stop();
    }
    if (relay_) {
      relay_->stop();
    }
    if (provider_) {
      provider_->stop(); // no more replies into the relay or the orders
    }
    if (sms_) {
      sms_->stop();
    }
    for (auto* d : directories()) {
      d->shutdown();
    }
    // Storage first: its commit thread has sent to (and spawned) actors, and
    // CAF's actor_system waits at destruction for every thread that did so
    // to let go of its logger. Turns still running after this get an error
    // from `commit` and answer `internal`; nobody waits for them.
    if (db_) {
      db_->close(); // drains commits; their callbacks see closed directories
    }
    system_.reset(); // waits for every host to finish its current turn
  }

private:
  /// One directory per kind of all_kinds, each configured by its spec, and
  /// each reachable by its kind's name.
  void open_directories() {
    all_kinds::each([this](auto tag) {
      using kind = typename decltype(tag)::type;
      auto& d = std::get<std::unique_ptr<directory<kind>>>(directories_);
      d = std::make_unique<directory<kind>>(*system_, env_,
                                            kind::configure(opts_));
      switchboard_.add(kind::name, d.get());
    });
  }

  template <class Kind>
  directory<Kind>& dir() const {
    return *std::get<std::unique_ptr<directory<Kind>>>(directories_);
  }

  /// Every directory opened, for what applies to all kinds.
  std::vector<directory_base*> directories() const {
    std::vector<directory_base*> all;
    std::apply(
      [&](const auto&... d) {
        (((d != nullptr) ? all.push_back(d.get()) : void()), ...);
      },
      directories_);
    return all;
  }

  directory_base* directory_of(const std::string& kind) const {
    for (auto* d : directories()) {
      if (switchboard_.find(kind) == d) {
        return d;
      }
    }
    return nullptr;
  }

  static outbox_message view_of(relay::message_view m, actors::millis now) {
    return {m.seq,
            std::move(m.from),
            std::move(m.msg),
            m.attempts,
            std::move(m.last_error),
            m.dead,
            m.queued_at > 0 ? now - m.queued_at : 0};
  }

  /// The last durable state of `id` without activating its actor (the
  /// kind's initial state when nothing is stored).
  template <class Kind>
  actors::result<typename Kind::state> read(const std::string& id) {
    typename Kind::state s;
    Kind::init(s, id);
    try {
      Kind::restore(*db_, id, s);
    } catch (const std::exception& e) {
      return actors::error{actors::errc::internal,
                           std::string{"unreadable "} + Kind::name + " " + id};
    }
    return s;
  }

  static actors::error no_order(const std::string& order_id) {
    return {actors::errc::not_found, "order " + order_id + " not found"};
  }

  /// True if the order is in memory or stored, so unknown ids do not
  /// activate actors.
  bool exists(const std::string& order_id) {
    return dir<order_kind>().active(order_id)
           || db_
                ->get(storage::cf::actors,
                      storage::keys::owner(order_kind::name, order_id))
                .has_value();
  }

  void to_order(const std::string& order_id, actors::order::input in,
                callback<actors::order::state> cb) {
    known_order(order_id, std::move(cb), [this, order_id, in](const auto& cb) {
      dir<order_kind>().send(order_id, state_mail<order_kind>(in, cb));
    });
  }

  /// Runs `then(cb)` if the order exists, else answers not_found: at once
  /// when it is in memory (no read: a payment or cancel of an order
  /// placed moments ago takes no hand-off to a reader), else on a reader
  /// after looking for it in storage (reading()).
  template <class T, class Then>
  void known_order(const std::string& order_id, callback<T> cb, Then then) {
    if (dir<order_kind>().active(order_id)) {
      then(cb);
      return;
    }
    reading(std::move(cb),
            [this, order_id, then = std::move(then)](const auto& cb) {
              if (!exists(order_id)) {
                cb(no_order(order_id));
                return;
              }
              then(cb);
            });
  }

  /// Runs `read(cb)`, a read of storage for a caller of the node, on a
  /// reader thread: the caller's thread (the HTTP I/O thread) never waits
  /// for the disk. `read` answers `cb` once or throws before it does: then
  /// `cb` gets `internal`, as every failed read. The fault point
  /// store.before_read comes first (its error fails the read the same
  /// way). After stop(): `unavailable`.
  template <class T, class Read>
  void reading(callback<T> cb, Read read) {
    auto task = [this, cb, read = std::move(read)] {
      try {
        if (fault_("store.before_read")) {
          throw std::runtime_error{"injected fault at store.before_read"};
        }
        read(cb);
      } catch (const std::exception& e) {
        cb(actors::error{actors::errc::internal, e.what()});
      }
    };
    if (!readers_ || !readers_->post(std::move(task))) {
      cb(actors::error{actors::errc::unavailable, "the node is stopping"});
    }
  }

  node_options opts_;
  std::shared_ptr<clock> time_;
  /// The store's fault hook (store_options::fault), also asked before the
  /// reads done for callers.
  std::function<bool(const char*)> fault_;
  std::unique_ptr<storage::store> db_;
  /// The reads done for callers (reading()); stopped before everything
  /// they use.
  std::unique_ptr<readers> readers_;
  switchboard switchboard_;
  counters metrics_;
  std::unique_ptr<relay> relay_;
  std::unique_ptr<timer_service> timers_;
  std::unique_ptr<builtin_provider>
    builtin_provider_;                      ///< without --payment-provider
  std::unique_ptr<http_provider> provider_; ///< with --payment-provider
  std::unique_ptr<sms_sink> sms_;
  std::unique_ptr<audit_service> audit_;
  touched_orders touched_;
  services env_;
  /// The actor system keeps a reference to its config: it lives as long.
  caf::actor_system_config caf_config_;
  std::unique_ptr<caf::actor_system> system_;
  template <class... Kinds>
  using directory_tuple = std::tuple<std::unique_ptr<directory<Kinds>>...>;
  all_kinds::apply<directory_tuple> directories_;
  /// Rule 10's rate limit (admit), and the creates it let through.
  actors::limiter::config rate_;
  admission_gates admissions_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopped_{false};
};

} // namespace

const std::vector<std::string>& actor_kinds() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> names;
    all_kinds::each([&](auto tag) {
      names.emplace_back(decltype(tag)::type::name);
    });
    return names;
  }();
  return kinds;
}

std::optional<placement> placement_of(std::string_view kind) {
  std::optional<placement> found;
  all_kinds::each([&](auto tag) {
    using k = typename decltype(tag)::type;
    if (kind == k::name) {
      found = k::place;
    }
  });
  return found;
}

actors::result<actor_view> inspect_offline(const std::string& data_dir,
                                           const std::string& kind,
                                           const std::string& id) {
  const auto& kinds = actor_kinds();
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    return unknown_kind(kind);
  }
  storage::store_options so;
  so.path = data_dir;
  so.read_only = true;
  std::string err;
  auto db = storage::store::open(so, &err);
  if (!db) {
    return actors::error{actors::errc::internal, err};
  }
  actor_view v;
  v.kind = kind;
  v.id = id;
  try {
    if (!read_stored(*db, v)) {
      return unknown_kind(kind);
    }
    v.outbox = scan_outbox(*db, {kind, id});
  } catch (const std::exception& e) {
    return actors::error{actors::errc::internal, e.what()};
  }
  return v;
}

actors::result<actors::auditor::report>
audit_offline(const std::string& data_dir, actors::millis now) {
  storage::store_options so;
  so.path = data_dir;
  so.read_only = true;
  std::string err;
  auto db = storage::store::open(so, &err);
  if (!db) {
    return actors::error{actors::errc::internal, err};
  }
  actors::auditor::snapshot s;
  s.now = now;
  try {
    db->scan(storage::cf::outbox, "",
             [&](std::string_view k, std::string_view v) {
               auto seq = storage::keys::from_be64(k);
               if (auto e = seq ? relay::decode(*seq, v) : std::nullopt) {
                 s.settling.insert(e->from.kind + "/" + e->from.id);
               }
               return true;
             });
    load_state(*db, s, {});
    db->scan(storage::cf::aux, "deadletter/",
             [&](std::string_view, std::string_view) {
               ++s.dead_letters;
               return true;
             });
  } catch (const std::exception& e) {
    return actors::error{actors::errc::internal, e.what()};
  }
  auto r = actors::auditor::audit(s, {});
  for (auto& v : r.violations) {
    if (v.healed) {
      v.healed = false; // nothing is sent offline
      v.detail += " (a running node heals this)";
    }
  }
  r.heals.clear();
  return r;
}

bool valid_http_url(std::string_view url, std::string_view what,
                    std::string* why) {
  return detail::parse_http_url(url, what, why).has_value();
}

std::unique_ptr<node> node::start(const node_options& opts, std::string* err) {
  auto n = std::make_unique<node_impl>(opts);
  if (!n->open(err)) {
    return nullptr;
  }
  return n;
}

} // namespace ordo::runtime
