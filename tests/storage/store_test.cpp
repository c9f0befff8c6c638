#include "storage/store.hpp"

#include "storage/keys.hpp"
#include "tests/storage/print.hpp"
#include "tests/support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace ordo::storage;
using namespace std::string_literals;

namespace {

struct store_fixture {
  ordo::test::temp_dir dir;

  store_options options(bool sync = true) const {
    store_options o;
    o.path = dir.sub("db");
    o.sync = sync;
    return o;
  }

  std::unique_ptr<store> open(const store_options& o) {
    std::string err;
    auto s = store::open(o, &err);
    BOOST_REQUIRE_MESSAGE(s != nullptr, "open failed: " << err);
    return s;
  }

  std::unique_ptr<store> open() {
    return open(options());
  }
};

std::vector<std::pair<std::string, std::string>>
scan_all(store& s, cf family, std::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  s.scan(family, prefix, [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
    return true;
  });
  return out;
}

batch one_put(cf family, std::string key, std::string value) {
  batch b;
  b.put(family, std::move(key), std::move(value));
  return b;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(store_unit, store_fixture)

BOOST_AUTO_TEST_CASE(commit_then_get_sees_the_value) {
  auto s = open();
  BOOST_TEST(!s->get(cf::actors, "order/o1").has_value());
  auto st = s->commit_sync(one_put(cf::actors, "order/o1", "snapshot"));
  BOOST_TEST(st.ok(), st.message());
  BOOST_TEST(s->get(cf::actors, "order/o1") == "snapshot"s);
  BOOST_TEST(!s->get(cf::journal, "order/o1").has_value());
}

BOOST_AUTO_TEST_CASE(values_may_hold_any_bytes) {
  auto s = open();
  std::string key = "k\0\xff"s;
  std::string value = "\0\1\2\xff"s;
  BOOST_TEST(s->commit_sync(one_put(cf::aux, key, value)).ok());
  BOOST_TEST(s->get(cf::aux, key) == value);
  BOOST_TEST(s->commit_sync(one_put(cf::aux, "empty", "")).ok());
  BOOST_TEST(s->get(cf::aux, "empty") == ""s);
}

BOOST_AUTO_TEST_CASE(delete_removes_the_key) {
  auto s = open();
  BOOST_TEST(s->commit_sync(one_put(cf::dedupe, "k", "")).ok());
  batch b;
  b.del(cf::dedupe, "k");
  b.del(cf::dedupe, "never-written");
  BOOST_TEST(s->commit_sync(std::move(b)).ok());
  BOOST_TEST(!s->get(cf::dedupe, "k").has_value());
}

BOOST_AUTO_TEST_CASE(later_ops_of_a_batch_win) {
  auto s = open();
  batch b;
  b.put(cf::actors, "a", "1");
  b.put(cf::actors, "a", "2");
  b.put(cf::actors, "b", "1");
  b.del(cf::actors, "b");
  BOOST_TEST(s->commit_sync(std::move(b)).ok());
  BOOST_TEST(s->get(cf::actors, "a") == "2"s);
  BOOST_TEST(!s->get(cf::actors, "b").has_value());
}

BOOST_AUTO_TEST_CASE(scan_returns_prefix_matches_in_key_order) {
  auto s = open();
  batch b;
  for (std::uint64_t v : {256, 2, 10, 1}) {
    b.put(cf::journal, keys::journal("order", "o1", v), std::to_string(v));
  }
  b.put(cf::journal, keys::journal("order", "o10", 1), "other");
  b.put(cf::journal, keys::journal("order", "o0", 1), "other");
  b.put(cf::journal, keys::owner("order", "o1"), "bare owner");
  b.put(cf::actors, keys::journal("order", "o1", 3), "other family");
  BOOST_TEST(s->commit_sync(std::move(b)).ok());

  auto rows = scan_all(*s, cf::journal, keys::owner_prefix("order", "o1"));
  BOOST_TEST_REQUIRE(rows.size() == 4u);
  std::vector<std::string> values;
  for (auto& [k, v] : rows) {
    values.push_back(v);
  }
  BOOST_TEST(values == (std::vector<std::string>{"1", "2", "10", "256"}),
             boost::test_tools::per_element());
  BOOST_TEST(rows[0].first == keys::journal("order", "o1", 1));
}

BOOST_AUTO_TEST_CASE(scan_stops_when_the_callback_returns_false) {
  auto s = open();
  batch b;
  for (std::uint64_t v = 0; v < 10; ++v) {
    b.put(cf::timers, keys::owned("order", "o1", keys::be64(v)), "");
  }
  BOOST_TEST(s->commit_sync(std::move(b)).ok());
  int calls = 0;
  s->scan(cf::timers, keys::owner_prefix("order", "o1"),
          [&](std::string_view, std::string_view) {
            return ++calls < 3;
          });
  BOOST_TEST(calls == 3);
}

BOOST_AUTO_TEST_CASE(scan_handles_prefixes_ending_in_ff_and_empty_prefixes) {
  auto s = open();
  batch b;
  b.put(cf::outbox, "a\xff"s, "1");
  b.put(cf::outbox, "a\xff\0"s, "2");
  b.put(cf::outbox, "a\xff\xff\xff"s, "3");
  b.put(cf::outbox, "b"s, "4");
  b.put(cf::outbox, "\xff\xff"s, "5");
  BOOST_TEST(s->commit_sync(std::move(b)).ok());
  BOOST_TEST(scan_all(*s, cf::outbox, "a\xff").size() == 3u);
  BOOST_TEST(scan_all(*s, cf::outbox, "\xff\xff").size() == 1u);
  BOOST_TEST(scan_all(*s, cf::outbox, "").size() == 5u);
  BOOST_TEST(scan_all(*s, cf::outbox, "c").empty());
}

BOOST_AUTO_TEST_CASE(commit_histograms_count_every_group_and_batch) {
  auto s = open(options(false));
  constexpr int n = 50;
  std::vector<std::future<status>> done;
  for (int i = 0; i < n; ++i) {
    auto p = std::make_shared<std::promise<status>>();
    done.push_back(p->get_future());
    s->commit(one_put(cf::aux, "h" + std::to_string(i), "v"),
              [p](const status& st) {
                p->set_value(st);
              });
  }
  for (auto& f : done) {
    BOOST_REQUIRE(f.get().ok());
  }
  // Group boundaries depend on timing; the totals do not.
  auto c = s->stats();
  const auto& g = c.group_sizes;
  BOOST_REQUIRE(g.counts.size() == g.bounds.size() + 1);
  BOOST_TEST(g.bounds.front() == 1.0);
  BOOST_TEST(g.bounds.back() == 4096.0);
  std::uint64_t groups = 0;
  for (auto k : g.counts) {
    groups += k;
  }
  BOOST_TEST(groups == g.count);
  BOOST_TEST(g.count == c.commits);
  BOOST_TEST(g.sum == static_cast<double>(c.batches));
  BOOST_TEST(c.batches == static_cast<std::uint64_t>(n));
  const auto& w = c.sync_seconds;
  BOOST_REQUIRE(w.counts.size() == w.bounds.size() + 1);
  BOOST_TEST(w.count == c.commits);
  BOOST_TEST(w.sum >= 0.0);

  // A lone commit is one group of one batch: the le="1" bucket.
  auto before = s->stats().group_sizes.counts[0];
  BOOST_REQUIRE(s->commit_sync(one_put(cf::aux, "lone", "v")).ok());
  BOOST_TEST(s->stats().group_sizes.counts[0] == before + 1);
}

BOOST_AUTO_TEST_CASE(a_batch_over_every_family_is_applied_whole) {
  auto o = options();
  {
    auto s = open(o);
    BOOST_TEST(s->commit_sync(one_put(cf::aux, "gone", "x")).ok());
    batch b;
    for (std::size_t i = 0; i < cf_count; ++i) {
      b.put(static_cast<cf>(i), "key", to_string(static_cast<cf>(i)));
    }
    b.del(cf::aux, "gone");
    BOOST_TEST(s->commit_sync(std::move(b)).ok());
    s->close();
  }
  auto s = open(o);
  for (std::size_t i = 0; i < cf_count; ++i) {
    auto family = static_cast<cf>(i);
    BOOST_TEST(s->get(family, "key") == std::string(to_string(family)));
  }
  BOOST_TEST(!s->get(cf::aux, "gone").has_value());
}

BOOST_AUTO_TEST_CASE(data_survives_close_and_reopen) {
  for (bool sync : {true, false}) {
    ordo::test::temp_dir dir2;
    store_options o;
    o.path = dir2.sub("nested/db");
    o.sync = sync;
    {
      auto s = open(o);
      for (int i = 0; i < 100; ++i) {
        s->commit(one_put(cf::actors, "k" + std::to_string(i), "v"),
                  [](const status&) {});
      }
      BOOST_TEST(s->commit_sync(one_put(cf::actors, "last", "v")).ok());
    } // destructor closes
    auto s = open(o);
    BOOST_TEST(scan_all(*s, cf::actors, "k").size() == 100u);
    BOOST_TEST(s->get(cf::actors, "last") == "v"s);
  }
}

BOOST_AUTO_TEST_CASE(close_runs_every_queued_commit) {
  auto o = options();
  constexpr int n = 5000;
  std::atomic<int> ok{0};
  {
    auto s = open(o);
    for (int i = 0; i < n; ++i) {
      s->commit(one_put(cf::outbox, keys::be64(i), "m"),
                [&ok](const status& st) {
                  if (st.ok()) {
                    ++ok;
                  }
                });
    }
    s->close();
    BOOST_TEST(ok.load() == n);
    s->close(); // idempotent
  }
  auto s = open(o);
  BOOST_TEST(scan_all(*s, cf::outbox, "").size() == std::size_t{n});
}

BOOST_AUTO_TEST_CASE(commit_after_close_fails_at_once) {
  auto s = open();
  s->close();
  bool called = false;
  bool ok = true;
  s->commit(one_put(cf::actors, "k", "v"), [&](const status& st) {
    called = true;
    ok = st.ok();
  });
  BOOST_TEST(called);
  BOOST_TEST(!ok);
  auto st = s->commit_sync(one_put(cf::actors, "k", "v"));
  BOOST_TEST(!st.ok());
  BOOST_TEST(!st.message().empty());
  BOOST_TEST(!s->get(cf::actors, "k").has_value());
  BOOST_TEST(scan_all(*s, cf::actors, "").empty());
}

BOOST_AUTO_TEST_CASE(read_only_open_sees_data_and_refuses_commits) {
  auto o = options();
  {
    auto s = open(o);
    BOOST_TEST(s->commit_sync(one_put(cf::timers, "t", "due")).ok());
  }
  o.read_only = true;
  auto s = open(o);
  BOOST_TEST(s->get(cf::timers, "t") == "due"s);
  BOOST_TEST(scan_all(*s, cf::timers, "").size() == 1u);
  auto st = s->commit_sync(one_put(cf::timers, "t2", "due"));
  BOOST_TEST(!st.ok());
  BOOST_TEST(!s->get(cf::timers, "t2").has_value());
}

BOOST_AUTO_TEST_CASE(read_only_open_of_a_missing_database_fails) {
  auto o = options();
  o.read_only = true;
  std::string err;
  BOOST_TEST(!store::open(o, &err));
  BOOST_TEST(!err.empty());
}

BOOST_AUTO_TEST_CASE(a_second_writer_is_refused) {
  auto s = open();
  std::string err;
  BOOST_TEST(!store::open(options(), &err));
  BOOST_TEST(!err.empty());
}

BOOST_AUTO_TEST_CASE(a_batch_with_an_unknown_family_fails_alone) {
  auto s = open();
  batch bad;
  bad.put(cf::actors, "half", "x");
  bad.put(static_cast<cf>(42), "k", "v");
  BOOST_TEST(!s->commit_sync(std::move(bad)).ok());
  BOOST_TEST(!s->get(cf::actors, "half").has_value());
  BOOST_TEST(s->commit_sync(one_put(cf::actors, "k", "v")).ok());
}

BOOST_AUTO_TEST_CASE(additions_sum_across_batches_groups_and_a_reopen) {
  auto o = options();
  auto read = [](store& s, const std::string& key) {
    auto bytes = s.get(cf::actors, key);
    BOOST_REQUIRE(bytes.has_value());
    return codec::read_sums(*bytes).value();
  };
  {
    auto s = open(o);
    // Writers on several threads, each adding without reading: the sum is
    // exact whatever groups the commit thread forms.
    constexpr int threads = 4;
    constexpr int per_thread = 500;
    std::vector<std::thread> writers;
    std::atomic<int> failed{0};
    for (int t = 0; t < threads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          batch b;
          b.add(cf::actors, "report/o0000\0sum"s, codec::sums({1, t, -2}));
          std::promise<bool> done;
          s->commit(std::move(b), [&](const status& st) {
            done.set_value(st.ok());
          });
          if (!done.get_future().get()) {
            ++failed;
          }
        }
      });
    }
    for (auto& w : writers) {
      w.join();
    }
    BOOST_TEST(failed.load() == 0);
    auto sums = read(*s, "report/o0000\0sum"s);
    BOOST_TEST((sums
                == std::vector<std::int64_t>{threads * per_thread,
                                             per_thread * (0 + 1 + 2 + 3),
                                             -2 * threads * per_thread}));
    // A longer addition extends the sums; a put replaces them.
    batch b;
    b.add(cf::actors, "k", codec::sums({1}));
    b.add(cf::actors, "k", codec::sums({1, 5}));
    BOOST_TEST(s->commit_sync(std::move(b)).ok());
    BOOST_TEST((read(*s, "k") == std::vector<std::int64_t>{2, 5}));
  }
  auto s = open(o); // replayed from the WAL
  BOOST_TEST(read(*s, "report/o0000\0sum"s).at(0) == 2000);
  BOOST_TEST(s->compact(cf::actors).ok()); // folded into one value
  BOOST_TEST(read(*s, "report/o0000\0sum"s).at(0) == 2000);
  batch more;
  more.add(cf::actors, "k", codec::sums({-2}));
  BOOST_TEST(s->commit_sync(std::move(more)).ok());
  BOOST_TEST((read(*s, "k") == std::vector<std::int64_t>{0, 5}));
  s->close();
  o.read_only = true; // `ordo inspect` of a stopped node
  auto ro = open(o);
  BOOST_TEST((read(*ro, "k") == std::vector<std::int64_t>{0, 5}));
}

