#pragma once

// storage::store in memory, for the simulator: one ordered map per column
// family, a commit applied at once (all or nothing) and its callback run
// before commit returns. Deterministic and single-threaded: what it holds is
// exactly what "durable" means in a simulated run, and a simulated crash
// keeps it while everything else is dropped.

#include <array>
#include <map>
#include <string>

#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::sim {

class mem_store final : public storage::store {
public:
  void commit(storage::batch b, callback done) override {
    if (b.still_valid()) {
      for (const auto& op : b.ops()) {
        auto& m = family(op.family);
        if (op.add) {
          auto& v = m[op.key];
          v = storage::codec::add_sums(v, *op.value).value();
        } else if (op.value) {
          m[op.key] = *op.value;
        } else if (!op.range_end.empty()) {
          m.erase(m.lower_bound(op.key), m.lower_bound(op.range_end));
        } else {
          m.erase(op.key);
        }
      }
      ++batches_;
    }
    if (done) {
      done(b.still_valid()
             ? storage::status{}
             : storage::status::error("dropped: built on a failed batch"));
    }
  }

  storage::status commit_sync(storage::batch b) override {
    storage::status result;
    commit(std::move(b), [&](const storage::status& s) {
      result = s;
    });
    return result;
  }

  std::optional<std::string> get(storage::cf f, std::string_view key) override {
    auto& m = family(f);
    auto i = m.find(std::string{key});
    if (i == m.end()) {
      return std::nullopt;
    }
    return i->second;
  }

  void scan(storage::cf f, std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn)
    override {
    scan_from(f, prefix, prefix, fn);
  }

  void scan_from(storage::cf f, std::string_view prefix, std::string_view from,
                 const std::function<bool(std::string_view, std::string_view)>&
                   fn) override {
    auto& m = family(f);
    for (auto i = m.lower_bound(std::string{from}); i != m.end(); ++i) {
      if (i->first.compare(0, prefix.size(), prefix) != 0) {
        break;
      }
      if (!fn(i->first, i->second)) {
        break;
      }
    }
  }

  storage::commit_stats stats() const override {
    storage::commit_stats s;
    s.batches = batches_;
    s.commits = batches_;
    return s;
  }

  void close() override {}

  std::map<std::string, std::string>& family(storage::cf f) {
    return families_[static_cast<std::size_t>(f)];
  }

private:
  std::array<std::map<std::string, std::string>, storage::cf_count> families_;
  std::uint64_t batches_ = 0;
};

} // namespace ordo::sim
