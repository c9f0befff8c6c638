#include "log/log.hpp"

#include "actors/errc.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

using namespace ordo;

namespace {

/// Sends the log to a string for the case; back to stderr, info, text after.
struct captured {
  std::ostringstream out;

  explicit captured(log::level min = log::level::trace,
                    log::format fmt = log::format::text) {
    log::configure(min, fmt, &out);
  }
  ~captured() {
    log::configure(log::level::info, log::format::text);
  }

  std::string text() const {
    return out.str();
  }
};

std::size_t lines_in(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

const std::regex iso_time{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"};

} // namespace

BOOST_AUTO_TEST_SUITE(log_format)

BOOST_AUTO_TEST_CASE(a_text_line_is_time_level_component_and_message) {
  captured c;
  log::warn("storage", "refusing writes: disk full");
  auto line = c.text();
  BOOST_TEST(
    std::regex_match(
      line, std::regex{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z )"
                       R"(warn storage: refusing writes: disk full\n)"}),
    line);
}

BOOST_AUTO_TEST_CASE(a_json_line_is_one_object_with_ts_level_component_msg) {
  captured c{log::level::trace, log::format::json};
  log::error("cluster", "lost node b");
  auto line = c.text();
  BOOST_TEST(lines_in(line) == 1u);
  BOOST_TEST(line.back() == '\n');
  auto j = nlohmann::json::parse(line);
  BOOST_TEST(j.size() == 4u, line);
  BOOST_TEST(std::regex_match(j["ts"].get<std::string>(), iso_time), line);
  BOOST_TEST(j["level"] == "error");
  BOOST_TEST(j["component"] == "cluster");
  BOOST_TEST(j["msg"] == "lost node b");
}

BOOST_AUTO_TEST_CASE(every_level_is_named_as_its_flag_value) {
  captured c{log::level::trace, log::format::json};
  for (auto name : {"trace", "debug", "info", "warn", "error"}) {
    log::level l{};
    BOOST_REQUIRE(log::parse_level(name, &l));
    log::write(l, "x", "y");
    auto lines = c.text();
    auto last = lines.substr(lines.rfind('\n', lines.size() - 2) + 1);
    BOOST_TEST(nlohmann::json::parse(last)["level"] == name, lines);
  }
  BOOST_TEST(lines_in(c.text()) == 5u);
}

BOOST_AUTO_TEST_CASE(flag_values_parse_and_others_are_refused) {
  log::level l = log::level::info;
  BOOST_TEST(log::parse_level("debug", &l));
  BOOST_TEST((l == log::level::debug));
  BOOST_TEST(!log::parse_level("warning", &l));
  BOOST_TEST(!log::parse_level("", &l));
  BOOST_TEST((l == log::level::debug));
  log::format f = log::format::text;
  BOOST_TEST(log::parse_format("json", &f));
  BOOST_TEST((f == log::format::json));
  BOOST_TEST(log::parse_format("text", &f));
  BOOST_TEST((f == log::format::text));
  BOOST_TEST(!log::parse_format("JSON", &f));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(log_filtering)

BOOST_AUTO_TEST_CASE(events_below_the_minimum_are_not_written) {
  captured c{log::level::warn};
  BOOST_TEST(!log::enabled(log::level::info));
  BOOST_TEST(log::enabled(log::level::warn));
  BOOST_TEST(log::enabled(log::level::error));
  log::debug("gateway", "dropped");
  log::info("gateway", "dropped too");
  log::warn("gateway", "kept");
  log::error("gateway", "kept too");
  auto text = c.text();
  BOOST_TEST(lines_in(text) == 2u, text);
  BOOST_TEST(text.find("dropped") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(info_is_the_default_minimum) {
  captured c{log::level::info};
  BOOST_TEST(!log::enabled(log::level::debug));
  BOOST_TEST(log::enabled(log::level::info));
  log::debug("ordo", "no");
  BOOST_TEST(c.text().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(log_escaping)

// What a client might put in an id: quotes, a newline starting a forged
// line, a carriage return, control bytes, a terminal escape, invalid UTF-8.
const std::string hostile
  = "o1\" \\ \n2026-01-01T00:00:00.000Z error gateway: forged\r\x01\x1b[31m"
    "\x7f\xff end";

BOOST_AUTO_TEST_CASE(a_hostile_message_is_one_valid_json_line) {
  captured c{log::level::trace, log::format::json};
  log::warn("relay", "outbox message " + hostile + " rejected");
  auto line = c.text();
  BOOST_TEST(lines_in(line) == 1u, line);
  BOOST_TEST(line.back() == '\n');
  for (char ch : line.substr(0, line.size() - 1)) {
    BOOST_TEST(static_cast<unsigned char>(ch) >= 0x20u);
  }
  auto j = nlohmann::json::parse(line);
  // All but the invalid byte, which becomes U+FFFD.
  auto want = "outbox message " + hostile.substr(0, hostile.size() - 5)
              + "\xef\xbf\xbd end rejected";
  BOOST_TEST(j["msg"].get<std::string>() == want);
}

BOOST_AUTO_TEST_CASE(a_hostile_message_is_one_text_line_without_controls) {
  captured c;
  log::warn("relay", "outbox message " + hostile + " rejected");
  auto line = c.text();
  BOOST_TEST(lines_in(line) == 1u, line);
  BOOST_TEST(line.back() == '\n');
  for (char ch : line.substr(0, line.size() - 1)) {
    auto u = static_cast<unsigned char>(ch);
    BOOST_TEST((u >= 0x20u && u != 0x7fu));
  }
  BOOST_TEST(line.find(R"(o1" \ \n2026-01-01T00:00:00.000Z error gateway: )"
                       R"(forged\r\x01\x1b[31m\x7f)")
               != std::string::npos,
             line);
  BOOST_TEST(line.find(" rejected\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_control_byte_in_the_component_is_escaped_too) {
  captured c;
  log::info("a\nb", "m");
  BOOST_TEST(lines_in(c.text()) == 1u);
  BOOST_TEST(c.text().find(R"(info a\nb: m)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(braces_in_a_message_are_not_a_format_string) {
  captured c;
  log::info("gateway", "body {} {0} %s %v");
  BOOST_TEST(c.text().find("gateway: body {} {0} %s %v\n")
             != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(log_clipping)

// The log writes what it is given; a site echoing client input clips it
// first, and the line stays short and single.
BOOST_AUTO_TEST_CASE(a_clipped_client_id_gives_a_short_single_line) {
  captured c;
  std::string id = std::string(100'000, 'x') + "\nforged";
  log::warn("cluster", "lost node " + actors::clip(id));
  auto line = c.text();
  BOOST_TEST(lines_in(line) == 1u);
  BOOST_TEST(line.size() < 200u, line);
  BOOST_TEST(line.find("...[+99911 bytes]") != std::string::npos, line);
}

BOOST_AUTO_TEST_CASE(a_newline_inside_the_clipped_prefix_is_still_escaped) {
  captured c{log::level::trace, log::format::json};
  log::warn("relay", "message " + actors::clip("a\nb", 2) + " rejected");
  auto line = c.text();
  BOOST_TEST(lines_in(line) == 1u);
  BOOST_TEST(nlohmann::json::parse(line)["msg"]
             == "message a\n...[+1 bytes] rejected");
}

BOOST_AUTO_TEST_SUITE_END()
