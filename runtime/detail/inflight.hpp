#pragma once

// The records whose write is in flight, for a sink that keeps its records in
// the store and does a read-modify-write per call (sms.hpp's log sink,
// builtin_provider.hpp): memory holds only the newest record of each key
// whose write has not committed yet, and how many of its writes have not, so
// a repeat reads what was last written (here, else the store) without the
// sink holding its whole history.
//
// Ordering contract: the caller serializes its read-modify-write and the
// commit's submission with its own submit mutex (find(), else a store read,
// then begin(), then submit the commit, all under that mutex), and the store
// commits in submission order; the commit callback calls end() and must not
// take the submit mutex (a closed store calls it at once, from within the
// submission). A key not found here was last written by a commit that has
// landed (or failed), so the store has its newest record.
//
// Threading: thread-safe; the own mutex is held only for the map operation.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace ordo::runtime::detail {

/// The newest record of each key whose write is in flight.
template <typename T>
class inflight_records {
public:
  /// The newest record of `key` whose write is in flight; nullopt when none
  /// is (the store has the newest).
  std::optional<T> find(const std::string& key) const {
    std::lock_guard<std::mutex> guard{mu_};
    auto i = entries_.find(key);
    if (i == entries_.end()) {
      return std::nullopt;
    }
    return i->second.rec;
  }

  /// A write of `rec` for `key` is submitted: `rec` is now its newest.
  void begin(const std::string& key, T rec) {
    std::lock_guard<std::mutex> guard{mu_};
    auto& e = entries_[key];
    e.rec = std::move(rec);
    ++e.writes;
  }

  /// A write for `key` has committed (or failed); forgets the key once none
  /// is in flight.
  void end(const std::string& key) {
    std::lock_guard<std::mutex> guard{mu_};
    auto i = entries_.find(key);
    if (i != entries_.end() && --i->second.writes == 0) {
      entries_.erase(i);
    }
  }

private:
  struct entry {
    T rec;
    std::uint32_t writes = 0; ///< writes of the key in flight
  };

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::map<std::string, entry> entries_;
};

} // namespace ordo::runtime::detail
