#include "runtime/clock.hpp"

#include <chrono>

namespace ordo::runtime {

actors::millis system_clock::now() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

actors::millis manual_clock::now() const {
  std::lock_guard<std::mutex> guard{mu_};
  return now_;
}

std::uint64_t manual_clock::on_jump(std::function<void()> fn) {
  std::lock_guard<std::mutex> guard{mu_};
  auto token = next_token_++;
  listeners_.emplace(token, std::move(fn));
  return token;
}

void manual_clock::forget(std::uint64_t token) {
  std::lock_guard<std::mutex> running{notify_mu_};
  std::lock_guard<std::mutex> guard{mu_};
  listeners_.erase(token);
}

void manual_clock::advance(actors::millis delta) {
  std::lock_guard<std::mutex> running{notify_mu_};
  std::map<std::uint64_t, std::function<void()>> listeners;
  {
    std::lock_guard<std::mutex> guard{mu_};
    now_ += delta;
    listeners = listeners_;
  }
  for (auto& [token, fn] : listeners) {
    fn();
  }
}

} // namespace ordo::runtime
