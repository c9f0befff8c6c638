// Benchmarks of storage::store's commit and read paths (Google Benchmark).
//
//   storage_bench [--benchmark_filter=...]
//
// BM_commit: every benchmark thread commits batches of `records` puts (one
// snapshot, the rest journal entries: a turn's shape) without waiting (at
// most `window` in flight per thread, as actors with pending turns would)
// and waits for its last callback at the end; items/s is durable batches
// per second. Args: sync (1: fsync per group commit), records.
// BM_commit_sync: closed loop, one commit_sync at a time per thread.
// BM_get_hit / BM_get_miss: point lookups on 100k actor snapshots (30 MB,
// so mostly served from the memtable).
//
// The database lives in a fresh directory under /tmp, removed afterwards.

#include "storage/keys.hpp"
#include "storage/store.hpp"

#include <benchmark/benchmark.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

using namespace ordo::storage;

namespace {

constexpr int window = 4096;
constexpr int preloaded = 100'000;

/// One database per benchmark run, shared by its threads.
struct bench_db {
  std::string dir;
  std::unique_ptr<store> db;

  explicit bench_db(bool sync) {
    std::string pattern = "/tmp/ordo-storage-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir = pattern;
    store_options opts;
    opts.path = dir + "/db";
    opts.sync = sync;
    std::string err;
    db = store::open(opts, &err);
    if (db == nullptr) {
      throw std::runtime_error(err);
    }
  }
  ~bench_db() {
    db->close();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::unique_ptr<bench_db> shared; // set up and torn down by thread 0

std::string value_of_size(std::size_t n) {
  return std::string(n, 'v');
}

void report(benchmark::State& state) {
  auto s = shared->db->stats();
  state.counters["avg_group"]
    = s.commits == 0
        ? 0.0
        : static_cast<double>(s.batches) / static_cast<double>(s.commits);
  state.counters["wal_ms"] = static_cast<double>(s.sync_micros) / 1000.0;
}

void BM_commit(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared = std::make_unique<bench_db>(state.range(0) != 0);
  }
  auto value = value_of_size(100);
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0; // guarded by mu
  std::int64_t i = 0;
  std::string prefix = "t" + std::to_string(state.thread_index()) + "-";
  for (auto _ : state) {
    {
      std::unique_lock<std::mutex> guard(mu);
      cv.wait(guard, [&] {
        return in_flight < window;
      });
      ++in_flight;
    }
    batch b;
    auto id = prefix + std::to_string(i++);
    b.put(cf::actors, keys::owner("order", id), value);
    // The rest of a turn's records: journal entries of the same actor.
    for (std::int64_t r = 1; r < state.range(1); ++r) {
      b.put(cf::journal,
            keys::journal("order", id, static_cast<std::uint64_t>(r)), value);
    }
    shared->db->commit(std::move(b), [&](const status& s) {
      if (!s.ok()) {
        std::abort();
      }
      std::lock_guard<std::mutex> guard(mu);
      --in_flight;
      if (in_flight == 0 || in_flight == window - 1) {
        cv.notify_all();
      }
    });
    if (i == static_cast<std::int64_t>(state.max_iterations)) {
      std::unique_lock<std::mutex> guard(mu);
      cv.wait(guard, [&] {
        return in_flight == 0;
      });
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    report(state);
    shared.reset();
  }
}
BENCHMARK(BM_commit)
  ->ArgNames({"sync", "records"})
  ->Args({1, 1})
  ->Args({1, 5})
  ->Args({1, 20})
  ->Args({0, 1})
  ->Args({0, 5})
  ->Threads(1)
  ->Threads(8)
  ->Iterations(20000)
  ->UseRealTime();

void BM_commit_sync(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared = std::make_unique<bench_db>(state.range(0) != 0);
  }
  auto value = value_of_size(100);
  std::int64_t i = 0;
  std::string prefix = "t" + std::to_string(state.thread_index()) + "-";
  for (auto _ : state) {
    batch b;
    b.put(cf::actors, keys::owner("order", prefix + std::to_string(i++)),
          value);
    if (!shared->db->commit_sync(std::move(b)).ok()) {
      state.SkipWithError("commit failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    report(state);
    shared.reset();
  }
}
BENCHMARK(BM_commit_sync)
  ->ArgName("sync")
  ->Arg(1)
  ->Threads(1)
  ->Threads(8)
  ->Threads(32)
  ->UseRealTime();

void preload() {
  shared = std::make_unique<bench_db>(false);
  auto value = value_of_size(300);
  batch b;
  for (int i = 0; i < preloaded; ++i) {
    b.put(cf::actors, keys::owner("order", std::to_string(i)), value);
    if (b.size() == 1000) {
      shared->db->commit_sync(std::move(b)).ignore();
      b = batch();
    }
  }
}

void BM_get_hit(benchmark::State& state) {
  if (state.thread_index() == 0) {
    preload();
  }
  std::uint64_t x = 88172645463325252ull + state.thread_index();
  for (auto _ : state) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    auto v = shared->db->get(
      cf::actors, keys::owner("order", std::to_string(x % preloaded)));
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    shared.reset();
  }
}
BENCHMARK(BM_get_hit)->Threads(1)->Threads(2)->UseRealTime();

void BM_get_miss(benchmark::State& state) {
  if (state.thread_index() == 0) {
    preload();
  }
  std::int64_t i = 0;
  for (auto _ : state) {
    auto v = shared->db->get(
      cf::actors, keys::owner("order", "missing-" + std::to_string(i++)));
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    shared.reset();
  }
}
BENCHMARK(BM_get_miss)->Threads(1)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
