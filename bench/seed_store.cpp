// Seeds a fresh data directory with N stored orders, written the way the
// runtime writes them, for start-up and memory benchmarks (bench/startup.sh).
//
//   seed_store --data DIR --orders N [--pending-share F] [--users U]
//              [--partitions P] [--batch B] [--ids FILE] [--side-effects]
//              [--keep-wal]
//
// Each order is driven through the order state machine itself
// (order_kind::handle: create, the SKUs' quote and reserve answers, then
// pay, complete or cancel, and the order's timer wherever it came due: the
// admin SMS handed over and confirmed), so its snapshot is the machine's
// own. What is stored
// is what the host's turns (runtime/detail/host_impl.hpp) leave behind once
// every message was delivered:
//   actors:  order/ID             -> the final snapshot (order_kind::persist)
//   aux:     user_orders/...      -> the user's index entry (same persist)
//   journal: order/ID NUL be64(v) -> one entry per transition {"v","e","c","t"}
//   timers:  order/ID NUL wake -> be64(due), for PENDING_PAYMENT orders
//            (their SMS's cooling period, then their deadline)
//   aux:     meta/partitions      -> be64(P), as the node's first start
// The outbox is left empty (all delivered), so is the dedupe family (the
// turns seeded here consume no message ids). The other actors the messages
// reached (SKUs, notifiers, the report shards) are not written: the orders
// name SKUs that do not exist, hold no coupon and no affiliate, and the
// pending ones' reservations are not recorded in any SKU. The auditor
// checks SKU -> order, coupon -> order and order -> affiliate, so this
// store audits clean (`ordo audit --data DIR`).
//
// Mix: `--pending-share` PENDING_PAYMENT (deadline one year ahead, so no
// timer fires during a run), the rest 50% COMPLETED, 30% CANCELLED (by the
// user, 20 s after create: a flash cancel), 20% PAID. Terminal orders were
// created over the last 30 days, pending ones in the last minute.
//
// --side-effects also writes the records the runtime's side-effect sinks
// keep for every order, which `ordo serve` loads at start-up: the sandbox
// payment provider's "close" call of each cancelled order (aux
// sandbox/close/ID) and the SMS log's "new_order" notice of each order not
// cancelled within the notify delay (aux sms/ID:new_order).
//
// --ids FILE lists the terminal orders' ids, cancelled first (a cancel of
// them changes nothing), then completed and paid (a cancel is refused with
// 409 and changes nothing either).
//
// The store is written with async durability in batches of `--batch` orders
// (one group commit each, two in flight), then closed and opened once more:
// RocksDB replays the WAL into level-0 tables on open, so the directory is
// left as a restarted node finds it after a clean shutdown and flush
// (--keep-wal skips that and leaves the memtables' worth in the WAL).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "gateway/detail/crypto.hpp"
#include "runtime/detail/kinds.hpp"
#include "runtime/ids.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace {

using namespace ordo;
using actors::millis;
using runtime::detail::order_kind;
namespace order = actors::order;

constexpr millis second = 1000;
constexpr millis day = 24 * 3600 * second;

struct options {
  std::string data;
  std::uint64_t orders = 0;
  double pending_share = 0.01;
  std::uint64_t users = 0; // 0: orders / 10
  std::uint32_t partitions = 64;
  std::uint64_t batch = 10'000;
  std::string ids;
  bool side_effects = false;
  bool keep_wal = false;
};

enum class fate { pending, completed, cancelled, paid };

/// Deterministic pseudo-random numbers (splitmix64).
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Order `i`'s fate: exactly every 1/pending_share-th order is pending (so
/// each batch has the same share), the others are drawn from the order's
/// number: completed, cancelled and paid 50/30/20.
fate fate_of(std::uint64_t i, double pending_share) {
  auto pending = [pending_share](std::uint64_t n) {
    return static_cast<std::uint64_t>(static_cast<double>(n) * pending_share);
  };
  if (pending(i + 1) > pending(i)) {
    return fate::pending;
  }
  auto r = mix(i) % 10;
  return r < 5 ? fate::completed : r < 8 ? fate::cancelled : fate::paid;
}

