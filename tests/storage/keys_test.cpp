#include "storage/keys.hpp"

#include "storage/store.hpp"
#include "tests/storage/print.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

using namespace ordo::storage;
using namespace std::string_literals;

BOOST_AUTO_TEST_SUITE(keys_grammar)

BOOST_AUTO_TEST_CASE(owner_joins_kind_and_id_with_a_slash) {
  BOOST_TEST(keys::owner("order", "o0012-9f3a") == "order/o0012-9f3a");
}

BOOST_AUTO_TEST_CASE(owned_keys_start_with_the_owner_prefix) {
  auto prefix = keys::owner_prefix("order", "o1");
  BOOST_TEST(prefix == "order/o1\0"s);
  BOOST_TEST(keys::owned("order", "o1", "deadline") == prefix + "deadline");
  auto j = keys::journal("order", "o1", 7);
  BOOST_TEST(j.size() == prefix.size() + 8);
  BOOST_TEST(j.compare(0, prefix.size(), prefix) == 0);
}

BOOST_AUTO_TEST_CASE(an_owner_prefix_does_not_match_a_longer_id) {
  auto prefix = keys::owner_prefix("order", "o1");
  auto other = keys::journal("order", "o10", 1);
  BOOST_TEST(other.compare(0, prefix.size(), prefix) != 0);
}

BOOST_AUTO_TEST_CASE(be64_round_trips) {
  for (std::uint64_t n :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{255},
        std::uint64_t{256}, std::uint64_t{0x0102030405060708},
        std::numeric_limits<std::uint64_t>::max()}) {
    auto s = keys::be64(n);
    BOOST_TEST(s.size() == 8u);
    BOOST_TEST(keys::from_be64(s) == n);
  }
  BOOST_TEST(keys::be64(0x0102030405060708) == "\1\2\3\4\5\6\7\10"s);
}

BOOST_AUTO_TEST_CASE(from_be64_refuses_wrong_lengths) {
  BOOST_TEST(!keys::from_be64("").has_value());
  BOOST_TEST(!keys::from_be64("1234567").has_value());
  BOOST_TEST(!keys::from_be64("123456789").has_value());
}

BOOST_AUTO_TEST_CASE(be64_sorts_numerically) {
  std::vector<std::uint64_t> numbers{
    0, 1, 2, 9, 10, 255, 256, 65535, 65536, 1ull << 40, ~0ull, 1000};
  std::vector<std::string> encoded;
  for (auto n : numbers) {
    encoded.push_back(keys::be64(n));
  }
  std::sort(numbers.begin(), numbers.end());
  std::sort(encoded.begin(), encoded.end());
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    BOOST_TEST(keys::from_be64(encoded[i]) == numbers[i]);
  }
}

BOOST_AUTO_TEST_CASE(journal_keys_sort_by_version) {
  // Plain bool: BOOST_TEST's own string comparison is not lexicographic.
  auto before = [](const std::string& a, const std::string& b) {
    return a < b;
  };
  BOOST_TEST(
    before(keys::journal("order", "o1", 2), keys::journal("order", "o1", 10)));
  BOOST_TEST(before(keys::journal("order", "o1", 255),
                    keys::journal("order", "o1", 256)));
  BOOST_TEST(before(keys::journal("order", "o1", ~0ull),
                    keys::owner_prefix("order", "o2")));
}

BOOST_AUTO_TEST_CASE(split_owned_recovers_kind_id_and_suffix) {
  std::string kind, id, suffix;
  BOOST_TEST(
    keys::split_owned(keys::owned("sku", "s-1", "msg-9"), &kind, &id, &suffix));
  BOOST_TEST(kind == "sku");
  BOOST_TEST(id == "s-1");
  BOOST_TEST(suffix == "msg-9");
}

BOOST_AUTO_TEST_CASE(split_owned_keeps_binary_suffixes_whole) {
  // Version 0x2f00... puts '/' and NUL bytes into the suffix.
  std::uint64_t version = 0x2f00002f00000001;
  std::string kind, id, suffix;
  BOOST_TEST(keys::split_owned(keys::journal("order", "o1", version), &kind,
                               &id, &suffix));
  BOOST_TEST(kind == "order");
  BOOST_TEST(id == "o1");
  BOOST_TEST(keys::from_be64(suffix) == version);
}

