#pragma once

// Durations and sizes on the command line: a decimal integer and a unit,
// "250ms", "2s", "5m", "1h"; "0", "512KiB", "256MiB", "2GiB".
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

/// The largest accepted size: 1 PiB.
inline constexpr std::uint64_t max_size_bytes = 1ULL << 50;

/// Bytes of `text`: "0", or a decimal integer and one of B, KiB, MiB, GiB,
/// TiB (powers of 1024); nullopt for signs, spaces, fractions, other
/// units, garbage, or more than max_size_bytes.
std::optional<std::uint64_t> parse_size_bytes(std::string_view text) noexcept;

} // namespace ordo::app