/// One order, driven through the machine turn by turn; what a turn with
/// an event leaves in the journal, and the timers the last turns armed.
class order_run {
public:
  order_run(const std::string& id, const order::config& cfg) : cfg_(cfg) {
    order_kind::init(s_, id);
  }

  /// Runs one turn; returns the requests it sent.
  std::vector<actors::envelope> turn(const order::input& in, millis now) {
    auto out = order_kind::handle(s_, in, now, cfg_);
    if (out.err) {
      throw std::runtime_error{"order " + s_.order_id + ": "
                               + out.err->message};
    }
    if (!out.event.empty()) {
      journal_.push_back({s_.version, storage::codec::pack({{"v", s_.version},
                                                            {"e", out.event},
                                                            {"c", out.cause},
                                                            {"t", now}})});
    }
    for (const auto& t : out.timers) {
      timers_[t.name] = t.due;
    }
    return std::move(out.requests);
  }

  /// Fires the order's timer for as long as it is due by `until`, as a
  /// running node would have: its admin SMS is handed over, and confirmed
  /// sent a second later.
  void wake_until(millis until) {
    for (auto due = order::wake_at(s_); due > 0 && due <= until;
         due = order::wake_at(s_)) {
      turn(order::wake{}, due);
      auto sms = order::sms_of(s_);
      if (sms && sms->new_order && sms->new_order->in_flight) {
        turn(order::sms_sent{sms->new_order->notification_id}, due + second);
      }
    }
  }

  const order::state& state() const {
    return s_;
  }

  /// The writes the turns' batches leave behind, net.
  void write(storage::batch& b) const {
    order_kind::persist(s_, {}, order::input{order::status_query{}}, b);
    for (const auto& [v, entry] : journal_) {
      b.put(storage::cf::journal,
            storage::keys::journal(order_kind::name, s_.order_id, v), entry);
    }
    for (const auto& [name, due] : timers_) {
      if (due > 0) {
        b.put(storage::cf::timers,
              storage::keys::owned(order_kind::name, s_.order_id, name),
              storage::keys::be64(static_cast<std::uint64_t>(due)));
      }
    }
  }

private:
  const order::config& cfg_;
  order::state s_;
  std::vector<std::pair<std::uint64_t, std::string>> journal_;
  std::map<std::string, millis> timers_;
};

/// The sandbox provider's record of a "close" call
/// (runtime/detail/builtin_provider.cpp).
void write_close(const std::string& id, storage::batch& b) {
  b.put(storage::cf::aux, "sandbox/close/" + id,
        storage::codec::pack({{"kind", "close"},
                              {"id", id},
                              {"order", id},
                              {"txn", ""},
                              {"amount", 0},
                              {"n", 1}}));
}

/// The SMS log's record of a sent "new_order" notice (runtime/detail/sms.cpp,
/// text as actors/notifier.cpp words it).
void write_sms(const std::string& id, storage::batch& b) {
  auto notification = id + ":" + actors::notifier::new_order_template;
  b.put(
    storage::cf::aux, "sms/" + notification,
    storage::codec::pack({{"order", id},
                          {"template", actors::notifier::new_order_template},
                          {"text", "ordo: new order " + id},
                          {"n", 1}}));
}

struct counts {
  std::uint64_t by_fate[4] = {0, 0, 0, 0};
  std::uint64_t ops = 0;
};

