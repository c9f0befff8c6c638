// Benchmarks of the pure state machines and the codec (Google Benchmark):
// what one actor turn costs before any runtime, storage or network.
//
//   actors_bench [--benchmark_filter=...]
//
// BM_order_lifecycle: create (two SKUs answer), pay, complete: four order
//   turns; items/s is whole lifecycles.
// BM_sku_reserve_confirm: one SKU reserving then selling for one order: two
//   turns; items/s is orders.
// BM_order_pack / BM_order_unpack: an order snapshot to MessagePack and
//   back (what every order turn writes and every activation reads).

#include <benchmark/benchmark.h>

#include <string>

#include <nlohmann/json.hpp>

#include "actors/inventory.hpp"
#include "actors/order.hpp"
#include "storage/keys.hpp"

using namespace ordo::actors;

namespace {

constexpr millis t0 = 1'700'000'000'000;

order::create make_create() {
  order::create c;
  c.user_id = "u1";
  c.items = {{"A", 2}, {"B", 1}};
  c.coupon_id = "";
  c.affiliate_id = "aff1";
  c.fingerprint = "fp";
  c.token = 7;
  return c;
}

order::state paid_order() {
  order::state s;
  s.order_id = "o0012-9f3a000000000000";
  order::config cfg;
  order::handle(s, make_create(), {t0, &cfg});
  order::handle(s, order::reserved{"A", std::nullopt, 1999, item_kind::goods},
                {t0, &cfg});
  order::handle(s, order::reserved{"B", std::nullopt, 500, item_kind::goods},
                {t0, &cfg});
  order::handle(s, order::pay{"t1", s.payable, true}, {t0, &cfg});
  return s;
}

void BM_order_lifecycle(benchmark::State& st) {
  order::config cfg;
  std::int64_t n = 0;
  for (auto _ : st) {
    order::state s;
    s.order_id = "o0012-" + std::to_string(n++);
    auto o = order::handle(s, make_create(), {t0, &cfg});
    o = order::handle(
      s, order::reserved{"A", std::nullopt, 1999, item_kind::goods},
      {t0, &cfg});
    o = order::handle(
      s, order::reserved{"B", std::nullopt, 500, item_kind::goods}, {t0, &cfg});
    o = order::handle(s, order::pay{"t1", s.payable, true}, {t0 + 1, &cfg});
    o = order::handle(s, order::complete{}, {t0 + 2, &cfg});
    benchmark::DoNotOptimize(o);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_order_lifecycle);

void BM_sku_reserve_confirm(benchmark::State& st) {
  inventory::config cfg;
  inventory::state s;
  s.sku = "A";
  inventory::handle(s, inventory::put{100, 1'000'000'000, item_kind::goods},
                    {t0, &cfg});
  std::int64_t n = 0;
  for (auto _ : st) {
    auto id = "o" + std::to_string(n++);
    auto o = inventory::handle(s, inventory::reserve{id, 7, 1}, {t0, &cfg});
    o = inventory::handle(s, inventory::confirm{id, 7, 1}, {t0, &cfg});
    benchmark::DoNotOptimize(o);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_sku_reserve_confirm);

void BM_order_pack(benchmark::State& st) {
  auto s = paid_order();
  std::size_t bytes = 0;
  for (auto _ : st) {
    auto packed = ordo::storage::codec::pack(nlohmann::json(s));
    bytes = packed.size();
    benchmark::DoNotOptimize(packed);
  }
  st.counters["bytes"] = static_cast<double>(bytes);
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_order_pack);

void BM_order_unpack(benchmark::State& st) {
  auto packed = ordo::storage::codec::pack(nlohmann::json(paid_order()));
  for (auto _ : st) {
    order::state s;
    ordo::storage::codec::unpack(packed).get_to(s);
    benchmark::DoNotOptimize(s);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_order_unpack);

} // namespace

BENCHMARK_MAIN();
