#include "storage/detail/rocks_store.hpp"

#include "log/log.hpp"
#include "storage/keys.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <pthread.h>
#include <sys/statvfs.h>

#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/convenience.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

namespace ordo::storage::detail {

struct rocks_store::retention {
  /// ms; 0 keeps every record.
  std::int64_t window = 0;
  std::function<std::int64_t()> now;
  /// The time an empty (unstamped) value counts as written at; the maximum
  /// (keep) until the open has read it.
  std::atomic<std::int64_t> legacy_at{std::numeric_limits<std::int64_t>::max()};

  std::int64_t clock() const {
    if (now) {
      return now();
    }
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
  }
};

namespace {

/// Shared by every column family's block-based tables.
constexpr std::size_t block_cache_bytes = 64 << 20;
/// Memtables of all families together before the largest is flushed.
constexpr std::size_t total_write_buffer_bytes = 128 << 20;
/// A WAL older than this much newer WAL forces a flush of the families that
/// pin it (rarely written families such as aux would otherwise pin all WALs).
constexpr std::uint64_t max_total_wal_bytes = 256 << 20;
/// Initial capacity of the group's WriteBatch, and the capacity above which
/// it is given back after a large group.
constexpr std::size_t write_batch_reserve = 64 << 10;
constexpr std::size_t write_batch_shrink_above = 16 << 20;
/// Queue capacity kept between groups; more is released after a burst.
constexpr std::size_t max_idle_queue_capacity = 1 << 16;
/// How often the free-space guard looks at the disk while space is ample.
constexpr auto disk_check_interval = std::chrono::milliseconds{20};
/// Below this much free space a WAL write may meet a full disk (one group
/// is at most a few MB; flushes and compactions write besides): the guard
/// looks before every group, and a group is written only once the groups
/// before it are synced, never during an fsync.
constexpr std::uint64_t wal_margin_bytes = 64 << 20;
/// RocksDB encodes key and value lengths as 32-bit varints.
constexpr std::size_t max_field_bytes
  = std::numeric_limits<std::uint32_t>::max();

rocksdb::CompressionType pick_compression() {
  auto supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  if (has(rocksdb::kLZ4Compression)) {
    return rocksdb::kLZ4Compression;
  }
  if (has(rocksdb::kSnappyCompression)) {
    return rocksdb::kSnappyCompression;
  }
  return rocksdb::kNoCompression;
}

/// Families read mostly by point lookups get a bloom filter (whole key, on
/// disk and in the memtable): actors on activation, dedupe on every message
/// (mostly misses), aux for component records.
bool point_lookups(cf family) {
  return family == cf::actors || family == cf::dedupe || family == cf::aux;
}

/// The part of a key its neighbours in one write share: the owner (up to and
/// including the first NUL, or the whole key) in every family but the
/// outbox, whose big-endian sequence shares its first six bytes. RocksDB
/// keeps the memtable position of the last insert per prefix, so the next
/// journal entry, dedupe id or outbox message of the same owner is inserted
/// from there instead of searched from the skiplist's top: the search was a
/// fifth of the commit thread under load (cache misses in a large memtable).
///
/// RocksDB 7.8 looks up the hint of a range tombstone's start key too, and
/// applies it to the range-tombstone table, where a point table's position
/// is wrong (an assertion in InlineSkipList::FindSpliceForLevel). The
/// journal is trimmed by range deletes that start at version 0 (the host),
/// which no entry has: in the journal such a key is out of the domain, so
/// it is inserted without a hint and entries keep theirs.
class insert_hint final : public rocksdb::SliceTransform {
public:
  enum class shape : std::uint8_t { owner, sequence, journal };

  explicit insert_hint(shape s) : shape_(s) {}
  const char* Name() const override {
    switch (shape_) {
      case shape::sequence: return "ordo.sequence_hint";
      case shape::journal: return "ordo.journal_hint";
      case shape::owner: break;
    }
    return "ordo.owner_hint";
  }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    if (shape_ == shape::sequence) {
      return {key.data(), std::min<std::size_t>(key.size(), 6)};
    }
    const void* nul = std::memchr(key.data(), '\0', key.size());
    auto n = nul == nullptr ? key.size()
                            : static_cast<std::size_t>(
                              static_cast<const char*>(nul) - key.data() + 1);
    return {key.data(), n};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return shape_ != shape::journal || !trims_from_version_zero(key);
  }

  /// True where a range delete from `begin` takes no hint: in the journal,
  /// from an owner's version 0. (Nowhere else deletes by range.)
  static bool may_start_a_range(cf family, const std::string& begin) {
    return family == cf::journal && trims_from_version_zero(begin);
  }

private:
  /// owner NUL be64(0): where the host's journal trims start.
  static bool trims_from_version_zero(const rocksdb::Slice& key) {
    constexpr std::size_t version = 8;
    if (key.size() < version + 1 || key[key.size() - version - 1] != '\0') {
      return false;
    }
    for (std::size_t i = key.size() - version; i < key.size(); ++i) {
      if (key[i] != '\0') {
        return false;
      }
    }
    return true;
  }

