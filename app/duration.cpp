#include "app/duration.hpp"

#include <utility>

namespace ordo::app {

namespace {

/// `text` as digits and a unit: the number times the unit's scale from
/// `units` (name, scale), at most `limit`; nullopt otherwise.
template <class Int, std::size_t N>
std::optional<Int> scaled(std::string_view text,
                          const std::pair<std::string_view, Int> (&units)[N],
                          Int limit) noexcept {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  auto unit = text.substr(digits);
  Int scale = 0;
  for (const auto& [name, factor] : units) {
    if (unit == name) {
      scale = factor;
    }
  }
  if (scale == 0) {
    return std::nullopt;
  }
  Int value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    value = value * 10 + static_cast<Int>(text[i] - '0');
    if (value > limit / scale) {
      return std::nullopt;
    }
  }
  return value * scale;
}

} // namespace

std::optional<std::int64_t> parse_duration_ms(std::string_view text) noexcept {
  static const std::pair<std::string_view, std::int64_t> units[]
    = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}};
  auto ms = scaled(text, units, max_duration_ms);
  if (ms == std::optional<std::int64_t>{0}) {
    return std::nullopt;
  }
  return ms;
}

std::optional<std::uint64_t> parse_size_bytes(std::string_view text) noexcept {
  if (text == "0") {
    return 0;
  }
  static const std::pair<std::string_view, std::uint64_t> units[]
    = {{"B", 1},
       {"KiB", 1ULL << 10},
       {"MiB", 1ULL << 20},
       {"GiB", 1ULL << 30},
       {"TiB", 1ULL << 40}};
  return scaled(text, units, max_size_bytes);
}

} // namespace ordo::app
