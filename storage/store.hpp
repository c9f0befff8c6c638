#pragma once

// ordo's storage: RocksDB behind a small interface. No domain knowledge: keys
// and values are bytes; the key grammar is in storage/keys.hpp.
//
// Durability comes in two steps, so that work inside the process never
// waits for a disk:
//
// 1. *Written.* `commit` queues a batch for the group-commit thread, which
//    appends every queued batch to the WAL as ONE RocksDB WriteBatch, without
//    an fsync, and then runs the batches' callbacks in commit order. A
//    callback that reports ok means the batch is in the log, visible to
//    reads, and survives kill -9 of the process; what a turn sends to another
//    actor of the same process may go now (docs/durability.md: a crash keeps
//    a prefix of the log, so the receiver's batch never survives without its
//    cause's).
// 2. *Durable.* With `sync`, one syncer thread fsyncs the WAL whenever
//    something was written since its last sync, and publishes how far it
//    got. `after_durable(fn)` runs `fn` once that covers everything written
//    before the call: the gate for whatever leaves the process (an HTTP
//    reply, a call to a provider, a message to another node). Without
//    `sync` every write counts as durable at once.
//
// Threading: all methods are thread-safe. Callbacks run on the commit thread
// (commit) or the syncer (after_durable) and must not block.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ordo::storage {

/// The column families. Their key layouts are documented in keys.hpp.
enum class cf : std::uint8_t {
  actors,  ///< actor snapshots (and sub-records)
  journal, ///< per-actor transition journal
  outbox,  ///< messages written by a turn, not yet acknowledged
  timers,  ///< durable timers
  dedupe,  ///< ids of consumed messages, per receiver
  aux,     ///< component records (adapters, sandbox provider, metadata)
};
inline constexpr std::size_t cf_count = 6;

/// The name of a column family as stored in RocksDB ("actors", ...).
const char* to_string(cf family) noexcept;

/// Outcome of a storage operation.
class [[nodiscard]] status {
public:
  status() = default;
  static status error(std::string message) {
    status s;
    s.message_ = std::move(message);
    s.ok_ = false;
    return s;
  }
  bool ok() const noexcept {
    return ok_;
  }
  const std::string& message() const noexcept {
    return message_;
  }
  /// Drops the status on purpose (greppable).
  void ignore() const noexcept {}

private:
  bool ok_ = true;
  std::string message_;
};

/// One put or delete, a delete of a range of keys, or an addition.
struct write_op {
  cf family = cf::actors;
  std::string key;
  /// nullopt deletes the key (or, with `range_end`, the range).
  std::optional<std::string> value;
  /// Non-empty: deletes every key in [key, range_end) (one record).
  std::string range_end;
  /// True: `value` (codec::sums) is added to the stored sums (batch::add).
  bool add = false;
};

/// The writes of one actor turn, applied atomically with every other batch
/// of the same group commit.
class batch {
public:
  /// Written only if `still_valid()` holds when the commit thread takes the
  /// batch into a group; otherwise the batch fails with an error and
  /// writes nothing. Asked on the commit thread after every earlier batch's
  /// callback ran, so a writer whose earlier batch failed can refuse the
  /// batches it built on it. Must not block. Default: always valid.
  void only_if(std::function<bool()> still_valid) {
    still_valid_ = std::move(still_valid);
  }
  bool still_valid() const {
    return !still_valid_ || still_valid_();
  }

