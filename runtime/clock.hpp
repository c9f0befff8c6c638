#pragma once

// The one source of time. The server uses the system clock; tests use a
// manual clock they advance, so deadline tests need no sleeps.
//
// Threading: both implementations are thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "actors/vocabulary.hpp"

namespace ordo::runtime {

class clock {
public:
  virtual ~clock() = default;
  /// Now, in ms since the Unix epoch.
  virtual actors::millis now() const = 0;
  /// Registers `fn` to run whenever time jumps (manual clocks only), so
  /// waiters recompute their deadlines. Real clocks never call it. Returns
  /// a token for `forget`.
  virtual std::uint64_t on_jump(std::function<void()> fn) = 0;
  /// Unregisters a listener; once it returns, the listener is not running
  /// and will not run again.
  virtual void forget(std::uint64_t token) = 0;
};

/// The system clock.
class system_clock final : public clock {
public:
  actors::millis now() const override;
  std::uint64_t on_jump(std::function<void()>) override {
    return 0;
  }
  void forget(std::uint64_t) override {}
};

/// A clock that moves only when told to.
class manual_clock final : public clock {
public:
  explicit manual_clock(actors::millis start) : now_(start) {}
  actors::millis now() const override;
  std::uint64_t on_jump(std::function<void()> fn) override;
  void forget(std::uint64_t token) override;
  /// Moves time forward by `delta` ms and wakes every waiter.
  void advance(actors::millis delta);

private:
  mutable std::mutex mu_;
  // Guarded by mu_.
  actors::millis now_;
  std::uint64_t next_token_ = 1;
  std::map<std::uint64_t, std::function<void()>> listeners_;
  /// Held while listeners run, so `forget` can wait for them.
  std::mutex notify_mu_;
};

} // namespace ordo::runtime