  shape shape_;
};

/// batch::add: the stored value and each addition are codec::sums, added
/// element by element. Associative, so RocksDB may fold additions into one
/// another before it meets the stored value (flush, compaction, reads).
class sum_operator final : public rocksdb::AssociativeMergeOperator {
public:
  const char* Name() const override {
    return "ordo.sum";
  }
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger*) const override {
    auto sum = codec::add_sums(
      existing == nullptr
        ? std::string_view{}
        : std::string_view{existing->data(), existing->size()},
      std::string_view{value.data(), value.size()});
    if (!sum) {
      return false; // not sums: the read or compaction reports corruption
    }
    *new_value = std::move(*sum);
    return true;
  }
};

rocksdb::ColumnFamilyOptions
family_options(cf family, bool bloom,
               const std::shared_ptr<rocksdb::Cache>& cache,
               rocksdb::CompressionType compression) {
  rocksdb::ColumnFamilyOptions o;
  o.compression = compression;
  o.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  if (bloom) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    o.memtable_whole_key_filtering = true;
    o.memtable_prefix_bloom_size_ratio = 0.02;
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  using shape = insert_hint::shape;
  o.memtable_insert_with_hint_prefix_extractor
    = std::make_shared<insert_hint>(family == cf::outbox    ? shape::sequence
                                    : family == cf::journal ? shape::journal
                                                            : shape::owner);
  if (family == cf::actors) {
    static const auto sums = std::make_shared<sum_operator>();
    o.merge_operator = sums;
  }
  return o;
}

/// Where the first open with a dedupe retention is recorded (keys.hpp).
constexpr std::string_view stamped_since_key = "storage/dedupe_stamped_since";

/// Drops dedupe records older than the retention (store_options). One per
/// compaction, on RocksDB's compaction threads; reads the clock once.
class retention_filter final : public rocksdb::CompactionFilter {
public:
  explicit retention_filter(const rocks_store::retention& r)
    : window_(r.window), now_(r.clock()),
      legacy_at_(r.legacy_at.load(std::memory_order_acquire)) {}
  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value,
              std::string*, bool*) const override {
    std::int64_t at = legacy_at_;
    if (!value.empty()) {
      auto stamp = keys::from_be64({value.data(), value.size()});
      if (!stamp) {
        return false; // not ours to judge: keep
      }
      at = static_cast<std::int64_t>(*stamp);
    }
    // Older than the window: now - at > window, without overflow.
    return at < now_ && now_ - at > window_;
  }
  const char* Name() const override {
    return "ordo.dedupe_retention";
  }

private:
  const std::int64_t window_;
  const std::int64_t now_;
  const std::int64_t legacy_at_;
};

class retention_factory final : public rocksdb::CompactionFilterFactory {
public:
  explicit retention_factory(std::shared_ptr<rocks_store::retention> r)
    : r_(std::move(r)) {}
  std::unique_ptr<rocksdb::CompactionFilter>
  CreateCompactionFilter(const rocksdb::CompactionFilter::Context&) override {
    return std::make_unique<retention_filter>(*r_);
  }
  const char* Name() const override {
    return "ordo.dedupe_retention";
  }

private:
  std::shared_ptr<rocks_store::retention> r_;
};

/// The smallest key greater than every key starting with `prefix`; empty
/// when there is none (prefix empty or all 0xff).
std::string prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(s.back());
    if (last != 0xff) {
      ++last;
      return s;
    }
    s.pop_back();
  }
  return s;
}

rocksdb::Slice to_slice(std::string_view s) {
  return {s.data(), s.size()};
}

std::string_view to_view(const rocksdb::Slice& s) {
  return {s.data(), s.size()};
}

/// Free bytes for an unprivileged writer on the file system of `path`;
/// nullopt if it cannot be read.
std::optional<std::uint64_t> free_bytes(const std::string& path) {
  struct statvfs v {};
  if (::statvfs(path.c_str(), &v) != 0) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(v.f_bavail)
         * static_cast<std::uint64_t>(v.f_frsize);
}

std::string mib(std::uint64_t bytes) {
  auto tenths = bytes * 10 / (1 << 20);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10)
         + " MiB";
}