BOOST_AUTO_TEST_CASE(an_addition_outside_actors_or_not_sums_fails_alone) {
  auto s = open();
  batch wrong_family;
  wrong_family.put(cf::actors, "half", "x");
  wrong_family.add(cf::aux, "k", codec::sums({1}));
  BOOST_TEST(!s->commit_sync(std::move(wrong_family)).ok());
  batch not_sums;
  not_sums.add(cf::actors, "k", "seven");
  BOOST_TEST(!s->commit_sync(std::move(not_sums)).ok());
  BOOST_TEST(!s->get(cf::actors, "half").has_value());
  BOOST_TEST(!s->get(cf::actors, "k").has_value());
  BOOST_TEST(!s->get(cf::aux, "k").has_value());
  batch fine;
  fine.add(cf::actors, "k", codec::sums({3}));
  BOOST_TEST(s->commit_sync(std::move(fine)).ok());
  BOOST_TEST((codec::read_sums(*s->get(cf::actors, "k")).value()
              == std::vector<std::int64_t>{3}));
}

BOOST_AUTO_TEST_CASE(journal_trims_by_range_among_hinted_entries) {
  // Journal entries are inserted from their owner's memtable hint; the
  // host's trims are range deletes from version 0 in the same memtable.
  // RocksDB 7.8 asserts (aborting this process) if a tombstone is inserted
  // from a point entry's hint: none may be.
  auto s = open();
  constexpr std::uint64_t keep = 5;
  constexpr std::uint64_t trim_every = 8;
  for (const char* id : {"o1", "o2"}) {
    for (std::uint64_t v = 1; v <= 40; ++v) {
      batch b;
      b.put(cf::journal, keys::journal("order", id, v), "e");
      if (v % trim_every == 0) {
        b.del_range(cf::journal, keys::journal("order", id, 0),
                    keys::journal("order", id, v - keep + 1));
      }
      BOOST_REQUIRE(s->commit_sync(std::move(b)).ok());
    }
  }
  for (const char* id : {"o1", "o2"}) {
    auto left = scan_all(*s, cf::journal, keys::owner_prefix("order", id));
    BOOST_REQUIRE_EQUAL(left.size(), keep);
    BOOST_TEST(left.front().first == keys::journal("order", id, 40 - keep + 1));
  }
}