BOOST_AUTO_TEST_CASE(split_owned_allows_slashes_in_ids) {
  std::string kind, id, suffix;
  BOOST_TEST(
    keys::split_owned(keys::owned("aux", "a/b/c", "x"), &kind, &id, &suffix));
  BOOST_TEST(kind == "aux");
  BOOST_TEST(id == "a/b/c");
  BOOST_TEST(suffix == "x");
}

BOOST_AUTO_TEST_CASE(split_owned_accepts_a_bare_owner) {
  std::string kind, id, suffix = "stale";
  BOOST_TEST(keys::split_owned(keys::owner("user", "u7"), &kind, &id, &suffix));
  BOOST_TEST(kind == "user");
  BOOST_TEST(id == "u7");
  BOOST_TEST(suffix.empty());
}

BOOST_AUTO_TEST_CASE(split_owned_refuses_malformed_keys) {
  BOOST_TEST(!keys::split_owned("", nullptr, nullptr, nullptr));
  BOOST_TEST(!keys::split_owned("no-slash", nullptr, nullptr, nullptr));
  BOOST_TEST(!keys::split_owned("/id", nullptr, nullptr, nullptr));
  BOOST_TEST(!keys::split_owned("kind/", nullptr, nullptr, nullptr));
  BOOST_TEST(!keys::split_owned("kind/\0suffix"s, nullptr, nullptr, nullptr));
}

