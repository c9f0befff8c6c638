#pragma once

// A storage fault hook a test holds (storage::store_options::fault): at one
// fault point it makes the storage thread wait until the test releases it,
// so a window between two steps of a commit stays open as long as the test
// needs it, and is hit every time rather than by chance.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "runtime/node.hpp"

namespace ordo::test {

class held_point {
public:
  enum class mode {
    /// The next call after `arm` waits, then fails (the store writes
    /// nothing of that group); later calls pass.
    hold_next_and_fail,
    /// Every call waits while armed, then passes.
    hold_while_armed,
  };

  held_point(std::string point, mode m) : point_(std::move(point)), mode_(m) {}

  /// The hook: true fails the commit (store_options::fault).
  bool operator()(const char* point) {
    if (std::string_view{point} != point_) {
      return false;
    }
    std::unique_lock<std::mutex> lock{mu_};
    if (!armed_) {
      return false;
    }
    entered_ = true;
    cv_.notify_all();
    if (mode_ == mode::hold_next_and_fail) {
      armed_ = false;
      cv_.wait(lock, [this] {
        return released_;
      });
      return true;
    }
    cv_.wait(lock, [this] {
      return released_;
    });
    return false;
  }

  void arm() {
    std::lock_guard<std::mutex> guard{mu_};
    armed_ = true;
    entered_ = released_ = false;
  }
  /// Waits (up to 20 s) until a storage thread is held.
  bool wait_entered() {
    std::unique_lock<std::mutex> lock{mu_};
    return cv_.wait_for(lock, std::chrono::seconds{20}, [this] {
      return entered_;
    });
  }
  void release() {
    std::lock_guard<std::mutex> guard{mu_};
    released_ = true;
    armed_ = false;
    cv_.notify_all();
  }

private:
  const std::string point_;
  const mode mode_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool entered_ = false;
  bool released_ = false;
};

/// Makes `opts`' store call `hook` at its fault points.
inline void hold_with(runtime::node_options& opts,
                      std::shared_ptr<held_point> hook) {
  opts.store_fault = [h = std::move(hook)](const char* point) {
    return (*h)(point);
  };
}

} // namespace ordo::test
