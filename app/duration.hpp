#pragma once

// Durations on the command line: a positive decimal integer and a unit,
// "250ms", "2s", "5m", "1h".
//
// Threading: pure functions.

#include <cstdint>
#include <optional>
#include <string_view>

namespace ordo::app {

/// The longest accepted duration: 100 years, in ms (far from overflowing
/// "now + duration").
inline constexpr std::int64_t max_duration_ms
  = 100LL * 365 * 24 * 60 * 60 * 1000;

/// Milliseconds of `text` ("250ms", "2s", "5m", "1h"); nullopt for zero,
/// signs, spaces, fractions, other units, garbage, or more than
/// max_duration_ms.
std::optional<std::int64_t> parse_duration_ms(std::string_view text) noexcept;

} // namespace ordo::app
