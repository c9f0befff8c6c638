#pragma once

// The orders written since the scheduled audit last looked (see audit.hpp):
// the order hosts add to it after each commit, the audit takes it. No CAF
// here.
//
// Threading: thread-safe.

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_set>

namespace ordo::runtime::detail {

/// The orders written since a scheduled audit last took them. Bounded:
/// past `limit` ids it forgets them, and the next run reads every order.
/// Threading: thread-safe.
class touched_orders {
public:
  explicit touched_orders(std::size_t limit = 200'000) : limit_(limit) {}

  void add(const std::string& order_id) {
    std::lock_guard<std::mutex> guard{mu_};
    if (!all_ && !ids_.insert(order_id).second) {
      return;
    }
    if (ids_.size() > limit_) {
      all_ = true;
      ids_.clear();
    }
  }

  struct taken {
    std::unordered_set<std::string> ids;
    /// Some were forgotten (or none were ever recorded): read every order.
    bool all = false;
  };
  taken take() {
    std::lock_guard<std::mutex> guard{mu_};
    taken t{std::move(ids_), all_};
    ids_.clear();
    all_ = false;
    return t;
  }

private:
  const std::size_t limit_;
  std::mutex mu_;
  // Guarded by mu_.
  std::unordered_set<std::string> ids_;
  bool all_ = true; ///< before the first run: orders of earlier runs
};

} // namespace ordo::runtime::detail