  void put(cf family, std::string key, std::string value) {
    ops_.push_back({family, std::move(key), std::move(value), {}});
  }
  void del(cf family, std::string key) {
    ops_.push_back({family, std::move(key), std::nullopt, {}});
  }
  /// Deletes every key in [begin, end) of `family` as one record (a range
  /// tombstone). `end` must be greater than `begin`. Only in the journal,
  /// from an owner's version 0 (keys::journal(kind, id, 0)): elsewhere the
  /// batch is refused (RocksDB would apply a point insert's memtable hint
  /// to the tombstone; storage/detail/rocks_store.cpp, insert_hint).
  void del_range(cf family, std::string begin, std::string end) {
    ops_.push_back({family, std::move(begin), std::nullopt, std::move(end)});
  }
  /// Adds `sums` (codec::sums) to the sums stored at `key` element by
  /// element, as one record that reads nothing (a RocksDB merge): writers
  /// that only count never wait for, nor overwrite, one another. Only in
  /// family `actors`; the key must hold sums or nothing. A read of the key
  /// sees every addition committed before it.
  void add(cf family, std::string key, std::string sums) {
    ops_.push_back({family, std::move(key), std::move(sums), {}, true});
  }
  bool empty() const noexcept {
    return ops_.empty();
  }
  std::size_t size() const noexcept {
    return ops_.size();
  }
  const std::vector<write_op>& ops() const noexcept {
    return ops_;
  }

private:
  std::vector<write_op> ops_;
  std::function<bool()> still_valid_;
};

struct store_options {
  /// Directory of the database; created if missing (unless read_only).
  std::string path = "./data";
  /// fsync the WAL before a commit is reported durable. Default: true.
  bool sync = true;
  /// Open without writing (for `ordo inspect` on a stopped node). Default:
  /// false.
  bool read_only = false;
  /// Most batches merged into one group commit. Default: 4096.
  std::size_t max_group = 4096;
  /// The free-space guard: while the file system holding `path` has fewer
  /// free bytes than this, every batch fails (writing nothing), so RocksDB
  /// never meets a full disk mid-write (it aborts or stops for good then).
  /// Writes resume by themselves once space returns. 0 = no guard.
  /// Default: 0.
  std::uint64_t min_free_bytes = 0;
  /// Failure injection (the runtime binds it to its fault registry). Called
  /// on the commit thread with "store.before_commit" before a group commit
  /// is written, with "store.disk_low" where the free-space guard looks at
  /// the disk (true: as if it were below min_free_bytes), and with
  /// "store.after_commit" after its WAL write and
  /// before its callbacks run. True from "store.before_commit" fails every
  /// batch of the group with an error, as a write error does, but writes
  /// nothing and leaves the store usable (nothing reached the WAL, so there
  /// is no reason to stop). What "store.after_commit" returns is ignored.
  /// The hook may block (a slow commit) or end the process. Default: empty
  /// (no hook, no cost).
  std::function<bool(const char* point)> fault;
  /// Retention of the `dedupe` family: a record older than this, by the
  /// time in its value (keys.hpp), is dropped when RocksDB compacts it (at
  /// the latest `periodic_compaction` after it reached a table file), and
  /// never before. A record with an empty value (written before values
  /// carried the time) counts as written at the first open that had a
  /// retention, which is recorded in `aux` and is after every such record
  /// was written. 0 keeps every record. Default: 0.
  std::int64_t dedupe_retention_ms = 0;
  /// The time the retention is measured in, ms since the epoch; called from
  /// RocksDB's compaction threads, so it must be thread-safe. Default:
  /// empty (the system clock).
  std::function<std::int64_t()> now;
};

/// A histogram as plain data. `counts[i]` is the number of observations
/// `v` with `bounds[i-1] < v <= bounds[i]` (not cumulative); the last entry,
/// `counts[bounds.size()]`, counts those above the last bound, so
/// `counts.size() == bounds.size() + 1` and the counts add up to `count`.
/// `bounds` is strictly increasing.
struct histogram_data {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;          ///< sum of the observed values
  std::uint64_t count = 0; ///< number of observations
};

/// Counts observations into the buckets of a histogram_data with `bounds`
/// (Prometheus' `le` buckets) and adds them up. Not thread-safe.
class le_histogram {
public:
  /// `bounds` strictly increasing.
  explicit le_histogram(std::vector<double> bounds);

  void observe(double v);
  histogram_data data() const;

private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
};