/// RocksDB's info log (the LOG file of a writable database) written with
/// stdio. RocksDB's own file logger asserts (Debian keeps assertions) on the
/// first line after a write of that file failed, so on a full disk a log
/// line would end the process; here a line the disk has no room for is
/// lost, and nothing else.
class stdio_logger final : public rocksdb::Logger {
public:
  /// Takes `f` (nullptr: every line is dropped).
  stdio_logger(std::FILE* f, rocksdb::InfoLogLevel level)
    : rocksdb::Logger(level), f_(f) {}
  ~stdio_logger() override {
    if (f_ != nullptr) {
      std::fclose(f_);
    }
  }
  stdio_logger(const stdio_logger&) = delete;
  stdio_logger& operator=(const stdio_logger&) = delete;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (f_ == nullptr) {
      return;
    }
    // "2026/12/07-09:22:31.391123 7f3c2e7fc6c0 message", as RocksDB's own.
    using namespace std::chrono;
    auto now = system_clock::now();
    auto secs = system_clock::to_time_t(now);
    auto micros = static_cast<long long>(
      duration_cast<microseconds>(now.time_since_epoch()).count() % 1'000'000);
    std::tm t{};
    ::localtime_r(&secs, &t);
    char head[64];
    std::snprintf(head, sizeof head,
                  "%04d/%02d/%02d-%02d:%02d:%02d.%06lld %lx ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  micros, static_cast<unsigned long>(::pthread_self()));
    std::string line = head;
    va_list again;
    va_copy(again, ap);
    auto n = std::vsnprintf(nullptr, 0, format, again);
    va_end(again);
    if (n > 0) {
      auto at = line.size();
      line.resize(at + static_cast<std::size_t>(n) + 1);
      std::vsnprintf(line.data() + at, static_cast<std::size_t>(n) + 1, format,
                     ap);
      line.resize(at + static_cast<std::size_t>(n));
    }
    if (line.back() != '\n') {
      line += '\n';
    }
    std::lock_guard<std::mutex> guard(mu_);
    std::fwrite(line.data(), 1, line.size(), f_);
    std::fflush(f_);
    std::clearerr(f_); // a full disk: the line is lost, the next may fit
  }
  void Flush() override {
    if (f_ != nullptr) {
      std::lock_guard<std::mutex> guard(mu_);
      std::fflush(f_);
      std::clearerr(f_);
    }
  }

private:
  std::mutex mu_;
  std::FILE* const f_;
};

/// The info log of the writable database at `path`, as RocksDB would open
/// it: the last LOG kept as LOG.old.MICROS (RocksDB prunes those to
/// keep_log_file_num).
std::shared_ptr<rocksdb::Logger> open_info_log(const std::string& path,
                                               rocksdb::InfoLogLevel level) {
  auto log = path + "/LOG";
  std::error_code ec;
  if (std::filesystem::exists(log, ec)) {
    using namespace std::chrono;
    auto micros
      = duration_cast<microseconds>(system_clock::now().time_since_epoch())
          .count();
    std::filesystem::rename(log, log + ".old." + std::to_string(micros), ec);
  }
  return std::make_shared<stdio_logger>(std::fopen(log.c_str(), "a"), level);
}

const status& ok_status() {
  static const status ok;
  return ok;
}

/// Bucket upper bounds of commit_stats::group_sizes (batches per group).
const std::vector<double> group_size_bounds{1,  2,   4,   8,   16,   32,
                                            64, 128, 256, 512, 1024, 4096};
/// Bucket upper bounds of commit_stats::sync_seconds.
const std::vector<double> sync_seconds_bounds{
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25};

} // namespace

struct rocks_store::histograms {
  le_histogram group_sizes{group_size_bounds};
  le_histogram sync_seconds{sync_seconds_bounds};
};

rocks_store::rocks_store(const store_options& opts)
  : opts_(opts), retention_(std::make_shared<retention>()),
    wb_(write_batch_reserve), hist_(std::make_unique<histograms>()) {
  opts_.max_group = std::max<std::size_t>(opts_.max_group, 1);
  retention_->window = opts_.dedupe_retention_ms;
  retention_->now = opts_.now;
}

rocks_store::~rocks_store() {
  close();
}

std::unique_ptr<rocks_store> rocks_store::open(const store_options& opts,
                                               std::string* err) {
  auto fail = [err](std::string message) {
    if (err != nullptr) {
      *err = std::move(message);
    }
    return nullptr;
  };
  std::unique_ptr<rocks_store> self(new rocks_store(opts));
  if (!opts.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(opts.path, ec);
    if (ec) {
      return fail("storage: cannot create " + opts.path + ": " + ec.message());
    }
  }
  // On a disk already short of space even opening writable writes (a new
  // MANIFEST, a flush of the WAL replayed), and RocksDB aborts when that
  // fails: serve reads from a read-only open until space returns.
  auto free = free_bytes(opts.path);
  bool short_of_space = !opts.read_only && opts.min_free_bytes > 0 && free
                        && *free < opts.min_free_bytes
                        && std::filesystem::exists(opts.path + "/CURRENT");
  auto st = self->open_db(opts.read_only || short_of_space);
  if (!st.ok()) {
    return fail("storage: cannot open " + opts.path + ": " + st.ToString());
  }
  if (!opts.read_only && !short_of_space) {
    if (auto why = self->stamp_legacy_dedupe(); !why.empty()) {
      return fail(why);
    }
  }
  if (short_of_space) {
    self->read_only_until_room_ = true;
    self->disk_low_ = true;
    self->short_of_space_.store(true);
    self->free_bytes_.store(*free);
    self->set_refusal("disk nearly full at start-up: " + mib(*free)
                      + " free, writes need " + mib(opts.min_free_bytes)
                      + " (--min-free-disk); open read-only until then");
    log::warn("storage", "refusing writes: " + self->refusal_);
  }
  if (!opts.read_only) {
    self->thread_ = std::thread([s = self.get()] {
      s->run();
    });
    if (opts.sync) {
      self->syncer_ = std::thread([s = self.get()] {
        s->sync_loop();
      });
    }
  }
  return self;
}

