#pragma once

// An in-memory runtime::node for gateway tests: just enough domain to give
// every route a realistic answer. Replies run on the fake's own worker
// thread, like the real node's runtime threads.
//
// Threading: all methods are thread-safe (guarded by mu_); callbacks run on
// the worker thread.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/node.hpp"

namespace ordo::test {

class fake_node final : public runtime::node {
public:
  fake_node()
    : worker_([this] {
        work();
      }) {}
  ~fake_node() override {
    stop();
  }

  // --- knobs and records for tests (guarded by mu_) -----------------------
  /// What readyz reports.
  void set_ready(bool r) {
    std::lock_guard<std::mutex> g(mu_);
    ready_ = r;
  }
  /// Keep the next callback instead of answering (see release_held()).
  void hold_next() {
    std::lock_guard<std::mutex> g(mu_);
    hold_next_ = true;
  }
  /// Drop the next callback without calling it.
  void drop_next() {
    std::lock_guard<std::mutex> g(mu_);
    drop_next_ = true;
  }
  /// Answers held callbacks now, on the calling thread.
  void release_held() {
    std::vector<std::function<void()>> held;
    {
      std::lock_guard<std::mutex> g(mu_);
      held.swap(held_);
    }
    for (auto& f : held) {
      f();
    }
  }
  actors::order::create last_create() {
    std::lock_guard<std::mutex> g(mu_);
    return last_create_;
  }
  std::string last_key() {
    std::lock_guard<std::mutex> g(mu_);
    return last_key_;
  }
  actors::order::pay last_pay() {
    std::lock_guard<std::mutex> g(mu_);
    return last_pay_;
  }
  std::string last_cancel_reason() {
    std::lock_guard<std::mutex> g(mu_);
    return last_cancel_reason_;
  }

  // --- runtime::node --------------------------------------------------------
  void put_sku(const std::string& sku, actors::inventory::put cmd,
               runtime::callback<actors::inventory::state> cb) override {
    std::lock_guard<std::mutex> g(mu_);
    auto& s = skus_[sku];
    s.sku = sku;
    s.exists = true;
    s.price = cmd.price;
    s.kind = cmd.kind;
    s.available += cmd.stock - s.stocked;
    s.stocked = cmd.stock;
    reply(std::move(cb), actors::result<actors::inventory::state>(s));
  }

  void get_sku(const std::string& sku,
               runtime::callback<actors::inventory::state> cb) override {
    std::lock_guard<std::mutex> g(mu_);
    auto it = skus_.find(sku);
    if (it == skus_.end()) {
      reply(std::move(cb), actors::result<actors::inventory::state>(
                             actors::errc::not_found, "no SKU " + sku));
      return;
    }
    reply(std::move(cb), actors::result<actors::inventory::state>(it->second));
  }

  void create_order(const std::string& key, actors::order::create cmd,
                    runtime::callback<runtime::created_order> cb) override {
    std::lock_guard<std::mutex> g(mu_);
    last_key_ = key;
    last_create_ = cmd;
    using R = actors::result<runtime::created_order>;
    auto id = "o-" + cmd.user_id + "-" + key;
    auto found = orders_.find(id);
    if (found != orders_.end()) {
      if (found->second.fingerprint != cmd.fingerprint) {
        reply(std::move(cb), R(actors::errc::idempotency_key_reused,
                               "key used with another body"));
        return;
      }
      reply(std::move(cb), R(runtime::created_order{found->second, false}));
      return;
    }
    actors::order::state o;
    o.order_id = id;
    o.user_id = cmd.user_id;
    o.st = actors::order::status::pending_payment;
    o.version = 1;
    for (const auto& i : cmd.items) {
      auto s = skus_.find(i.sku);
      if (s == skus_.end()) {
        reply(std::move(cb), R(actors::errc::not_found, "no SKU " + i.sku));
        return;
      }
      if (s->second.available < i.quantity) {
        reply(std::move(cb),
              R(actors::errc::insufficient_stock, "not enough " + i.sku));
        return;
      }
      o.items.push_back({i.sku, i.quantity, s->second.price, s->second.kind});
      o.amount += i.quantity * s->second.price;
    }
    o.payable = o.amount;
    o.coupon_id = cmd.coupon_id;
    o.affiliate_id = cmd.affiliate_id;
    o.created_at = o.updated_at = 1'795'342'530'123;
    o.pay_deadline = o.created_at + 15 * 60 * 1000;
    o.fingerprint = cmd.fingerprint;
    o.token = cmd.token;
    orders_[id] = o;
    reply(std::move(cb), R(runtime::created_order{o, true}));
  }

  void get_order(const std::string& id,
                 runtime::callback<actors::order::state> cb) override {
    std::lock_guard<std::mutex> g(mu_);
    reply(std::move(cb), find(id));
  }

