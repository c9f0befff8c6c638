#pragma once

// The RocksDB implementation of storage::store. Internal to storage/: other
// modules use store::open.
//
// Threading: every public method may be called from any thread. Writes go
// through one commit thread that owns the write path (wb_, failed_); callers
// only touch the queue under mu_. With `sync`, a second thread, the syncer,
// fsyncs the WAL behind the commit thread and runs the after_durable
// callbacks (sync_mu_). Reads and the syncer take db_mu_ shared so that
// `close` cannot destroy the database under them. Callbacks run on the
// commit thread or the syncer, so they must not call commit_sync or close
// (both would wait for those threads), nor a scan callback call close.

#include "storage/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
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
  void after_durable(std::function<void()> fn) override;
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
  write_health health() const override;
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
    /// Set by the commit thread when the batch's only_if no longer held.
    bool dropped = false;
  };

  explicit rocks_store(const store_options& opts);

  /// Body of the commit thread: drains the queue group by group until
  /// `close` asks it to stop and the queue is empty.
  void run();

  /// Writes [first, last) as one WriteBatch and runs their callbacks in
  /// order. Commit thread only.
  void write_group(pending* first, pending* last);
  /// Why the next `n` batches cannot be written at all (an earlier failed
  /// write, a full disk, an injected fault); nullopt if they may be.
  std::optional<status> refusal_before_write(std::ptrdiff_t n);
  /// True if the store can write `op` (a known family, sizes in bounds, a
  /// range delete inside an owner's journal, sums in `actors`).
  bool writable(const write_op& op) const;
  /// Adds the valid batches of [first, last) to wb_, marking the others
  /// rejected or dropped; `accepted` counts those added.
  rocksdb::Status fill_write_batch(pending* first, pending* last,
                                   std::uint64_t& accepted);
  /// Writes wb_ (not synced: the syncer does that) and counts it.
  rocksdb::Status write_to_wal(std::uint64_t accepted);
  /// Undoes the numbering of a group whose write failed.
  void take_back_group(std::uint64_t group);
  /// What a failed write means for the store (a full disk: refuse until
  /// there is room; anything else: fail-stop), as the batches' status.
  status after_failed_write(const rocksdb::Status& st);

  /// Body of the syncer (with opts_.sync): fsyncs the WAL whenever a group
  /// was written since the last sync and runs the after_durable callbacks
  /// it covers, until `close` asks it to stop and nothing is left to sync.
  void sync_loop();
  /// Stops the syncer after its last sync (close, after the commit thread).
  void stop_syncer();

  /// The free-space guard, before a group: true if it may be written. Looks
  /// at the disk at most every `disk_check_interval` while more than twice
  /// the minimum is free, before every group otherwise; resumes RocksDB after a
  /// background error once space is back. Commit thread only.
  bool room_to_write();
  /// Opens the database at opts_.path (read-only: only the families that
  /// exist) and takes its handles. db_ is null before; db_mu_ held
  /// exclusively, or no reader yet.
  rocksdb::Status open_db(bool read_only);
  /// Releases the handles and closes the database; db_mu_ as for open_db.
  void close_db();
  /// Closes the read-only database of a start on a short disk and opens it
  /// writable; false and `*why` if it cannot (then read-only again).
  /// Commit thread only.
  bool reopen_writable(std::string* why);
  /// With a dedupe retention: records (once) when dedupe records without
  /// a time were last written, for the retention filter. "" or the error.
  std::string stamp_legacy_dedupe();
  /// Records why writes are refused ("" = they are not).
  void set_refusal(std::string reason);

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
  /// Shared by the families' tables, and kept across a reopen.
  std::shared_ptr<rocksdb::Cache> cache_;
  /// Indexed by cf; nullptr for a family missing in a read-only open.
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  /// "default" and families found in the database that ordo does not know;
  /// kept open because RocksDB requires every family to be opened to write.
  std::vector<rocksdb::ColumnFamilyHandle*> other_cfs_;

  // -- Guarded by mu_ ---------------------------------------------------------
  mutable std::mutex mu_;
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

  // -- The durable watermark (with opts_.sync) -------------------------------
  /// Groups whose WAL write began (commit thread): what a reader may see.
  std::atomic<std::uint64_t> write_began_{0};
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  /// Notified when synced_ advances (the commit thread waits on a tight
  /// disk).
  std::condition_variable synced_cv_;
  /// Guarded by sync_mu_: groups whose WAL write returned, groups the last
  /// fsync covered, and the callbacks waiting for a group, in call order.
  std::uint64_t written_ = 0;
  std::uint64_t synced_ = 0;
  struct durable_waiter {
    std::uint64_t group;
    std::function<void()> fn;
  };
  std::vector<durable_waiter> durable_waiting_;
  bool sync_stopping_ = false;
  bool sync_stopped_ = false;
  std::thread syncer_;
  std::atomic<std::uint64_t> syncs_{0};
  std::atomic<std::uint64_t> records_{0};

  // -- Serialises close
  // ---------------------------------------------------------
  std::mutex close_mu_;
  bool closed_ = false; // guarded by close_mu_

  // -- Statistics (relaxed atomics) ------------------------------------------
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> failed_batches_{0};
  std::atomic<std::uint64_t> refused_batches_{0};
  std::atomic<std::uint64_t> free_bytes_{0};
  /// Writes are refused because free space is below min_free_bytes (and
  /// nothing else): health() may look at the disk itself.
  std::atomic<bool> short_of_space_{false};

  // -- The free-space guard (commit thread only) -----------------------------
  std::chrono::steady_clock::time_point next_disk_check_{};
  bool disk_low_ = false;
  /// A write met a full disk: RocksDB must be resumed before the next
  /// (the syncer reads it too: its fsyncs fail until then).
  std::atomic<bool> resume_needed_{false};
  /// The last look found less than wal_margin_bytes free (or there was no
  /// look yet): a WAL write may fail, so it waits for the groups before it
  /// to be synced and is kept apart from the syncer's fsync (wal_mu_).
  bool tight_ = true;

  // -- The WAL after a failed write -------------------------------------------
  /// A WAL write failed and RocksDB has not resumed since. RocksDB's WAL
  /// writer then asserts (and Debian keeps assertions) on its next use, an
  /// fsync included: the syncer must leave the WAL alone until a resume.
  std::atomic<bool> wal_failed_{false};
  /// Held by the syncer around each fsync of the WAL, and by the commit
  /// thread around a write while the disk is tight, until wal_failed_ says
  /// how it went: no fsync starts between a failed write and that flag.
  std::mutex wal_mu_;
  /// Opened read-only on a disk short of space at start-up; reopened
  /// writable once there is room (also read by close, after the join).
  bool read_only_until_room_ = false;

  // -- Guarded by refusal_mu_ (written by the commit thread) -----------------
  mutable std::mutex refusal_mu_;
  std::string refusal_;
  std::atomic<std::uint64_t> sync_micros_{0};

  // -- Guarded by hist_mu_ (written by the commit thread, read by stats) ------
  /// Group sizes and WAL times as Boost.Histograms, defined in the .cpp.
  struct histograms;
  mutable std::mutex hist_mu_;
  std::unique_ptr<histograms> hist_;
};

} // namespace ordo::storage::detail