BOOST_AUTO_TEST_CASE(a_range_delete_outside_an_owners_journal_fails_alone) {
  auto s = open();
  BOOST_REQUIRE(
    s->commit_sync(one_put(cf::journal, keys::journal("order", "o1", 1), "e"))
      .ok());
  BOOST_REQUIRE(s->commit_sync(one_put(cf::aux, "a/1", "x")).ok());
  batch elsewhere;
  elsewhere.del_range(cf::aux, "a/", "a/~");
  BOOST_TEST(!s->commit_sync(std::move(elsewhere)).ok());
  batch not_from_zero;
  not_from_zero.del_range(cf::journal, keys::journal("order", "o1", 1),
                          keys::journal("order", "o1", 9));
  BOOST_TEST(!s->commit_sync(std::move(not_from_zero)).ok());
  BOOST_TEST(s->get(cf::aux, "a/1").has_value());
  BOOST_TEST(s->get(cf::journal, keys::journal("order", "o1", 1)).has_value());
}

BOOST_AUTO_TEST_CASE(callbacks_run_in_commit_order_per_committer) {
  auto s = open();
  constexpr int threads = 8;
  constexpr int per_thread = 2000;
  // Written only by the commit thread; read after the futures resolve.
  std::vector<std::vector<int>> seen(threads);
  std::atomic<int> failures{0};
  std::vector<std::promise<void>> finished(threads);
  std::vector<std::thread> committers;
  for (int t = 0; t < threads; ++t) {
    committers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto key = keys::owned("t", std::to_string(t), keys::be64(i));
        s->commit(one_put(cf::dedupe, std::move(key), ""),
                  [&, t, i](const status& st) {
                    if (!st.ok()) {
                      ++failures;
                    }
                    seen[t].push_back(i);
                    if (i == per_thread - 1) {
                      finished[t].set_value();
                    }
                  });
      }
    });
  }
  for (auto& th : committers) {
    th.join();
  }
  for (auto& f : finished) {
    f.get_future().wait();
  }
  BOOST_TEST(failures.load() == 0);
  for (int t = 0; t < threads; ++t) {
    BOOST_TEST_REQUIRE(seen[t].size() == std::size_t{per_thread});
    for (int i = 0; i < per_thread; ++i) {
      BOOST_TEST_REQUIRE(seen[t][i] == i);
    }
    auto rows
      = scan_all(*s, cf::dedupe, keys::owner_prefix("t", std::to_string(t)));
    BOOST_TEST(rows.size() == std::size_t{per_thread});
  }
  auto st = s->stats();
  BOOST_TEST(st.batches == std::uint64_t{threads * per_thread});
  BOOST_TEST(st.commits < st.batches);
  BOOST_TEST_MESSAGE("8 committers: " << st.batches << " batches in "
                                      << st.commits << " group commits");
}

