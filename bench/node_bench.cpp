// Actor turns through a whole in-process node (Google Benchmark): the
// storage commit path as actors use it ("durable actor turns/s").
//
//   node_bench [--benchmark_filter=...]
//
// Each operation is one `put_sku` on a running node: a mail to an SKU actor,
// its turn (the pure machine), one batch with its snapshot and journal entry
// through the group commit, and the reply after the batch is durable.
// BM_turns: up to `window` turns in flight over 1,024 SKU actors, so group
//   commit can batch; items/s is durable turns per second. Args: sync (1 =
//   fsync per group commit, --durability sync), window.
// BM_turn_round_trip: one turn at a time on one SKU: the latency of a
//   durable turn (µs per iteration).
//
// The data directory is a fresh one under /tmp, removed afterwards.

#include <benchmark/benchmark.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/node.hpp"

using namespace ordo;

namespace {

constexpr int skus = 1024;

struct bench_node {
  std::string dir;
  std::unique_ptr<runtime::node> node;

  explicit bench_node(bool sync) {
    std::string pattern = "/tmp/ordo-node-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir = pattern;
    runtime::node_options o;
    o.data_dir = dir + "/db";
    o.sync = sync;
    o.audit_interval = 0;
    std::string err;
    node = runtime::node::start(o, &err);
    if (!node) {
      throw std::runtime_error(err);
    }
  }
  ~bench_node() {
    node->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

actors::inventory::put put_of(std::int64_t i) {
  actors::inventory::put p;
  p.price = 100;
  p.stock = 1'000'000 + i;
  return p;
}

void BM_turns(benchmark::State& state) {
  bench_node n{state.range(0) != 0};
  const auto window = static_cast<int>(state.range(1));
  std::vector<std::string> ids;
  for (int i = 0; i < skus; ++i) {
    ids.push_back("bench-" + std::to_string(i));
  }
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0; // guarded by mu
  bool failed = false;
  std::int64_t i = 0;
  for (auto _ : state) {
    {
      std::unique_lock<std::mutex> guard(mu);
      cv.wait(guard, [&] {
        return in_flight < window;
      });
      ++in_flight;
    }
    n.node->put_sku(ids[static_cast<std::size_t>(i % skus)], put_of(i),
                    [&](actors::result<actors::inventory::state> r) {
                      std::lock_guard<std::mutex> guard(mu);
                      failed = failed || !r.ok();
                      --in_flight;
                      cv.notify_all();
                    });
    ++i;
  }
  std::unique_lock<std::mutex> guard(mu);
  cv.wait(guard, [&] {
    return in_flight == 0;
  });
  if (failed) {
    state.SkipWithError("a turn failed");
  }
  state.SetItemsProcessed(state.iterations());
  auto s = n.node->stats();
  state.counters["avg_group"]
    = s.commits == 0
        ? 0.0
        : static_cast<double>(s.batches) / static_cast<double>(s.commits);
}
BENCHMARK(BM_turns)
  ->ArgNames({"sync", "window"})
  ->Args({1, 64})
  ->Args({1, 1024})
  ->Args({0, 1024})
  ->Iterations(100'000)
  ->UseRealTime();

void BM_turn_round_trip(benchmark::State& state) {
  bench_node n{state.range(0) != 0};
  std::mutex mu;
  std::condition_variable cv;
  std::int64_t i = 0;
  for (auto _ : state) {
    bool done = false;
    n.node->put_sku("one", put_of(i++),
                    [&](actors::result<actors::inventory::state>) {
                      std::lock_guard<std::mutex> guard(mu);
                      done = true;
                      cv.notify_all();
                    });
    std::unique_lock<std::mutex> guard(mu);
    cv.wait(guard, [&] {
      return done;
    });
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_turn_round_trip)
  ->ArgName("sync")
  ->Arg(1)
  ->Arg(0)
  ->Iterations(20'000)
  ->UseRealTime();

} // namespace

BENCHMARK_MAIN();