rocksdb::Status rocks_store::open_db(bool read_only) {
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = !read_only;
  db_opts.create_missing_column_families = !read_only;
  db_opts.max_background_jobs = 2;
  db_opts.db_write_buffer_size = total_write_buffer_bytes;
  db_opts.max_total_wal_size = max_total_wal_bytes;
  db_opts.keep_log_file_num = 5;
  if (!read_only) {
    db_opts.info_log = open_info_log(opts_.path, db_opts.info_log_level);
  }

  // Open every family the database already has (RocksDB refuses a writable
  // open otherwise) plus ours; read-only opens only what exists.
  std::vector<std::string> existing;
  bool listed
    = rocksdb::DB::ListColumnFamilies(db_opts, opts_.path, &existing).ok();
  auto exists = [&](const std::string& name) {
    return std::find(existing.begin(), existing.end(), name) != existing.end();
  };

  if (!cache_) {
    cache_ = rocksdb::NewLRUCache(block_cache_bytes);
  }
  auto compression = pick_compression();
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  std::vector<int> family_of; // index into cfs_, or -1 for other families
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName,
                     family_options(cf::aux, false, cache_, compression));
  family_of.push_back(-1);
  for (std::size_t i = 0; i < cf_count; ++i) {
    auto family = static_cast<cf>(i);
    std::string name = to_string(family);
    if (read_only && listed && !exists(name)) {
      continue;
    }
    descs.emplace_back(
      name, family_options(family, point_lookups(family), cache_, compression));
    if (family == cf::dedupe && opts_.dedupe_retention_ms > 0) {
      auto& o = descs.back().options;
      o.compaction_filter_factory
        = std::make_shared<retention_factory>(retention_);
      // Files untouched by writes are still compacted (and filtered) once
      // a window, so nothing outlives two windows.
      o.periodic_compaction_seconds = std::max<std::uint64_t>(
        static_cast<std::uint64_t>(opts_.dedupe_retention_ms / 1000), 1);
    }
    family_of.push_back(static_cast<int>(i));
  }
  for (const auto& name : existing) {
    bool known = name == rocksdb::kDefaultColumnFamilyName;
    for (std::size_t i = 0; i < cf_count && !known; ++i) {
      known = name == to_string(static_cast<cf>(i));
    }
    if (!known) {
      descs.emplace_back(name,
                         family_options(cf::aux, false, cache_, compression));
      family_of.push_back(-1);
    }
  }

  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  auto st = read_only
              ? rocksdb::DB::OpenForReadOnly(db_opts, opts_.path, descs,
                                             &handles, &raw)
              : rocksdb::DB::Open(db_opts, opts_.path, descs, &handles, &raw);
  if (!st.ok()) {
    return st;
  }
  db_.reset(raw);
  cfs_.assign(cf_count, nullptr);
  other_cfs_.clear();
  for (std::size_t i = 0; i < handles.size(); ++i) {
    if (family_of[i] >= 0) {
      cfs_[static_cast<std::size_t>(family_of[i])] = handles[i];
    } else {
      other_cfs_.push_back(handles[i]);
    }
  }
  return st;
}