  void cancel_order(const std::string& id, actors::order::cancel cmd,
                    runtime::callback<actors::order::state> cb) override {
    std::lock_guard<std::mutex> g(mu_);
    last_cancel_reason_ = cmd.reason;
    auto r = find(id);
    if (r.ok() && r->st == actors::order::status::paid) {
      r = actors::result<actors::order::state>(actors::errc::already_paid,
                                               "order is paid");
    } else if (r.ok() && r->st != actors::order::status::cancelled) {
      auto& o = orders_[id];
      o.st = actors::order::status::cancelled;
      o.cancel_reason = cmd.reason.empty() ? "user" : cmd.reason;
      ++o.version;
      r = actors::result<actors::order::state>(o);
    }
    reply(std::move(cb), std::move(r));
  }

  void complete_order(const std::string& id,
                      runtime::callback<actors::order::state> cb) override {
    std::lock_guard<std::mutex> g(mu_);
    reply(std::move(cb), transition(id, actors::order::status::paid,
                                    actors::order::status::completed));
  }

  void refund_order(const std::string& id,
                    runtime::callback<actors::order::state> cb) override {
    std::lock_guard<std::mutex> g(mu_);
    reply(std::move(cb), transition(id, actors::order::status::paid,
                                    actors::order::status::refunded));
  }

  void
  payment_callback(const std::string& id, actors::order::pay cmd,
                   runtime::callback<runtime::payment_result> cb) override {
    std::lock_guard<std::mutex> g(mu_);
    last_pay_ = cmd;
    using R = actors::result<runtime::payment_result>;
    auto it = orders_.find(id);
    if (it == orders_.end()) {
      reply(std::move(cb), R(actors::errc::not_found, "no order " + id));
      return;
    }
    auto& o = it->second;
    for (const auto& p : o.payments) {
      if (p.txn_id == cmd.txn_id) {
        reply(std::move(cb), R(runtime::payment_result{"duplicate", o}));
        return;
      }
    }
    if (!cmd.success) {
      reply(std::move(cb), R(runtime::payment_result{"ignored", o}));
      return;
    }
    o.payments.push_back(
      {cmd.txn_id, cmd.amount, actors::order::payment_status::captured, ""});
    o.st = actors::order::status::paid;
    ++o.version;
    reply(std::move(cb), R(runtime::payment_result{"captured", o}));
  }

  std::vector<runtime::provider_call> sandbox_calls() override {
    return {{"refund", "r1", "o1", "t1", 3498, 2},
            {"close", "o2", "o2", "", 0, 1}};
  }

  runtime::node_stats stats() const override {
    return {};
  }

  bool quiesce(actors::millis) override {
    return true;
  }

  bool ready() const override {
    std::lock_guard<std::mutex> g(mu_);
    return ready_;
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stopping_) {
        return;
      }
      stopping_ = true;
    }
    wake_.notify_all();
    worker_.join();
  }

private:
  template <class T>
  void reply(runtime::callback<T> cb, actors::result<T> r) {
    // Called with mu_ held.
    auto call = [cb = std::move(cb), r = std::move(r)]() mutable {
      cb(std::move(r));
    };
    if (drop_next_) {
      drop_next_ = false;
      return;
    }
    if (hold_next_) {
      hold_next_ = false;
      held_.push_back(std::move(call));
      return;
    }
    queue_.push_back(std::move(call));
    wake_.notify_one();
  }

  actors::result<actors::order::state> find(const std::string& id) {
    auto it = orders_.find(id);
    if (it == orders_.end()) {
      return {actors::errc::not_found, "no order " + id};
    }
    return it->second;
  }

  actors::result<actors::order::state> transition(const std::string& id,
                                                  actors::order::status from,
                                                  actors::order::status to) {
    auto r = find(id);
    if (!r.ok()) {
      return r;
    }
    auto& o = orders_[id];
    if (o.st != from) {
      return {actors::errc::invalid_transition, "wrong status"};
    }
    o.st = to;
    ++o.version;
    return o;
  }

  void work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [this] {
        return stopping_ || !queue_.empty();
      });
      if (queue_.empty()) {
        return;
      }
      auto f = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      f();
      lock.lock();
    }
  }

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::function<void()>> held_;
  std::map<std::string, actors::inventory::state> skus_;
  std::map<std::string, actors::order::state> orders_;
  actors::order::create last_create_;
  actors::order::pay last_pay_;
  std::string last_key_;
  std::string last_cancel_reason_;
  bool ready_ = true;
  bool hold_next_ = false;
  bool drop_next_ = false;
  bool stopping_ = false;
  // Declared last: starts after the members above exist.
  std::thread worker_;
};

} // namespace ordo::test
