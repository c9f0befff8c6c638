// Storage faults through HTTP: commits failing at random under
// concurrent flows leave every rule intact, and a node short of disk refuses
// writes with 503, says why on /readyz, keeps serving reads and resumes by
// itself: with the store.disk_low fault point in-process, and on a real
// small tmpfs with a real `ordo serve` (where this runs as root).

#include <boost/test/unit_test.hpp>

#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "runtime/faults.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/support/process.hpp"

using namespace ordo;
using namespace ordo::test;

namespace {

/// Clears the process's fault registry around a case.
struct clean_faults {
  clean_faults() {
    runtime::faults::global().clear_all();
  }
  ~clean_faults() {
    runtime::faults::global().clear_all();
  }
};

void arm(const std::string& spec) {
  std::vector<runtime::fault_rule> rules;
  std::string why;
  BOOST_REQUIRE_MESSAGE(runtime::parse_fault_spec(spec, &rules, &why), why);
  for (auto& r : rules) {
    BOOST_REQUIRE_MESSAGE(runtime::faults::global().arm(r, &why), why);
  }
}

std::uint64_t fired(const std::string& point) {
  for (const auto& r : runtime::faults::global().list()) {
    if (r.point == point) {
      return r.fired;
    }
  }
  return 0;
}

/// `call` until it answers something other than 503 (a failed commit:
/// nothing acknowledged, retry), at most `tries` times.
template <class Call>
http_response until_not_503(Call call, int tries, std::atomic<int>& retried) {
  auto r = call();
  for (int i = 1; i < tries && r.status == 503; ++i) {
    ++retried;
    r = call();
  }
  return r;
}

std::int64_t num(const nlohmann::json& j, const char* name) {
  return j.at(name).get<std::int64_t>();
}

void check_sku_conserved(http_client& c, const std::string& sku) {
  auto s = get_sku(c, sku);
  BOOST_REQUIRE_EQUAL(s.status, 200u);
  BOOST_CHECK_MESSAGE(num(s.json, "available") + num(s.json, "reserved")
                          + num(s.json, "sold")
                        == num(s.json, "stocked"),
                      s.body);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(commit_errors, clean_faults)

// The run: 6 clients, every fifth group commit failing. Before the
// fix a turn built on a failed one committed, and the audit found a SKU
// whose reserved count disagreed with its reservations.
BOOST_AUTO_TEST_CASE(random_commit_errors_under_load_break_no_rule) {
  server_fixture f;
  {
    http_client admin{f.port()};
    BOOST_REQUIRE_EQUAL(put_sku(admin, "A", 100000).status, 200u);
    BOOST_REQUIRE_EQUAL(put_sku(admin, "B", 100000).status, 200u);
  }
  runtime::faults::global().seed(15);
  arm("store.before_commit=error@0.2");
  std::atomic<int> retried{0}, paid{0}, cancelled{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      http_client c{f.port()};
      for (int i = 0; i < 40; ++i) {
        auto key = "c" + std::to_string(t) + "-" + std::to_string(i);
        auto sku = i % 2 == 0 ? "A" : "B";
        auto created = until_not_503(
          [&] {
            return create_order(c, key, "user-" + std::to_string(t), sku,
                                1 + i % 3);
          },
          50, retried);
        if (created.status != 201 && created.status != 200) {
          continue;
        }
        auto id = created.json["order_id"].get<std::string>();
        if (i % 3 == 0) {
          auto r = until_not_503(
            [&] {
              return cancel(c, id);
            },
            50, retried);
          cancelled += r.status == 200;
        } else {
          auto amount = created.json["payable"].get<std::int64_t>();
          auto r = until_not_503(
            [&] {
              return pay(c, id, "txn-" + key, amount);
            },
            50, retried);
          paid += r.status == 200;
        }
      }
    });
  }
  for (auto& t : clients) {
    t.join();
  }
  auto failures = fired("store.before_commit");
  runtime::faults::global().clear_all();
  BOOST_TEST_MESSAGE("failed group commits: " << failures
                                              << ", requests "
                                                 "retried: "
                                              << retried << ", paid: " << paid
                                              << ", cancelled: " << cancelled);
  BOOST_REQUIRE_GT(failures, 20u); // the faults did fire, many times
  BOOST_CHECK_GT(retried.load(), 0);
  BOOST_CHECK_GT(paid.load(), 0);
  BOOST_CHECK_GT(cancelled.load(), 0);
  BOOST_REQUIRE(f.node->quiesce(30'000));
  http_client c{f.port()};
  check_sku_conserved(c, "A");
  check_sku_conserved(c, "B");
  auto audit = c.get("/v1/admin/audit", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(audit.status, 200u);
  BOOST_CHECK_MESSAGE(audit.json["ok"] == true, audit.body);
  BOOST_CHECK_MESSAGE(audit.json["violations"].empty(), audit.body);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(low_disk_fault, clean_faults)

// The guard with its fault point: every write 503 with Retry-After and the
// reason, reads served, /readyz not ready, the metric and an audit alert;
// writes resume by themselves once the disk looks fine again.
BOOST_AUTO_TEST_CASE(a_node_short_of_disk_refuses_writes_and_resumes) {
  server_fixture f;
  http_client c{f.port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 10).status, 200u);
  auto before = create_order(c, "k0", "u1", "A", 1);
  BOOST_REQUIRE_EQUAL(before.status, 201u);
  BOOST_REQUIRE_EQUAL(c.get("/readyz").status, 200u);

  arm("store.disk_low=error");
  auto refused = put_sku(c, "A", 20);
  BOOST_CHECK_EQUAL(refused.status, 503u);
  BOOST_CHECK_EQUAL(refused.error(), "unavailable");
  BOOST_CHECK(!refused.header("Retry-After").empty());
  BOOST_CHECK_MESSAGE(refused.body.find("disk") != std::string::npos,
                      refused.body);
  auto create = create_order(c, "k1", "u1", "A", 1);
  BOOST_CHECK_EQUAL(create.status, 503u);
  // Reads still served, and nothing changed.
  auto s = get_sku(c, "A");
  BOOST_REQUIRE_EQUAL(s.status, 200u);
  BOOST_CHECK_EQUAL(num(s.json, "stocked"), 10);
  BOOST_CHECK_EQUAL(num(s.json, "reserved"), 1);
  auto id = before.json["order_id"].get<std::string>();
  BOOST_CHECK_EQUAL(c.get("/v1/orders/" + id).status, 200u);
  auto ready = c.get("/readyz");
  BOOST_CHECK_EQUAL(ready.status, 503u);
  BOOST_CHECK_MESSAGE(ready.body.find("disk nearly full") != std::string::npos,
                      ready.body);
  auto metrics = c.get("/metrics").body;
  BOOST_CHECK(metrics.find("ordo_storage_writable 0") != std::string::npos);
  auto audit = c.get("/v1/admin/audit", bearer(admin_token));
  BOOST_CHECK(audit.json["ok"] == false);
  BOOST_CHECK_MESSAGE(audit.body.find("storage_writable") != std::string::npos,
                      audit.body);
  BOOST_CHECK_GT(f.node->stats().writes_refused, 0u);

  runtime::faults::global().clear_all();
  BOOST_CHECK_EQUAL(put_sku(c, "A", 20).status, 200u);
  BOOST_CHECK_EQUAL(c.get("/readyz").status, 200u);
  BOOST_CHECK_EQUAL(create_order(c, "k1", "u1", "A", 1).status, 201u);
  BOOST_CHECK(c.get("/metrics").body.find("ordo_storage_writable 1")
              != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

/// A tmpfs of `mib` MiB mounted on a fresh temp dir for the case; skipped
/// (with a message) where mounting is not allowed.
struct small_disk {
  temp_dir dir;
  std::string mount_point = dir.path() + "/disk";
  bool mounted = false;

  explicit small_disk(int mib) {
    std::filesystem::create_directories(mount_point);
    auto size = "size=" + std::to_string(mib) + "m";
    mounted
      = ::geteuid() == 0
        && ::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, size.c_str()) == 0;
    if (!mounted) {
      BOOST_TEST_MESSAGE(
        "skipped: cannot mount a tmpfs here ("
        << (::geteuid() == 0 ? std::strerror(errno) : "not root") << ")");
    }
  }
  ~small_disk() {
    if (mounted) {
      ::umount2(mount_point.c_str(), MNT_DETACH);
    }
  }

  /// Writes a filler file until fewer than `leave_mib` MiB are free.
  void fill(const std::string& name, int leave_mib) {
    std::ofstream out(mount_point + "/" + name, std::ios::binary);
    std::vector<char> chunk(256 << 10, 'x');
    while (std::filesystem::space(mount_point).available
           > static_cast<std::uintmax_t>(leave_mib) << 20) {
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      out.flush();
      BOOST_REQUIRE(out);
    }
  }
};

std::vector<std::string> serve_args(const std::string& data) {
  return {"--data",          data,        "--http",           "127.0.0.1:0",
          "--admin-token",   admin_token, "--payment-secret", payment_secret,
          "--rate-limit",    "off",       "--captcha-after",  "0",
          "--min-free-disk", "8MiB"};
}

/// Polls /readyz until its status is `want` (the guard's state changes on
/// its own when space comes back); false after 20 s.
bool readyz_becomes(http_client& c, unsigned want) {
  return eventually([&] {
    return c.get("/readyz").status == want;
  });
}

} // namespace

// A real node on a 48 MiB tmpfs, its free space taken below the guard's
// 8 MiB by another file: it stays up, refuses writes, serves reads, starts
// again on the still-short disk, and resumes once the file is gone.
BOOST_AUTO_TEST_CASE(a_real_small_disk_filled_up_is_refused_then_resumed) {
  small_disk disk{48};
  if (!disk.mounted) {
    return;
  }
  auto data = disk.mount_point + "/db";
  auto log = disk.dir.path() + "/ordo.log";
  auto server
    = std::make_unique<server_process>(ORDO_BINARY, serve_args(data), log);
  http_client c{server->port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 1000).status, 200u);
  auto first = create_order(c, "k0", "u1", "A", 2);
  BOOST_REQUIRE_EQUAL(first.status, 201u);

  disk.fill("filler", 4);
  // The guard looks at the disk every 20 ms: a write soon meets it (each
  // put changes the stock, so each one writes).
  int stock = 1000;
  BOOST_REQUIRE(eventually([&] {
    return put_sku(c, "A", ++stock).status == 503;
  }));
  auto refused = create_order(c, "k1", "u1", "A", 1);
  BOOST_CHECK_EQUAL(refused.status, 503u);
  BOOST_CHECK(!refused.header("Retry-After").empty());
  auto ready = c.get("/readyz");
  BOOST_CHECK_EQUAL(ready.status, 503u);
  BOOST_CHECK_MESSAGE(ready.body.find("disk nearly full") != std::string::npos,
                      ready.body);
  auto id = first.json["order_id"].get<std::string>();
  BOOST_CHECK_EQUAL(c.get("/v1/orders/" + id).status, 200u);
  BOOST_CHECK_EQUAL(num(get_sku(c, "A").json, "reserved"), 2);

  // Killed and started again on the short disk: up, reads, no writes.
  server->kill_and_wait(SIGKILL);
  server = std::make_unique<server_process>(ORDO_BINARY, serve_args(data), log);
  http_client again{server->port()};
  BOOST_CHECK_EQUAL(again.get("/v1/orders/" + id).status, 200u);
  BOOST_CHECK_EQUAL(create_order(again, "k1", "u1", "A", 1).status, 503u);
  BOOST_CHECK_EQUAL(again.get("/readyz").status, 503u);

  // Space comes back: ready again and writes go through, by themselves.
  std::filesystem::remove(disk.mount_point + "/filler");
  BOOST_REQUIRE(readyz_becomes(again, 200));
  BOOST_CHECK_EQUAL(create_order(again, "k1", "u1", "A", 1).status, 201u);
  BOOST_CHECK_EQUAL(num(get_sku(again, "A").json, "reserved"), 3);
  auto status = server->kill_and_wait(SIGTERM);
  BOOST_CHECK_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "ended with status " << status);
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The process is still running (not exited, not reaped).
bool running(const server_process& p) {
  int status = 0;
  return ::waitpid(p.pid(), &status, WNOHANG) == 0;
}

} // namespace

// The guard off (--min-free-disk 0) on a 128 MiB tmpfs that another file
// fills until RocksDB's own WAL write fails with ENOSPC. Before the fix the
// next use of the failed WAL (the syncer's fsync) or of the failed info log
// (a log line) met RocksDB's assertion `sync_without_flush_called_` and
// ended the process. Now the node stays up: writes answer 503 (nothing
// acknowledged), reads and /healthz are served, /readyz says the disk is
// full, and once the file is gone RocksDB recovers (it waits for 64 MiB
// free, a memtable's worth, looking every 5 s) and writes go through again
// without a restart.
BOOST_AUTO_TEST_CASE(a_disk_that_really_runs_out_stops_writes_not_the_node) {
  small_disk disk{128};
  if (!disk.mounted) {
    return;
  }
  // 8 MiB left at start: too little for RocksDB to set its WAL's 70 MiB
  // aside (fallocate), so that its writes meet the full disk soon.
  disk.fill("filler", 8);
  auto data = disk.mount_point + "/db";
  auto log = disk.dir.path() + "/ordo.log";
  auto args = serve_args(data);
  args.back() = "0"; // --min-free-disk 0: no guard
  auto server = std::make_unique<server_process>(ORDO_BINARY, args, log);
  http_client c{server->port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 100000).status, 200u);
  auto first = create_order(c, "k0", "u0", "A", 1);
  BOOST_REQUIRE_EQUAL(first.status, 201u);