void rocks_store::close_db() {
  for (auto* h : cfs_) {
    if (h != nullptr) {
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
  }
  for (auto* h : other_cfs_) {
    db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  cfs_.clear();
  other_cfs_.clear();
  db_->Close().PermitUncheckedError();
  db_.reset();
}

std::string rocks_store::stamp_legacy_dedupe() {
  if (opts_.dedupe_retention_ms <= 0) {
    return {};
  }
  // Records without a time were all written before the first open that
  // records this; they count as written then.
  auto* aux = handle(cf::aux);
  std::string since;
  auto got = db_->Get(rocksdb::ReadOptions(), aux, to_slice(stamped_since_key),
                      &since);
  auto at = keys::from_be64(since);
  if (!got.ok() || !at) {
    auto now = retention_->clock();
    rocksdb::WriteOptions w;
    w.sync = true;
    auto put = db_->Put(w, aux, to_slice(stamped_since_key),
                        keys::be64(static_cast<std::uint64_t>(now)));
    if (!put.ok()) {
      return "storage: cannot write to " + opts_.path + ": " + put.ToString();
    }
    at = static_cast<std::uint64_t>(now);
  }
  retention_->legacy_at.store(static_cast<std::int64_t>(*at),
                              std::memory_order_release);
  return {};
}

bool rocks_store::reopen_writable(std::string* why) {
  std::unique_lock<std::shared_mutex> guard(db_mu_);
  close_db();
  auto st = open_db(false);
  if (st.ok()) {
    read_only_until_room_ = false;
    if (auto stamped = stamp_legacy_dedupe(); !stamped.empty()) {
      *why = stamped;
      return false;
    }
    return true;
  }
  *why = "cannot open for writes yet: " + st.ToString();
  if (!open_db(true).ok()) {
    // Neither: nothing can be read or written; a restart must sort it out.
    failed_ = status::error("storage: " + *why);
  }
  return false;
}

void rocks_store::commit(batch b, callback done) {
  if (opts_.read_only) {
    done(status::error("storage: the store is open read-only"));
    return;
  }
  bool notify = false;
  {
    std::unique_lock<std::mutex> guard(mu_);
    if (closing_) {
      guard.unlock();
      done(status::error("storage: the store is closed"));
      return;
    }
    queue_.push_back(pending{std::move(b), std::move(done), false, false});
    notify = idle_;
  }
  if (notify) {
    cv_.notify_one();
  }
}

status rocks_store::commit_sync(batch b) {
  std::promise<status> result;
  auto future = result.get_future();
  commit(std::move(b), [this, &result](const status& s) {
    if (!s.ok()) {
      result.set_value(s);
      return;
    }
    after_durable([&result] {
      result.set_value(ok_status());
    });
  });
  return future.get();
}

void rocks_store::after_durable(std::function<void()> fn) {
  if (!opts_.sync || opts_.read_only) {
    fn();
    return;
  }
  {
    std::lock_guard<std::mutex> guard(sync_mu_);
    // Read under the lock, so the waiters' groups never decrease.
    auto group = write_began_.load();
    if (group > synced_ && !sync_stopped_) {
      durable_waiting_.push_back({group, std::move(fn)});
      return;
    }
  }
  fn();
}

void rocks_store::sync_loop() {
  std::vector<durable_waiter> due;
  for (;;) {
    std::uint64_t target = 0;
    {
      std::unique_lock<std::mutex> guard(sync_mu_);
      sync_cv_.wait(guard, [this] {
        return written_ > synced_ || sync_stopping_;
      });
      if (written_ == synced_) {
        return; // stopping, and everything written is synced
      }
      target = written_;
    }
    if (opts_.fault) {
      static_cast<void>(opts_.fault("store.before_sync"));
    }
    auto start = std::chrono::steady_clock::now();
    rocksdb::Status st;
    bool wal_failed = false;
    {
      std::lock_guard<std::mutex> wal_guard(wal_mu_);
      wal_failed = wal_failed_.load();
      if (!wal_failed) {
        std::shared_lock<std::shared_mutex> db_guard(db_mu_);
        st = db_->SyncWAL();
      }
    }
    if (wal_failed || !st.ok()) {
      if (wal_failed || st.IsNoSpace() || resume_needed_.load()) {
        // A write failed (a full disk; the commit thread resumes RocksDB
        // once the guard sees room) or the disk is full. Until a resume
        // nothing new is acknowledged (and a close leaves it
        // unacknowledged); after a write error other than a full disk, for
        // good (fail-stop, see write_group).
        std::unique_lock<std::mutex> guard(sync_mu_);
        if (sync_stopping_) {
          return;
        }
        sync_cv_.wait_for(guard, disk_check_interval);
        continue;
      }
      // What the WAL holds is unknown now, and callers would be told their
      // writes are durable: stop, as PostgreSQL does after a failed fsync.
      // A restart replays the WAL.
      log::error("storage",
                 "fsync of the WAL failed, stopping: " + st.ToString());
      std::abort();
    }
    auto elapsed = std::chrono::steady_clock::now() - start;
    syncs_.fetch_add(1, std::memory_order_relaxed);
    sync_micros_.fetch_add(
      static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()),
      std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> guard(hist_mu_);
      hist_->sync_seconds.observe(
        std::chrono::duration<double>(elapsed).count());
    }
    {
      std::lock_guard<std::mutex> guard(sync_mu_);
      synced_ = target;
      synced_cv_.notify_all();
      auto covered
        = std::find_if(durable_waiting_.begin(), durable_waiting_.end(),
                       [target](const durable_waiter& w) {
                         return w.group > target;
                       });
      due.assign(std::make_move_iterator(durable_waiting_.begin()),
                 std::make_move_iterator(covered));
      durable_waiting_.erase(durable_waiting_.begin(), covered);
    }
    for (auto& w : due) {
      w.fn();
    }
    due.clear();
  }
}

void rocks_store::stop_syncer() {
  if (!syncer_.joinable()) {
    return;
  }
  {
    std::lock_guard<std::mutex> guard(sync_mu_);
    sync_stopping_ = true;
  }
  sync_cv_.notify_one();
  syncer_.join();
  std::vector<durable_waiter> left;
  {
    std::lock_guard<std::mutex> guard(sync_mu_);
    sync_stopped_ = true;
    left.swap(durable_waiting_);
  }
  // The syncer synced everything written before it stopped, unless the disk
  // was full: then what waits is not durable and is dropped unanswered (the
  // node is stopping; its callers see the connection close).
  left.clear();
}

void rocks_store::run() {
  // RocksDB counts into a thread-local perf context on every key comparison
  // by default; nothing reads it, and the lookups cost ~5% of this thread.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  std::vector<pending> taken;
  for (;;) {
    {
      std::unique_lock<std::mutex> guard(mu_);
      if (queue_.empty() && !closing_) {
        idle_ = true;
        cv_.wait(guard, [this] {
          return !queue_.empty() || closing_;
        });
        idle_ = false;
      }
      if (queue_.empty()) {
        return; // closing and drained
      }
      // Take everything: producers then fill the other buffer.
      taken.swap(queue_);
    }
    // Batches queued meanwhile wait for all of `taken`, so order holds.
    for (std::size_t i = 0; i < taken.size(); i += opts_.max_group) {
      auto n = std::min(opts_.max_group, taken.size() - i);
      write_group(taken.data() + i, taken.data() + i + n);
    }
    taken.clear();
    if (taken.capacity() > max_idle_queue_capacity) {
      taken.shrink_to_fit(); // give back the memory of a burst
    }
  }
}

void rocks_store::write_group(pending* first, pending* last) {
  auto fail_all = [&](const status& s) {
    failed_batches_.fetch_add(static_cast<std::uint64_t>(last - first),
                              std::memory_order_relaxed);
    for (auto* p = first; p != last; ++p) {
      p->done(s);
    }
  };
  if (auto refused = refusal_before_write(last - first)) {
    fail_all(*refused);
    return;
  }
  wb_.Clear();
  std::uint64_t accepted = 0;
  auto st = fill_write_batch(first, last, accepted);
  if (st.ok() && wb_.Count() > 0) {
    st = write_to_wal(accepted);
  }
  if (!st.ok()) {
    fail_all(after_failed_write(st));
    return;
  }
  if (opts_.fault && wb_.Count() > 0) {
    // Durable now, and nobody has been told: the window a crash here tests.
    static_cast<void>(opts_.fault("store.after_commit"));
  }
  batches_.fetch_add(accepted, std::memory_order_relaxed);
  static const status rejected = status::error(
    "storage: batch refused (unknown column family, oversized field, or a "
    "range delete outside an owner's journal)");
  static const status dropped = status::error(
    "storage: batch dropped: it was built on a batch that failed");
  for (auto* p = first; p != last; ++p) {
    if (p->rejected || p->dropped) {
      failed_batches_.fetch_add(1, std::memory_order_relaxed);
    }
    p->done(p->rejected ? rejected : p->dropped ? dropped : ok_status());
  }
  if (wb_.GetDataSize() > write_batch_shrink_above) {
    wb_ = rocksdb::WriteBatch(write_batch_reserve);
  }
}

std::optional<status> rocks_store::refusal_before_write(std::ptrdiff_t n) {
  if (!failed_.ok()) {
    return failed_;
  }
  if (!room_to_write()) {
    refused_batches_.fetch_add(static_cast<std::uint64_t>(n),
                               std::memory_order_relaxed);
    std::lock_guard<std::mutex> guard(refusal_mu_);
    return status::error("storage: " + refusal_);
  }
  if (opts_.fault && opts_.fault("store.before_commit")) {
    return status::error(
      "storage: write failed: injected fault at store.before_commit");
  }
  return std::nullopt;
}

bool rocks_store::writable(const write_op& op) const {
  bool bad_range = !op.range_end.empty()
                   && (op.range_end <= op.key
                       || !insert_hint::may_start_a_range(op.family, op.key));
  bool bad_add
    = op.add
      && (op.family != cf::actors || !op.value || op.value->size() % 8 != 0);
  return handle(op.family) != nullptr && op.key.size() <= max_field_bytes
         && (!op.value || op.value->size() <= max_field_bytes)
         && op.range_end.size() <= max_field_bytes && !bad_range && !bad_add;
}

rocksdb::Status rocks_store::fill_write_batch(pending* first, pending* last,
                                              std::uint64_t& accepted) {
  rocksdb::Status st;
  for (auto* p = first; p != last && st.ok(); ++p) {
    if (!p->b.still_valid()) {
      p->dropped = true;
      continue;
    }
    const auto& ops = p->b.ops();
    p->rejected = !std::all_of(ops.begin(), ops.end(), [this](const auto& op) {
      return writable(op);
    });
    if (p->rejected) {
      continue;
    }
    ++accepted;
    for (const auto& op : ops) {
      auto* h = handle(op.family);
      st = op.add                  ? wb_.Merge(h, op.key, *op.value)
           : op.value              ? wb_.Put(h, op.key, *op.value)
           : !op.range_end.empty() ? wb_.DeleteRange(h, op.key, op.range_end)
                                   : wb_.Delete(h, op.key);
      if (!st.ok()) {
        break;
      }
    }
  }
  return st;
}

rocksdb::Status rocks_store::write_to_wal(std::uint64_t accepted) {
  rocksdb::WriteOptions wo;
  wo.sync = false; // the syncer fsyncs, while the next group is written
  wo.disableWAL = false;
  if (tight_ && opts_.sync) {
    // A write that fails leaves the WAL unsyncable until a resume (see
    // wal_failed_): have what is written synced first, so that the
    // answers waiting for it need not wait for the disk to have room.
    std::unique_lock<std::mutex> guard(sync_mu_);
    synced_cv_.wait(guard, [this] {
      return synced_ >= written_;
    });
  }
  // Readers may see this group from here on (after_durable).
  auto group = write_began_.fetch_add(1) + 1;
  auto start = std::chrono::steady_clock::now();
  rocksdb::Status st;
  {
    std::unique_lock<std::mutex> wal_guard(wal_mu_, std::defer_lock);
    if (tight_) {
      wal_guard.lock();
    }
    // db_ is not guarded here: close joins this thread before destroying
    // it.
    st = db_->Write(wo, &wb_);
    if (!st.ok()) {
      wal_failed_ = true;
    }
  }
  if (!st.ok()) {
    if (opts_.sync) {
      take_back_group(group);
    }
    return st;
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  if (opts_.sync) {
    {
      std::lock_guard<std::mutex> guard(sync_mu_);
      written_ = group;
    }
    sync_cv_.notify_one();
  }
  commits_.fetch_add(1, std::memory_order_relaxed);
  records_.fetch_add(wb_.Count(), std::memory_order_relaxed);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed);
  sync_micros_.fetch_add(static_cast<std::uint64_t>(micros.count()),
                         std::memory_order_relaxed);
  std::lock_guard<std::mutex> guard(hist_mu_);
  hist_->group_sizes.observe(static_cast<double>(accepted));
  if (!opts_.sync) {
    hist_->sync_seconds.observe(std::chrono::duration<double>(elapsed).count());
  }
  return st;
}

void rocks_store::take_back_group(std::uint64_t group) {
  // Nothing of this group was written: whoever waits for it waits for the
  // groups before it (and the group's number is used again).
  std::vector<durable_waiter> due;
  {
    std::lock_guard<std::mutex> guard(sync_mu_);
    write_began_.store(group - 1);
    auto covered = durable_waiting_.begin();
    for (auto& w : durable_waiting_) {
      w.group = std::min(w.group, group - 1);
      if (w.group <= synced_) {
        ++covered;
      }
    }
    due.assign(std::make_move_iterator(durable_waiting_.begin()),
               std::make_move_iterator(covered));
    durable_waiting_.erase(durable_waiting_.begin(), covered);
  }
  for (auto& w : due) {
    w.fn();
  }
}

status rocks_store::after_failed_write(const rocksdb::Status& st) {
  if (st.IsNoSpace()) {
    // RocksDB stopped writes with a background error; nothing of this
    // group is durable. Resume it once the guard sees room again.
    resume_needed_ = true;
    disk_low_ = true;
    set_refusal("disk full: " + st.ToString());
    return status::error("storage: write failed: " + st.ToString());
  }
  // Fail-stop: after a failed write (e.g. a failed fsync) RocksDB's WAL is
  // in an unknown state, so nothing more is written or acknowledged.
  failed_ = status::error("storage: write failed: " + st.ToString());
  set_refusal("write failed, restart the node: " + st.ToString());
  return failed_;
}

bool rocks_store::room_to_write() {
  bool injected = opts_.fault && opts_.fault("store.disk_low");
  auto now = std::chrono::steady_clock::now();
  if (!injected && !disk_low_ && now < next_disk_check_) {
    return true;
  }
  auto free = free_bytes(opts_.path);
  if (free) {
    free_bytes_.store(*free, std::memory_order_relaxed);
  }
  // Close to the line, look before every group.
  tight_ = !free || *free < wal_margin_bytes;
  bool ample = !tight_ && *free / 2 >= opts_.min_free_bytes;
  next_disk_check_ = ample ? now + disk_check_interval : now;
  std::string why;
  if (injected) {
    why = "disk nearly full (injected fault at store.disk_low)";
  } else if (free && *free < opts_.min_free_bytes) {
    short_of_space_.store(true);
    why = "disk nearly full: " + mib(*free) + " free, writes need "
          + mib(opts_.min_free_bytes) + " (--min-free-disk)";
  } else if (read_only_until_room_) {
    reopen_writable(&why);
  } else if (resume_needed_) {
    // db_ is not guarded here: close joins this thread before destroying it.
    auto st = db_->Resume();
    if (!st.ok()) {
      why = "disk full, cannot resume writes yet: " + st.ToString();
    } else {
      // A new WAL: the syncer may fsync again.
      wal_failed_ = false;
      resume_needed_ = false;
    }
  }
  if (!why.empty()) {
    if (why.rfind("disk nearly full: ", 0) != 0) {
      short_of_space_.store(false);
    }
    if (!disk_low_) {
      log::warn("storage", "refusing writes: " + why);
    }
    disk_low_ = true;
    set_refusal(std::move(why));
    return false;
  }
  short_of_space_.store(false);
  if (disk_low_) {
    log::info("storage", "writes resumed (" + mib(free.value_or(0)) + " free)");
    disk_low_ = false;
    set_refusal("");
  }
  return true;
}

void rocks_store::set_refusal(std::string reason) {
  std::lock_guard<std::mutex> guard(refusal_mu_);
  refusal_ = std::move(reason);
}

write_health rocks_store::health() const {
  write_health h;
  {
    std::lock_guard<std::mutex> guard(refusal_mu_);
    h.reason = refusal_;
  }
  h.writable = h.reason.empty();
  h.free_bytes = free_bytes_.load(std::memory_order_relaxed);
  if (short_of_space_.load()) {
    // Nothing may be written to look again: space may have come back.
    if (auto free = free_bytes(opts_.path)) {
      h.free_bytes = *free;
      if (*free >= opts_.min_free_bytes) {
        h.writable = true;
        h.reason.clear();
      }
    }
  }
  h.refused = refused_batches_.load(std::memory_order_relaxed);
  return h;
}

std::optional<std::string> rocks_store::get(cf family, std::string_view key) {
  std::shared_lock<std::shared_mutex> guard(db_mu_);
  auto* h = handle(family);
  if (db_ == nullptr || h == nullptr) {
    return std::nullopt;
  }
  std::string value;
  auto st = db_->Get(rocksdb::ReadOptions(), h, to_slice(key), &value);
  if (!st.ok()) {
    return std::nullopt;
  }
  return value;
}

void rocks_store::scan(
  cf family, std::string_view prefix,
  const std::function<bool(std::string_view key, std::string_view value)>& fn) {
  scan_from(family, prefix, prefix, fn);
}

void rocks_store::scan_from(
  cf family, std::string_view prefix, std::string_view from,
  const std::function<bool(std::string_view key, std::string_view value)>& fn) {
  std::shared_lock<std::shared_mutex> guard(db_mu_);
  auto* h = handle(family);
  if (db_ == nullptr || h == nullptr) {
    return;
  }
  std::string upper = prefix_successor(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  if (!upper.empty()) {
    ro.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, h));
  auto p = to_slice(prefix);
  auto start = from > prefix ? from : prefix;
  for (it->Seek(to_slice(start)); it->Valid(); it->Next()) {
    auto key = it->key();
    if (!key.starts_with(p)) {
      break;
    }
    if (!fn(to_view(key), to_view(it->value()))) {
      break;
    }
  }
}

commit_stats rocks_store::stats() const {
  commit_stats s;
  s.commits = commits_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.records = records_.load(std::memory_order_relaxed);
  s.syncs = syncs_.load(std::memory_order_relaxed);
  s.sync_micros = sync_micros_.load(std::memory_order_relaxed);
  s.failed = failed_batches_.load(std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> guard(mu_);
    s.queued = queue_.size();
  }
  std::lock_guard<std::mutex> guard(hist_mu_);
  s.group_sizes = hist_->group_sizes.data();
  s.sync_seconds = hist_->sync_seconds.data();
  return s;
}

status rocks_store::compact(cf family) {
  std::shared_lock<std::shared_mutex> guard(db_mu_);
  auto* h = handle(family);
  if (db_ == nullptr || h == nullptr || opts_.read_only) {
    return status::error("storage: cannot compact "
                         + std::string{to_string(family)});
  }
  // Memtable first, so that what it holds is filtered too.
  auto st = db_->Flush(rocksdb::FlushOptions(), h);
  if (st.ok()) {
    rocksdb::CompactRangeOptions o;
    o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    st = db_->CompactRange(o, h, nullptr, nullptr);
  }
  if (!st.ok()) {
    return status::error("storage: compact: " + st.ToString());
  }
  return {};
}

std::uint64_t rocks_store::family_bytes(cf family) {
  std::shared_lock<std::shared_mutex> guard(db_mu_);
  auto* h = handle(family);
  if (db_ == nullptr || h == nullptr) {
    return 0;
  }
  std::uint64_t tables = 0;
  std::uint64_t memtables = 0;
  db_->GetIntProperty(h, rocksdb::DB::Properties::kTotalSstFilesSize, &tables);
  db_->GetIntProperty(h, rocksdb::DB::Properties::kSizeAllMemTables,
                      &memtables);
  return tables + memtables;
}

void rocks_store::close() {
  std::lock_guard<std::mutex> close_guard(close_mu_);
  if (closed_) {
    return;
  }
  closed_ = true;
  {
    std::lock_guard<std::mutex> guard(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  stop_syncer();
  std::unique_lock<std::shared_mutex> guard(db_mu_);
  if (db_ == nullptr) {
    return;
  }
  if (!opts_.read_only && !opts_.sync && !read_only_until_room_
      && !wal_failed_) {
    // Async commits already survive kill -9; make a clean shutdown survive
    // power loss too.
    db_->SyncWAL().PermitUncheckedError();
  }
  // Nothing more is written on a disk short of space: the WAL replays at
  // the next open.
  if (!opts_.read_only && !disk_low_ && !read_only_until_room_) {
    // A clean stop leaves its memtables in tables, so the next open has no
    // WAL to replay (up to max_total_wal_bytes of it: 1.1 s for 47 MB).
    rocksdb::FlushOptions flush;
    flush.allow_write_stall = true;
    std::vector<rocksdb::ColumnFamilyHandle*> families;
    for (auto* h : cfs_) {
      if (h != nullptr) {
        families.push_back(h);
      }
    }
    db_->Flush(flush, families).PermitUncheckedError();
  }
  close_db();
}

rocksdb::ColumnFamilyHandle* rocks_store::handle(cf family) const noexcept {
  auto i = static_cast<std::size_t>(family);
  return i < cfs_.size() ? cfs_[i] : nullptr;
}

} // namespace ordo::storage::detail
