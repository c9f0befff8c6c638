#pragma once

// The RocksDB implementation of storage::store. Internal to storage/: other
// modules use store::open.
//
// Threading: every public method may be called from any thread. Writes go
// through one commit thread that owns the write path (wb_, failed_); callers
// only touch the queue under mu_. Reads take db_mu_ shared so that `close`
// cannot destroy the database under a reader. Callbacks run on the commit
// thread, so they must not call commit_sync or close (both would wait for
// that thread), nor a scan callback call close.

#include "storage/store.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

namespace ordo::storage::detail {

class rocks_store final : public store {
public:
  /// Opens the database and, unless read-only, starts the commit thread.
  /// Returns nullptr and sets `*err` on failure.
  static std::unique_ptr<rocks_store> open(const store_options& opts,
                                           std::string* err);

  ~rocks_store() override;

  rocks_store(const rocks_store&) = delete;
  rocks_store& operator=(const rocks_store&) = delete;

  void commit(batch b, callback done) override;
  status commit_sync(batch b) override;
  std::optional<std::string> get(cf family, std::string_view key) override;
  void scan(cf family, std::string_view prefix,
            const std::function<bool(std::string_view key,
                                     std::string_view value)>& fn) override;
  void scan_from(
    cf family, std::string_view prefix, std::string_view from,
    const std::function<bool(std::string_view key, std::string_view value)>& fn)
    override;
  commit_stats stats() const override;
  status compact(cf family) override;
  std::uint64_t family_bytes(cf family) override;
  void close() override;

  /// What the dedupe family's compaction filter reads; shared with it
  /// because RocksDB owns the filter from before the database is open.
  struct retention;

private:
  struct pending {
    batch b;
    callback done;
    /// Set by the commit thread when the batch cannot be written.
    bool rejected = false;
  };

  explicit rocks_store(const store_options& opts);

  /// Body of the commit thread: drains the queue group by group until
  /// `close` asks it to stop and the queue is empty.
  void run();

  /// Writes [first, last) as one WriteBatch and runs their callbacks in
  /// order. Commit thread only.
  void write_group(pending* first, pending* last);

  /// The handle of `family`, or nullptr when the family is absent (read-only
  /// open of a database that lacks it) or out of range.
  rocksdb::ColumnFamilyHandle* handle(cf family) const noexcept;

  // -- Constant after construction (until close) -----------------------------
  store_options opts_;

  /// Set up before the open; its legacy time is set once right after it.
  std::shared_ptr<retention> retention_;

  // -- Guarded by db_mu_ (shared for reads, exclusive to destroy) -------------
  mutable std::shared_mutex db_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  /// Indexed by cf; nullptr for a family missing in a read-only open.
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  /// "default" and families found in the database that ordo does not know;
  /// kept open because RocksDB requires every family to be opened to write.
  std::vector<rocksdb::ColumnFamilyHandle*> other_cfs_;

  // -- Guarded by mu_ ---------------------------------------------------------
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<pending> queue_;
  /// Set by close; commit then fails at once and the thread drains and exits.
  bool closing_ = false;
  /// The commit thread is blocked on cv_ (so commit must notify).
  bool idle_ = false;

  // -- Commit thread only
  // ------------------------------------------------------
  std::thread thread_;
  rocksdb::WriteBatch wb_;
  /// The first write error; once set, every later batch fails with it.
  status failed_;

  // -- Serialises close
  // ---------------------------------------------------------
  std::mutex close_mu_;
  bool closed_ = false; // guarded by close_mu_

  // -- Statistics (relaxed atomics) ------------------------------------------
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> sync_micros_{0};

  // -- Guarded by hist_mu_ (written by the commit thread, read by stats) ------
  /// Group sizes and WAL times as Boost.Histograms, defined in the .cpp.
  struct histograms;
  mutable std::mutex hist_mu_;
  std::unique_ptr<histograms> hist_;
};

} // namespace ordo::storage::detail
