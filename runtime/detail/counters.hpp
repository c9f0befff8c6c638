#pragma once

// Named counters bumped by actor turns' signals, the host and the auditor;
// read by node::stats for metrics. No CAF here.
//
// Threading: thread-safe.

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ordo::runtime::detail {

/// Named counters (metrics) bumped by turns' signals and the host.
class counters {
public:
  void add(const std::string& name, std::uint64_t n = 1) {
    std::lock_guard<std::mutex> guard{mu_};
    values_[name] += n;
  }
  std::uint64_t get(const std::string& name) const {
    std::lock_guard<std::mutex> guard{mu_};
    auto i = values_.find(name);
    return i == values_.end() ? 0 : i->second;
  }
  std::unordered_map<std::string, std::uint64_t> all() const {
    std::lock_guard<std::mutex> guard{mu_};
    return values_;
  }

private:
  mutable std::mutex mu_;
  // Guarded by mu_.
  std::unordered_map<std::string, std::uint64_t> values_;
};

} // namespace ordo::runtime::detail
