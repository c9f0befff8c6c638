// `ordo serve`'s log on stderr, from a real process: --log-format json
// writes one JSON object per line, --log-level drops what is below it.

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace ordo::test;

namespace {

/// Runs `ordo serve` with `flags` (and an armed fault, which it logs as a
/// warning) until SIGTERM (logged as info), and returns its stderr lines.
std::vector<std::string> log_of_serve(std::vector<std::string> flags) {
  temp_dir dir;
  auto log = dir.path() + "/ordo.log";
  std::vector<std::string> args{
    "--data",           dir.path() + "/db",
    "--http",           "127.0.0.1:0",
    "--admin-token",    "t",
    "--payment-secret", "s",
    "--faults",         "relay.deliver=delay:1ms#1"};
  args.insert(args.end(), flags.begin(), flags.end());
  {
    server_process node{ORDO_BINARY, args, log};
    BOOST_TEST(WIFEXITED(node.kill_and_wait(SIGTERM)));
  }
  std::ifstream in{log};
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

/// The messages of the JSON lines of `level`; fails on a line that is not
/// a JSON object with ts, level, component and msg.
std::vector<std::string> messages(const std::vector<std::string>& lines,
                                  const std::string& level) {
  std::vector<std::string> out;
  for (const auto& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    BOOST_TEST_REQUIRE(j.is_object(), "not a JSON line: " << line);
    for (const char* key : {"ts", "level", "component", "msg"}) {
      BOOST_TEST_REQUIRE(j[key].is_string(), key << " missing: " << line);
    }
    if (j["level"] == level) {
      out.push_back(j["msg"]);
    }
  }
  return out;
}

bool has(const std::vector<std::string>& msgs, const std::string& part) {
  for (const auto& m : msgs) {
    if (m.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace

BOOST_AUTO_TEST_SUITE(serve_log)

BOOST_AUTO_TEST_CASE(json_format_writes_one_object_per_line) {
  auto lines = log_of_serve({"--log-format", "json"});
  BOOST_TEST_REQUIRE(!lines.empty());
  BOOST_TEST(has(messages(lines, "warn"), "fault armed"));
  BOOST_TEST(has(messages(lines, "info"), "shutting down"));
}

BOOST_AUTO_TEST_CASE(log_level_drops_what_is_below_it) {
  auto lines = log_of_serve({"--log-format", "json", "--log-level", "warn"});
  BOOST_TEST(has(messages(lines, "warn"), "fault armed"));
  BOOST_TEST(messages(lines, "info").empty());
}

BOOST_AUTO_TEST_CASE(text_format_is_the_default) {
  auto lines = log_of_serve({});
  BOOST_TEST_REQUIRE(!lines.empty());
  bool armed = false;
  for (const auto& line : lines) {
    BOOST_TEST(line.front() != '{', line);
    armed
      = armed || line.find(" warn ordo: fault armed: ") != std::string::npos;
  }
  BOOST_TEST(armed);
}

BOOST_AUTO_TEST_SUITE_END()