BOOST_AUTO_TEST_CASE(batches_queued_during_a_commit_share_the_next_one) {
  auto o = options();
  o.max_group = 4;
  auto s = open(o);
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future();
  // The first callback holds the commit thread so that the next ten batches
  // queue up behind it.
  s->commit(one_put(cf::actors, "first", "v"), [&](const status&) {
    entered.set_value();
    released.wait();
  });
  entered.get_future().wait();
  std::vector<int> order;
  int failures = 0;
  std::promise<void> last;
  for (int i = 0; i < 10; ++i) {
    s->commit(one_put(cf::actors, "k" + std::to_string(i), "v"),
              [&, i](const status& st) {
                failures += st.ok() ? 0 : 1;
                order.push_back(i);
                if (i == 9) {
                  last.set_value();
                }
              });
  }
  release.set_value();
  last.get_future().wait();
  BOOST_TEST(failures == 0);
  BOOST_TEST(order.size() == 10u);
  for (int i = 0; i < 10; ++i) {
    BOOST_TEST(order[i] == i);
  }
  auto st = s->stats();
  BOOST_TEST(st.batches == 11u);
  BOOST_TEST(st.commits == 4u); // 1, then 4 + 4 + 2 (max_group = 4)
}

BOOST_AUTO_TEST_CASE(dedupe_records_older_than_the_retention_go_at_compaction) {
  const std::int64_t t0 = 1'700'000'000'000;
  auto now = std::make_shared<std::atomic<std::int64_t>>(t0);
  auto o = options(false);
  o.dedupe_retention_ms = 1000;
  o.now = [now] {
    return now->load();
  };
  auto stamp = [](std::int64_t t) {
    return keys::be64(static_cast<std::uint64_t>(t));
  };
  {
    // Records written before values carried the time: empty values.
    auto old = open(options(false));
    batch b;
    b.put(cf::dedupe, "sku/A\0legacy"s, "");
    BOOST_REQUIRE(old->commit_sync(std::move(b)).ok());
  }
  auto s = open(o); // at t0: the legacy record counts as written now
  batch b;
  b.put(cf::dedupe, "sku/A\0old"s, stamp(t0 - 5000));
  b.put(cf::dedupe, "sku/A\0young"s, stamp(t0 + 500));
  b.put(cf::dedupe, "sku/A\0odd"s, "not a time");
  b.put(cf::actors, "sku/A"s, stamp(t0 - 5000)); // other families: untouched
  BOOST_REQUIRE(s->commit_sync(std::move(b)).ok());
  auto has = [&](const std::string& k) {
    return s->get(cf::dedupe, k).has_value();
  };

  now->store(t0 + 900);
  BOOST_REQUIRE(s->compact(cf::dedupe).ok());
  BOOST_TEST(!has("sku/A\0old"s)); // 5.9 s old
  BOOST_TEST(has("sku/A\0young"s));
  BOOST_TEST(has("sku/A\0legacy"s)); // 0.9 s since the first open
  BOOST_TEST(has("sku/A\0odd"s));

  now->store(t0 + 1200);
  BOOST_REQUIRE(s->compact(cf::dedupe).ok());
  BOOST_TEST(has("sku/A\0young"s)); // 0.7 s
  BOOST_TEST(!has("sku/A\0legacy"s));

  now->store(t0 + 1501); // the young one is 1.001 s old
  BOOST_REQUIRE(s->compact(cf::dedupe).ok());
  BOOST_TEST(!has("sku/A\0young"s));
  BOOST_TEST(has("sku/A\0odd"s)); // not ours to judge
  BOOST_TEST(s->get(cf::actors, "sku/A"s).has_value());
  BOOST_TEST(s->family_bytes(cf::dedupe) > 0u);

  // The first open's time stays: a later open does not restart the clock
  // of records without one.
  s->close();
  s.reset();
  now->store(t0 + 60'000);
  s = open(o);
  auto since = s->get(cf::aux, "storage/dedupe_stamped_since");
  BOOST_REQUIRE(since);
  BOOST_TEST(*since == stamp(t0));
}

BOOST_AUTO_TEST_CASE(without_a_retention_dedupe_records_stay) {
  auto s = open(options(false));
  batch b;
  b.put(cf::dedupe, "sku/A\0old"s, keys::be64(1));
  b.put(cf::dedupe, "sku/A\0legacy"s, "");
  BOOST_REQUIRE(s->commit_sync(std::move(b)).ok());
  BOOST_REQUIRE(s->compact(cf::dedupe).ok());
  BOOST_TEST(s->get(cf::dedupe, "sku/A\0old"s).has_value());
  BOOST_TEST(s->get(cf::dedupe, "sku/A\0legacy"s).has_value());
  BOOST_TEST(!s->get(cf::aux, "storage/dedupe_stamped_since").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(store_crash, store_fixture)

// A child commits with sync=true and reports each acknowledged batch on a
// pipe; the parent kills it with SIGKILL mid-stream and checks that every
// acknowledged batch is in the reopened database, and that no batch is there
// by halves.
BOOST_AUTO_TEST_CASE(acknowledged_batches_survive_sigkill) {
  constexpr std::size_t kill_after = 20000;
  auto db_path = dir.sub("db");
  const char* child_exe = ORDO_STORAGE_CRASH_CHILD;
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(child_exe, child_exe, db_path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);

  std::vector<std::uint64_t> acks;
  std::string pending;
  bool killed = false;
  char buf[4096];
  for (;;) {
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t used = 0;
    for (; pending.size() - used >= 8; used += 8) {
      acks.push_back(
        *keys::from_be64(std::string_view(pending).substr(used, 8)));
    }
    pending.erase(0, used);
    if (!killed && acks.size() >= kill_after) {
      BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
      killed = true; // keep reading: acks already written count too
    }
  }
  ::close(fds[0]);
  int wstatus = 0;
  BOOST_REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
  BOOST_REQUIRE_MESSAGE(killed, "the child ended early after "
                                  << acks.size() << " acks, status "
                                  << wstatus);
  BOOST_TEST(WIFSIGNALED(wstatus));
  BOOST_TEST(pending.empty());

  // Acks of one producer arrive in its commit order.
  std::map<std::uint64_t, std::uint64_t> next_of_producer;
  for (auto seq : acks) {
    auto producer = seq >> 40;
    auto i = seq & ((std::uint64_t{1} << 40) - 1);
    auto [it, fresh] = next_of_producer.emplace(producer, 0);
    BOOST_TEST_REQUIRE(i == it->second);
    it->second = i + 1;
  }

  auto s = open(options());
  std::size_t missing = 0;
  for (auto seq : acks) {
    if (!s->get(cf::outbox, keys::be64(seq)).has_value()) {
      ++missing;
    }
  }
  BOOST_TEST(missing == 0u);
  std::size_t outbox_rows = 0;
  std::size_t half_batches = 0;
  s->scan(cf::outbox, "", [&](std::string_view k, std::string_view) {
    ++outbox_rows;
    auto seq = *keys::from_be64(k);
    auto dedupe_key
      = keys::owned("child", std::to_string(seq >> 40),
                    keys::be64(seq & ((std::uint64_t{1} << 40) - 1)));
    if (!s->get(cf::dedupe, dedupe_key).has_value()) {
      ++half_batches;
    }
    return true;
  });
  std::size_t dedupe_rows = scan_all(*s, cf::dedupe, "").size();
  BOOST_TEST(half_batches == 0u);
  BOOST_TEST(dedupe_rows == outbox_rows);
  BOOST_TEST(outbox_rows >= acks.size());
  BOOST_TEST_MESSAGE("crash: " << acks.size() << " acknowledged, "
                               << outbox_rows << " batches recovered");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(le_histogram_suite)

// Prometheus' buckets: bounds[i-1] < v <= bounds[i], then one above the last.
BOOST_AUTO_TEST_CASE(each_value_lands_in_its_le_bucket) {
  ordo::storage::le_histogram h{{1, 2, 4}};
  for (double v : {0.5, 1.0, 1.0000001, 2.0, 3.0, 4.0, 4.5, 100.0}) {
    h.observe(v);
  }
  auto d = h.data();
  BOOST_TEST(d.bounds == (std::vector<double>{1, 2, 4}));
  BOOST_TEST(d.counts == (std::vector<std::uint64_t>{2, 2, 2, 2}));
  BOOST_TEST(d.count == 8u);
  BOOST_TEST(d.sum == 116.0000001);
  auto empty = ordo::storage::le_histogram{{1}}.data();
  BOOST_TEST(empty.counts == (std::vector<std::uint64_t>{0, 0}));
  BOOST_TEST(empty.count == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
