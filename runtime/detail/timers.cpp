#include "runtime/detail/timers.hpp"

#include <algorithm>
#include <chrono>

#include "runtime/clock.hpp"
#include "runtime/detail/sink.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

timer_service::timer_service(clock& time, const switchboard& targets)
  : clock_(time), targets_(targets) {
  jump_token_ = clock_.on_jump([this] {
    std::lock_guard<std::mutex> guard{mu_};
    cv_.notify_all();
  });
}

timer_service::~timer_service() {
  clock_.forget(jump_token_);
  stop();
}

void timer_service::load(storage::store& db) {
  std::lock_guard<std::mutex> guard{mu_};
  db.scan(storage::cf::timers, "",
          [this](std::string_view k, std::string_view v) {
            if (auto due = storage::keys::from_be64(v)) {
              arm(std::string{k}, static_cast<actors::millis>(*due));
            }
            return true;
          });
}

void timer_service::start() {
  std::lock_guard<std::mutex> guard{mu_};
  if (running_) {
    return;
  }
  running_ = true;
  thread_ = std::thread{[this] {
    run();
  }};
}

void timer_service::stop() {
  {
    std::lock_guard<std::mutex> guard{mu_};
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void timer_service::set(const std::string& kind, const std::string& id,
                        const std::string& name, actors::millis due) {
  auto k = storage::keys::owned(kind, id, name);
  std::lock_guard<std::mutex> guard{mu_};
  if (due <= 0) {
    if (auto i = by_key_.find(k); i != by_key_.end()) {
      by_due_.erase({i->second, &i->first});
      by_key_.erase(i);
    }
    return;
  }
  bool earliest = by_due_.empty() || due < by_due_.begin()->first;
  arm(std::move(k), due);
  if (earliest) {
    cv_.notify_all();
  }
}

void timer_service::arm(key k, actors::millis due) {
  auto [i, added] = by_key_.try_emplace(std::move(k), due);
  if (!added) {
    by_due_.erase({i->second, &i->first});
    i->second = due;
  }
  by_due_.emplace(due, &i->first);
}

std::size_t timer_service::pending() const {
  std::lock_guard<std::mutex> guard{mu_};
  return by_key_.size();
}

void timer_service::run() {
  std::unique_lock<std::mutex> lock{mu_};
  while (!stopping_) {
    if (by_due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto now = clock_.now();
    auto due = by_due_.begin()->first;
    if (due > now) {
      // Cap the wait so a wall-clock step is noticed within a second.
      auto wait = std::min<actors::millis>(due - now, 1000);
      cv_.wait_for(lock, std::chrono::milliseconds{wait});
      continue;
    }
    auto i = by_key_.find(*by_due_.begin()->second);
    by_due_.erase(by_due_.begin());
    key k = i->first;
    by_key_.erase(i);
    std::string kind, id, name;
    if (!storage::keys::split_owned(k, &kind, &id, &name)) {
      continue;
    }
    lock.unlock();
    actors::envelope msg{
      "", {kind, id}, "timer", {{"name", name}, {"due", due}}};
    targets_.deliver(msg, "", nullptr);
    lock.lock();
  }
}

} // namespace ordo::runtime::detail