/// Builds orders [first, last) into one batch.
storage::batch build(const options& o, std::uint64_t first, std::uint64_t last,
                     millis now, std::vector<std::string> (&ids)[4],
                     counts& c) {
  // Terminal orders: the node's defaults. Pending: a deadline a year ahead.
  static const order::config terminal_cfg{};
  static const order::config pending_cfg = [] {
    order::config c;
    c.payment_timeout = 365 * day;
    return c;
  }();
  storage::batch b;
  for (auto i = first; i < last; ++i) {
    auto f = fate_of(i, o.pending_share);
    auto user = "u" + std::to_string(mix(i ^ 0x5eed) % o.users);
    auto key = "seed-" + std::to_string(i);
    auto id = runtime::order_id(user, key, o.partitions);
    millis created
      = f == fate::pending
          ? now - 60 * second + static_cast<millis>(i % 60'000)
          : now - 30 * day
              + static_cast<millis>(
                (static_cast<double>(i) / static_cast<double>(o.orders))
                * static_cast<double>(30 * day - 3 * day));
    order::create cmd;
    cmd.user_id = user;
    auto lines = 1 + mix(i ^ 0x17e5) % 3;
    nlohmann::json body_items = nlohmann::json::array();
    for (std::uint64_t l = 0; l < lines; ++l) {
      auto sku = "sku-" + std::to_string(mix(i * 7 + l) % 1000);
      if (std::any_of(cmd.items.begin(), cmd.items.end(),
                      [&](const order::requested_item& x) {
                        return x.sku == sku;
                      })) {
        continue;
      }
      auto q = static_cast<std::int64_t>(1 + mix(i * 11 + l) % 3);
      cmd.items.push_back({sku, q});
      body_items.push_back({{"quantity", q}, {"sku", sku}});
    }
    // As the gateway fingerprints a create (gateway/detail/validate.cpp).
    cmd.fingerprint = gateway::detail::sha256_hex(
      nlohmann::json{{"items", body_items}, {"user_id", user}}.dump());
    cmd.token = mix(i ^ 0x70ce);
    order_run run{id, f == fate::pending ? pending_cfg : terminal_cfg};
    // Every SKU answers the create's quote (several lines) and then its
    // reserve with the same price.
    auto answer = [&](const order::requested_item& item, bool quote) {
      order::reserved r;
      r.sku = item.sku;
      r.unit_price
        = 100 + static_cast<std::int64_t>(mix(i ^ item.quantity) % 10'000);
      r.quote = quote;
      return run.turn(r, created);
    };
    auto asked = run.turn(cmd, created);
    if (!asked.empty() && asked.front().type == "quote") {
      for (const auto& item : cmd.items) {
        answer(item, true);
      }
    }
    for (const auto& item : cmd.items) {
      answer(item, false);
    }
    switch (f) {
      case fate::pending: break;
      case fate::cancelled:
        run.turn(order::cancel{"user"}, created + 20 * second);
        break;
      case fate::paid:
      case fate::completed:
        run.turn(order::pay{"txn-" + id, run.state().payable, true},
                 created + 60 * second);
        if (f == fate::completed) {
          run.wake_until(created + 2 * day);
          run.turn(order::complete{}, created + 2 * day);
        }
        break;
    }
    run.wake_until(now);
    run.write(b);
    if (o.side_effects) {
      if (f == fate::cancelled) {
        write_close(id, b);
      } else {
        write_sms(id, b);
      }
    }
    ++c.by_fate[static_cast<int>(f)];
    ids[static_cast<int>(f)].push_back(std::move(id));
  }
  c.ops += b.size();
  return b;
}

int run(const options& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(o.data, ec) && !fs::is_empty(o.data, ec)) {
    std::cerr << "seed_store: " << o.data << " exists and is not empty\n";
    return 1;
  }
  auto started = std::chrono::steady_clock::now();
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  storage::store_options so;
  so.path = o.data;
  so.sync = false;
  std::string err;
  auto db = storage::store::open(so, &err);
  if (!db) {
    std::cerr << "seed_store: " << err << "\n";
    return 1;
  }
  // As node.cpp's check_partitions does on a node's first start.
  storage::batch meta;
  meta.put(storage::cf::aux, "meta/partitions",
           storage::keys::be64(o.partitions));
  auto s = db->commit_sync(std::move(meta));
  if (!s.ok()) {
    std::cerr << "seed_store: " << s.message() << "\n";
    return 1;
  }
  counts c;
  std::vector<std::string> ids[4];
  std::deque<std::future<storage::status>> in_flight;
  auto wait_one = [&] {
    auto st = in_flight.front().get();
    in_flight.pop_front();
    if (!st.ok()) {
      throw std::runtime_error{st.message()};
    }
  };
  for (std::uint64_t first = 0; first < o.orders; first += o.batch) {
    auto last = std::min(o.orders, first + o.batch);
    auto b = build(o, first, last, now, ids, c);
    if (in_flight.size() >= 2) {
      wait_one();
    }
    auto p = std::make_shared<std::promise<storage::status>>();
    in_flight.push_back(p->get_future());
    db->commit(std::move(b), [p](const storage::status& st) {
      p->set_value(st);
    });
  }
  while (!in_flight.empty()) {
    wait_one();
  }
  if (o.side_effects) {
    // The SMS log's count of notices sent (runtime/detail/sms.cpp).
    std::uint64_t sent = c.by_fate[0] + c.by_fate[1] + c.by_fate[2]
                         + c.by_fate[3]
                         - c.by_fate[static_cast<int>(fate::cancelled)];
    storage::batch count;
    count.put(storage::cf::aux, "sms-count",
              storage::codec::pack({{"sent", sent}}));
    auto cs = db->commit_sync(std::move(count));
    if (!cs.ok()) {
      std::cerr << "seed_store: " << cs.message() << "\n";
      return 1;
    }
  }
  db->close();
  db.reset();
  auto written = std::chrono::steady_clock::now();
  if (!o.keep_wal) {
    // Opening replays the WAL into level-0 tables and drops it.
    db = storage::store::open(so, &err);
    if (!db) {
      std::cerr << "seed_store: reopen: " << err << "\n";
      return 1;
    }
    db->close();
  }
  if (!o.ids.empty()) {
    std::ofstream out{o.ids};
    for (auto f : {fate::cancelled, fate::completed, fate::paid}) {
      for (const auto& id : ids[static_cast<int>(f)]) {
        out << id << '\n';
      }
    }
    if (!out) {
      std::cerr << "seed_store: cannot write " << o.ids << "\n";
      return 1;
    }
  }
  auto secs = [](auto d) {
    return std::chrono::duration<double>(d).count();
  };
  std::uintmax_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(o.data, ec)) {
    if (e.is_regular_file(ec)) {
      bytes += e.file_size(ec);
    }
  }
  std::printf("seeded %s: %llu orders (%llu pending, %llu completed, %llu "
              "cancelled, %llu paid), %llu users, %u partitions, %llu writes, "
              "%.1f s to write, %.1f s to settle, %.0f MB on disk\n",
              o.data.c_str(), static_cast<unsigned long long>(o.orders),
              static_cast<unsigned long long>(c.by_fate[0]),
              static_cast<unsigned long long>(c.by_fate[1]),
              static_cast<unsigned long long>(c.by_fate[2]),
              static_cast<unsigned long long>(c.by_fate[3]),
              static_cast<unsigned long long>(o.users), o.partitions,
              static_cast<unsigned long long>(c.ops), secs(written - started),
              secs(std::chrono::steady_clock::now() - written),
              static_cast<double>(bytes) / 1e6);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"Seeds a fresh ordo data directory with stored orders."};
  app.add_option("--data", o.data, "data directory to create")->required();
  app.add_option("--orders", o.orders, "orders to write")->required();
  app
    .add_option("--pending-share", o.pending_share,
                "share of PENDING_PAYMENT orders (default 0.01)")
    ->check(CLI::Range(0.0, 1.0));
  app.add_option("--users", o.users, "distinct users (default orders / 10)");
  app
    .add_option("--partitions", o.partitions,
                "partition count recorded for the node (default 64)")
    ->check(CLI::Range(1u, 65536u));
  app.add_option("--batch", o.batch, "orders per commit (default 10000)")
    ->check(CLI::PositiveNumber);
  app.add_option("--ids", o.ids, "write the terminal orders' ids here");
  app.add_flag("--side-effects", o.side_effects,
               "also write the sandbox provider's and the SMS log's records");
  app.add_flag("--keep-wal", o.keep_wal,
               "do not reopen the store to flush the WAL into tables");
  CLI11_PARSE(app, argc, argv);
  if (o.users == 0) {
    o.users = std::max<std::uint64_t>(1, o.orders / 10);
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "seed_store: " << e.what() << "\n";
    return 1;
  }
}