  // Under 1 MiB left, then creates until one is not acknowledged.
  disk.fill("filler2", 1);
  int created = 1;
  http_response refused;
  for (int i = 1; i < 20'000; ++i) {
    auto r = create_order(c, "k" + std::to_string(i), "u" + std::to_string(i),
                          "A", 1);
    if (r.status != 201) {
      refused = r;
      break;
    }
    ++created;
  }
  BOOST_TEST_MESSAGE(created << " creates before the disk ran out");
  // RocksDB itself met the full disk (not a guard).
  BOOST_REQUIRE_MESSAGE(read_file(log).find("No space left on device")
                          != std::string::npos,
                        "the node never met ENOSPC; its log:\n"
                          << read_file(log));
  BOOST_CHECK_EQUAL(refused.status, 503u);
  BOOST_CHECK_EQUAL(refused.error(), "unavailable");

  // Up, serving reads; writes refused with 503, not 500.
  BOOST_REQUIRE(running(*server));
  BOOST_CHECK_EQUAL(c.get("/healthz").status, 200u);
  auto id = first.json["order_id"].get<std::string>();
  BOOST_CHECK_EQUAL(c.get("/v1/orders/" + id).status, 200u);
  BOOST_CHECK_EQUAL(get_sku(c, "A").status, 200u);
  auto ready = c.get("/readyz");
  BOOST_CHECK_EQUAL(ready.status, 503u);
  BOOST_CHECK_MESSAGE(ready.body.find("disk full") != std::string::npos,
                      ready.body);
  auto again = create_order(c, "k-full", "u-full", "A", 1);
  BOOST_CHECK_EQUAL(again.status, 503u);
  BOOST_CHECK(!again.header("Retry-After").empty());
  BOOST_CHECK_EQUAL(put_sku(c, "B", 5).status, 503u);
  BOOST_CHECK(c.get("/metrics").body.find("ordo_storage_writable 0")
              != std::string::npos);
  BOOST_REQUIRE(running(*server));

  // Space back: a write resumes RocksDB and goes through, by itself.
  std::filesystem::remove(disk.mount_point + "/filler");
  std::filesystem::remove(disk.mount_point + "/filler2");
  BOOST_REQUIRE(eventually([&] {
    return create_order(c, "k-full", "u-full", "A", 1).status == 201;
  }));
  BOOST_CHECK_EQUAL(c.get("/readyz").status, 200u);
  BOOST_CHECK_EQUAL(put_sku(c, "B", 5).status, 200u);
  auto s = get_sku(c, "A");
  BOOST_REQUIRE_EQUAL(s.status, 200u);
  // Every acknowledged create holds its unit (a refused one may hold one
  // until its reservation expires: the order was never stored).
  BOOST_CHECK_GE(num(s.json, "reserved"), created + 1);
  BOOST_CHECK(c.get("/metrics").body.find("ordo_storage_writable 1")
              != std::string::npos);
  auto status = server->kill_and_wait(SIGTERM);
  BOOST_CHECK_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "ended with status " << status);
}