/// Figures about the commit path, for metrics and benchmarks.
struct commit_stats {
  std::uint64_t commits = 0;     ///< group commits (WAL writes)
  std::uint64_t batches = 0;     ///< batches committed
  std::uint64_t records = 0;     ///< puts and deletes committed
  std::uint64_t syncs = 0;       ///< WAL fsyncs (0 without `sync`)
  std::uint64_t failed = 0;      ///< batches that failed (nothing written)
  std::uint64_t queued = 0;      ///< batches waiting for the commit thread
  std::uint64_t sync_micros = 0; ///< total time inside WAL writes and syncs
  /// Batches merged per successful group commit (one observation each).
  histogram_data group_sizes;
  /// Seconds inside one fsync of the WAL (with `sync`), or inside one WAL
  /// write (without it).
  histogram_data sync_seconds;
};

/// Whether the store takes writes now.
struct write_health {
  /// False while batches are refused: low disk (then resuming by itself)
  /// or a failed write (for good: restart the node).
  bool writable = true;
  /// Why not, for /readyz and the logs; "" while writable.
  std::string reason;
  /// Free bytes where the data lives, at the last look (0 = not looked).
  std::uint64_t free_bytes = 0;
  /// Batches refused for low disk since open.
  std::uint64_t refused = 0;
};

class store {
public:
  using callback = std::function<void(const status&)>;

  virtual ~store() = default;

  /// Opens (creating if allowed) the database at `opts.path`. On failure
  /// returns nullptr and sets `*err`.
  static std::unique_ptr<store> open(const store_options& opts,
                                     std::string* err);

  /// Queues `b` for the next group commit; `done` runs on the commit thread
  /// once the batch is written (step 1 above), or with the error. Batches
  /// are applied and their callbacks run in the order of the calls. After
  /// `close`, `done` runs at once with an error.
  virtual void commit(batch b, callback done) = 0;

  /// Runs `fn` once everything written before this call is durable (step 2
  /// above): at once when it already is, else on the syncer thread, in the
  /// order of the calls. A store that cannot sync any more ends the process
  /// rather than run `fn` (PostgreSQL's answer to a failed fsync: what the
  /// WAL holds is then unknown, and a restart replays it). After `close`,
  /// at once. Default: at once (a store that is durable when written).
  virtual void after_durable(std::function<void()> fn) {
    fn();
  }

  /// Commits `b` and waits until it is durable (tests, start-up, tools).
  virtual status commit_sync(batch b) = 0;

  /// Reads one key; nullopt if absent. Sees every batch whose callback ran.
  virtual std::optional<std::string> get(cf family, std::string_view key) = 0;

  /// Calls `fn` for every key starting with `prefix`, in key order, until it
  /// returns false.
  virtual void scan(
    cf family, std::string_view prefix,
    const std::function<bool(std::string_view key, std::string_view value)>& fn)
    = 0;

  /// As `scan`, starting at the first key >= `from` (a cursor: pass the
  /// last key seen plus a NUL to resume after it).
  virtual void scan_from(
    cf family, std::string_view prefix, std::string_view from,
    const std::function<bool(std::string_view key, std::string_view value)>& fn)
    = 0;

  virtual commit_stats stats() const = 0;

  /// Whether writes are taken now, and why not. Default: always (a store
  /// without a guard).
  virtual write_health health() const {
    return {};
  }

  /// Compacts all of `family` now and waits for it (tests, tools): what a
  /// retention drops is gone afterwards. A store that cannot answers an
  /// error.
  virtual status compact(cf family) {
    (void)family;
    return status::error("storage: compact is not supported");
  }

  /// Bytes of `family` in table files plus its memtables (an estimate from
  /// RocksDB's properties, for metrics and load reports); 0 if unknown.
  virtual std::uint64_t family_bytes(cf family) {
    (void)family;
    return 0;
  }

  /// Flushes queued commits, stops the commit thread, closes the database.
  /// Idempotent; the destructor calls it.
  virtual void close() = 0;
};

} // namespace ordo::storage
