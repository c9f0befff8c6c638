#include <boost/test/unit_test.hpp>

#include "app/duration.hpp"

using ordo::app::max_duration_ms;
using ordo::app::max_size_bytes;
using ordo::app::parse_duration_ms;
using ordo::app::parse_size_bytes;

BOOST_AUTO_TEST_SUITE(duration_suite)

BOOST_AUTO_TEST_CASE(units_scale_to_milliseconds) {
  BOOST_TEST(parse_duration_ms("250ms").value() == 250);
  BOOST_TEST(parse_duration_ms("2s").value() == 2000);
  BOOST_TEST(parse_duration_ms("5m").value() == 300'000);
  BOOST_TEST(parse_duration_ms("1h").value() == 3'600'000);
  BOOST_TEST(parse_duration_ms("15m").value() == 900'000);
  BOOST_TEST(parse_duration_ms("180s").value() == 180'000);
  BOOST_TEST(parse_duration_ms("007s").value() == 7000);
  BOOST_TEST(parse_duration_ms("1ms").value() == 1);
}

BOOST_AUTO_TEST_CASE(zero_negative_and_garbage_are_rejected) {
  for (auto bad : {"",   "0s", "0ms",  "00m",  "-1s", "+1s",   "1",
                   "s",  "ms", "1.5s", "1 s",  " 1s", "1s ",   "1S",
                   "1H", "1d", "1sec", "1m1s", "abc", "1e3ms", "0x10s"}) {
    BOOST_TEST(!parse_duration_ms(bad).has_value(), "'" << bad << "'");
  }
}

BOOST_AUTO_TEST_CASE(overflow_is_rejected) {
  BOOST_TEST(!parse_duration_ms("99999999999999999999999ms").has_value());
  BOOST_TEST(!parse_duration_ms("9223372036854775807h").has_value());
  BOOST_TEST(!parse_duration_ms("876001h").has_value());
  BOOST_TEST(parse_duration_ms("876000h").value() == max_duration_ms);
  BOOST_TEST(parse_duration_ms(std::to_string(max_duration_ms) + "ms").value()
             == max_duration_ms);
  BOOST_TEST(
    !parse_duration_ms(std::to_string(max_duration_ms + 1) + "ms").has_value());
}

BOOST_AUTO_TEST_CASE(sizes_read_binary_units_and_zero) {
  BOOST_TEST(parse_size_bytes("0").value() == 0u);
  BOOST_TEST(parse_size_bytes("512B").value() == 512u);
  BOOST_TEST(parse_size_bytes("64KiB").value() == 64u << 10);
  BOOST_TEST(parse_size_bytes("256MiB").value() == 256u << 20);
  BOOST_TEST(parse_size_bytes("2GiB").value() == 2ULL << 30);
  BOOST_TEST(parse_size_bytes("1024TiB").value() == max_size_bytes);
  for (const char* bad : {"", "MiB", "-1MiB", "1.5GiB", "1 MiB", "1mb", "1M",
                          "1025TiB", "99999999999999999999999B", "1MiBs"}) {
    BOOST_TEST(!parse_size_bytes(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_SUITE_END()