BOOST_AUTO_TEST_CASE(column_families_have_stable_names) {
  BOOST_TEST(to_string(cf::actors) == "actors"s);
  BOOST_TEST(to_string(cf::journal) == "journal"s);
  BOOST_TEST(to_string(cf::outbox) == "outbox"s);
  BOOST_TEST(to_string(cf::timers) == "timers"s);
  BOOST_TEST(to_string(cf::dedupe) == "dedupe"s);
  BOOST_TEST(to_string(cf::aux) == "aux"s);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(msgpack_codec)

BOOST_AUTO_TEST_CASE(pack_then_unpack_gives_the_same_value) {
  nlohmann::json j = {
    {"state", "PAID"},
    {"version", 42},
    {"amount", -1234567890123},
    {"ratio", 0.25},
    {"flags", {true, false, nullptr}},
    {"items", {{{"sku", "s1"}, {"qty", 2}}, {{"sku", "s2"}, {"qty", 1}}}},
    {"note", "caf\xc3\xa9 \0 nul"s},
  };
  auto bytes = codec::pack(j);
  BOOST_TEST(!bytes.empty());
  auto back = codec::unpack(bytes);
  BOOST_TEST(!back.is_discarded());
  BOOST_TEST(back == j);
}

BOOST_AUTO_TEST_CASE(pack_is_smaller_than_json_text) {
  nlohmann::json j = {{"state", "PENDING_PAYMENT"}, {"version", 1}};
  BOOST_TEST(codec::pack(j).size() < j.dump().size());
}

// The writer gives the bytes `pack` gives for the same JSON value, at every
// boundary of every form (fix, 8, 16, 32 and 64 bits).
BOOST_AUTO_TEST_CASE(the_writer_writes_what_pack_writes) {
  std::vector<std::int64_t> ints{0,
                                 1,
                                 127,
                                 128,
                                 255,
                                 256,
                                 65535,
                                 65536,
                                 -1,
                                 -32,
                                 -33,
                                 -128,
                                 -129,
                                 -32768,
                                 -32769,
                                 INT32_MIN,
                                 std::int64_t{INT32_MIN} - 1,
                                 std::int64_t{1} << 40,
                                 INT64_MIN,
                                 INT64_MAX};
  for (auto n : ints) {
    BOOST_TEST_CONTEXT(n) {
      BOOST_TEST(codec::writer{}.integer(n).take() == codec::pack(n));
    }
  }
  BOOST_TEST(codec::writer{}.uinteger(UINT64_MAX).take()
             == codec::pack(UINT64_MAX));
  BOOST_TEST(codec::writer{}.uinteger(4294967296u).take()
             == codec::pack(4294967296u));
  for (std::size_t len : {0, 31, 32, 255, 256, 65535, 65536}) {
    std::string text(len, 'x');
    BOOST_TEST_CONTEXT(len) {
      BOOST_TEST(codec::writer{}.str(text).take() == codec::pack(text));
    }
  }
  for (std::uint32_t n : {0u, 15u, 16u, 65535u, 65536u}) {
    BOOST_TEST_CONTEXT(n) {
      codec::writer a;
      a.array(n);
      nlohmann::json array = nlohmann::json::array();
      codec::writer m;
      m.map(n);
      nlohmann::json object = nlohmann::json::object();
      for (std::uint32_t i = 0; i < n; ++i) {
        a.boolean(i % 2 == 0);
        array.push_back(i % 2 == 0);
        // Keys that sort as written: the same width, zero-padded.
        char key[16];
        std::snprintf(key, sizeof key, "%06u", static_cast<unsigned>(i));
        m.str(key).nil();
        object[key] = nullptr;
      }
      BOOST_TEST(a.take() == codec::pack(array));
      BOOST_TEST(m.take() == codec::pack(object));
    }
  }
}

BOOST_AUTO_TEST_CASE(sums_round_trip_and_add_element_by_element) {
  std::vector<std::int64_t> v{0, 1, -1, INT64_MAX, INT64_MIN, 1'000'000'007};
  auto bytes = codec::sums(v);
  BOOST_TEST(bytes.size() == 8 * v.size());
  BOOST_TEST((codec::read_sums(bytes).value() == v));
  BOOST_TEST(codec::read_sums("").value().empty());
  BOOST_TEST(!codec::read_sums("1234567").has_value());
  auto sum = codec::add_sums(codec::sums({1, 2, 3}), codec::sums({10, -20}));
  BOOST_TEST((codec::read_sums(sum.value()).value()
              == std::vector<std::int64_t>{11, -18, 3}));
  // Overflow wraps (two's complement), never undefined.
  auto wrapped = codec::add_sums(codec::sums({INT64_MAX}), codec::sums({1}));
  BOOST_TEST(codec::read_sums(wrapped.value()).value().at(0) == INT64_MIN);
  BOOST_TEST(!codec::add_sums("abc", codec::sums({1})).has_value());
  BOOST_TEST(!codec::add_sums(codec::sums({1}), "abc").has_value());
}

BOOST_AUTO_TEST_CASE(hex_round_trips_every_byte) {
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
  }
  auto text = codec::hex(all);
  BOOST_TEST(text.size() == 512u);
  BOOST_TEST(text.substr(0, 8) == "00010203");
  BOOST_TEST(text.substr(504) == "fcfdfeff");
  BOOST_TEST(codec::unhex(text) == std::optional<std::string>{all});
  BOOST_TEST(codec::hex("") == "");
  BOOST_TEST(codec::unhex("") == std::optional<std::string>{""});
}

BOOST_AUTO_TEST_CASE(unhex_reads_either_case_and_refuses_the_rest) {
  BOOST_TEST(codec::unhex("ABcd") == std::optional<std::string>{"\xab\xcd"});
  BOOST_TEST(!codec::unhex("abc").has_value()); // odd length
  BOOST_TEST(!codec::unhex("0g").has_value());
  BOOST_TEST(!codec::unhex("0 ").has_value());
  BOOST_TEST(codec::hex_digit('7') == 7);
  BOOST_TEST(codec::hex_digit('f') == 15);
  BOOST_TEST(codec::hex_digit('F') == 15);
  BOOST_TEST(codec::hex_digit('g') == -1);
  BOOST_TEST(codec::hex_digit('\0') == -1);
}

BOOST_AUTO_TEST_CASE(unpack_of_garbage_is_discarded) {
  BOOST_TEST(codec::unpack("").is_discarded());
  BOOST_TEST(codec::unpack("\xc1").is_discarded()); // never used
  BOOST_TEST(codec::unpack("{\"json\": 1}").is_discarded());
  auto bytes = codec::pack({{"a", "long enough string"}});
  BOOST_TEST(codec::unpack(std::string_view(bytes).substr(0, bytes.size() - 3))
               .is_discarded());
  BOOST_TEST(codec::unpack(bytes + "trailing").is_discarded());
}

BOOST_AUTO_TEST_SUITE_END()
