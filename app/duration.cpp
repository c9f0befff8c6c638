#include "app/duration.hpp"

namespace ordo::app {

std::optional<std::int64_t> parse_duration_ms(std::string_view text) noexcept {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  auto unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  std::int64_t limit = max_duration_ms / scale;
  std::int64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    value = value * 10 + (text[i] - '0');
    if (value > limit) {
      return std::nullopt;
    }
  }
  if (value == 0) {
    return std::nullopt;
  }
  return value * scale;
}

std::optional<std::uint64_t> parse_size_bytes(std::string_view text) noexcept {
  if (text == "0") {
    return 0;
  }
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  auto unit = text.substr(digits);
  int shift = -1;
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  for (int i = 0; i < 5; ++i) {
    if (unit == units[i]) {
      shift = 10 * i;
    }
  }
  if (shift < 0) {
    return std::nullopt;
  }
  std::uint64_t limit = max_size_bytes >> shift;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (value > limit) {
      return std::nullopt;
    }
  }
  return value << shift;
}

} // namespace ordo::app
