#include "actors/captcha.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace ordo::actors::captcha {

namespace {

/// splitmix64: spreads the bits of a seed that may differ in a few bits only.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
         || c == '\v';
}

/// `s` without surrounding whitespace, as an integer in canonical decimal
/// (an optional '-', no leading zeros, "0" for zero); nullopt unless `s` is
/// an optional sign followed by digits only.
std::optional<std::string> canonical_integer(const std::string& s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && is_space(s[b])) {
    ++b;
  }
  while (e > b && is_space(s[e - 1])) {
    --e;
  }
  bool negative = false;
  if (b < e && (s[b] == '+' || s[b] == '-')) {
    negative = s[b] == '-';
    ++b;
  }
  if (b == e) {
    return std::nullopt;
  }
  for (std::size_t i = b; i < e; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return std::nullopt;
    }
  }
  while (b + 1 < e && s[b] == '0') {
    ++b;
  }
  std::string digits = s.substr(b, e - b);
  if (digits == "0") {
    return digits;
  }
  return negative ? "-" + digits : digits;
}

class arithmetic_verifier final : public verifier {
public:
  challenge issue(std::uint64_t seed) const override {
    auto x = mix(seed);
    auto pick = [&x](int lo, int hi) {
      auto v
        = lo + static_cast<int>(x % static_cast<std::uint64_t>(hi - lo + 1));
      x /= static_cast<std::uint64_t>(hi - lo + 1);
      return v;
    };
    challenge c;
    if (pick(0, 1) == 0) {
      int a = pick(1, 20);
      int b = pick(1, 20);
      c.question
        = "What is " + std::to_string(a) + " + " + std::to_string(b) + "?";
      c.expected = std::to_string(a + b);
    } else {
      int a = pick(2, 9);
      int b = pick(2, 9);
      c.question
        = "What is " + std::to_string(a) + " * " + std::to_string(b) + "?";
      c.expected = std::to_string(a * b);
    }
    return c;
  }

  bool verify(const challenge& c, const std::string& answer) const override {
    auto want = canonical_integer(c.expected);
    auto got = canonical_integer(answer);
    return want && got && *want == *got;
  }
};

} // namespace

const verifier& arithmetic() {
  static const arithmetic_verifier instance;
  return instance;
}

} // namespace ordo::actors::captcha
