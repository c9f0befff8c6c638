// `ordo load` against a real `ordo serve` process: every workload runs a
// short load and passes its consistency check, the JSON summary is
// written, the check fails when the numbers do not add up, and bad flags
// exit 2. Speed is reported by the generator, never asserted here.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/server_fixture.hpp"
#include "tests/support/process.hpp"

using namespace ordo::test;

namespace {

/// A real node with the default rate limit and captcha (the generator's
/// fresh user per order must keep clear of both), durability async.
struct load_fixture {
  temp_dir dir;
  std::unique_ptr<server_process> server;

  load_fixture() {
    server = std::make_unique<server_process>(
      ORDO_BINARY,
      std::vector<std::string>{"--data", dir.path() + "/db", "--http",
                               "127.0.0.1:0", "--admin-token", admin_token,
                               "--payment-secret", payment_secret,
                               "--durability", "async"},
      dir.path() + "/ordo.log");
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server->port());
  }

  /// `ordo load` against the node with the test's token and secret, a
  /// short window and `extra` flags.
  run_result load(std::vector<std::string> extra) const {
    std::vector<std::string> args{"load",
                                  "--url",
                                  url(),
                                  "--admin-token",
                                  admin_token,
                                  "--payment-secret",
                                  payment_secret,
                                  "--duration",
                                  "2s",
                                  "--warmup",
                                  "0s",
                                  "--connections",
                                  "8"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_to_exit(ORDO_BINARY, args, std::chrono::seconds{90});
  }
};

bool mentions(const std::string& output, const std::string& text) {
  return output.find(text) != std::string::npos;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(load, load_fixture)

BOOST_AUTO_TEST_CASE(every_workload_passes_its_consistency_check) {
  for (std::string workload : {"steady", "flash-cancel", "race", "hot-sku"}) {
    BOOST_TEST_CONTEXT("workload " << workload) {
      auto file = dir.path() + "/" + workload + ".json";
      auto r = load({"--workload", workload, "--json", file});
      BOOST_TEST_MESSAGE(r.output);
      BOOST_CHECK_EQUAL(r.exit_code, 0);
      for (auto op : {"create ", "pay ", "cancel ", "flow ", "p99.9 ms"}) {
        BOOST_CHECK_MESSAGE(mentions(r.output, op), "no '" << op << "'");
      }
      BOOST_CHECK(mentions(r.output, "check: passed"));

      std::ifstream in{file};
      auto j = nlohmann::json::parse(in, nullptr, false);
      BOOST_REQUIRE(j.is_object());
      BOOST_CHECK_EQUAL(j["workload"], workload);
      for (auto op : {"create", "pay", "cancel", "flow"}) {
        BOOST_CHECK_MESSAGE(j["operations"][op]["count"].get<int>() > 0,
                            op << " count " << j["operations"][op]["count"]);
        BOOST_CHECK(j["operations"][op]["latency_ms"].contains("p99_9"));
      }
      BOOST_CHECK_EQUAL(j["check"]["passed"], true);
      BOOST_CHECK(j["check"]["orders"].get<int>() > 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(open_loop_by_rate_passes_its_check) {
  auto file = dir.path() + "/open.json";
  auto r = load({"--rate", "300", "--json", file});
  BOOST_TEST_MESSAGE(r.output);
  BOOST_CHECK_EQUAL(r.exit_code, 0);
  BOOST_CHECK(mentions(r.output, "open loop"));
  BOOST_CHECK(mentions(r.output, "check: passed"));
  std::ifstream in{file};
  auto j = nlohmann::json::parse(in, nullptr, false);
  BOOST_REQUIRE(j.is_object());
  BOOST_CHECK_EQUAL(j["mode"], "open");
  BOOST_CHECK(j["operations"]["flow"]["count"].get<int>() > 0);
}

BOOST_AUTO_TEST_CASE(check_fails_when_its_sku_sells_behind_its_back) {
  // The generator's SKUs are its own: units of load-0 sold by someone else
  // during the run must show as a sold_mismatch, and exit 1.
  {
    http_client c{server->port()};
    BOOST_REQUIRE_EQUAL(put_sku(c, "load-0", 1'000'000'000, 100).status, 200u);
  }
  std::atomic<bool> done{false};
  std::thread intruder{[&] {
    http_client c{server->port()};
    for (int i = 0; !done; ++i) {
      auto o = create_order(c, "intruder-" + std::to_string(i),
                            "intruder-" + std::to_string(i), "load-0", 1);
      if (o.status == 201) {
        auto id = o.json["order_id"].get<std::string>();
        pay(c, id, "t-intruder-" + std::to_string(i),
            o.json["payable"].get<std::int64_t>());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
  }};
  auto r = load({"--skus", "1"});
  done = true;
  intruder.join();
  BOOST_TEST_MESSAGE(r.output);
  BOOST_CHECK_EQUAL(r.exit_code, 1);
  BOOST_CHECK(mentions(r.output, "check: FAILED"));
  BOOST_CHECK(mentions(r.output, "sold_mismatch"));
}

BOOST_AUTO_TEST_CASE(bad_flags_exit_2_with_a_message) {
  struct bad {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<bad> cases{
    {{"load", "--admin-token", "t"}, "--url"},
    {{"load", "--url", "localhost:8080", "--admin-token", "t"}, "--url"},
    {{"load", "--url", "http://127.0.0.1:1", "--admin-token", "t", "--workload",
      "storm"},
     "--workload"},
    {{"load", "--url", "http://127.0.0.1:1", "--admin-token", "t", "--duration",
      "10"},
     "--duration"},
    {{"load", "--url", "http://127.0.0.1:1", "--admin-token", "t", "--warmup",
      "-1s"},
     "--warmup"},
    {{"load", "--url", "http://127.0.0.1:1", "--admin-token", "t",
      "--connections", "0"},
     "--connections"},
    {{"load", "--url", "http://127.0.0.1:1", "--admin-token", "t", "--rate",
      "0"},
     "--rate"},
    {{"load", "--url", "http://127.0.0.1:1", "--admin-token", "t",
      "--pay-ratio", "1.5"},
     "--pay-ratio"},
    {{"load", "--url", "http://127.0.0.1:1", "--admin-token", "t", "--turbo"},
     "--turbo"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("ordo " << c.args.back()) {
      auto r = run_to_exit(ORDO_BINARY, c.args);
      BOOST_CHECK_EQUAL(r.exit_code, 2);
      BOOST_CHECK_MESSAGE(mentions(r.output, c.says), r.output);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
