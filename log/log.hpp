#pragma once

// ordo's log: one line per event on stderr, as text or as JSON.
//
//   text: 2026-01-31T12:00:00.123Z warn storage: refusing writes: disk full
//   json: {"ts":"2026-01-31T12:00:00.123Z","level":"warn",
//          "component":"storage","msg":"refusing writes: disk full"}
//
// A message is one line whatever it holds: text escapes control characters
// (a newline in a client's id is written as \n, so it cannot start a forged
// line), JSON escapes as JSON does and replaces invalid UTF-8. The log does
// not shorten anything: a caller that echoes client input (ids, bodies,
// URLs, header values) clips it first (actors::clip).
//
// Depends on nothing of ordo, so every module may log; spdlog stays inside
// log.cpp.
//
// Threading: every function is thread-safe. configure() is meant for
// start-up; a line written while it runs may still have the old format.

#include <iosfwd>
#include <string_view>

namespace ordo::log {

/// How much an event matters, least first.
enum class level {
  trace, ///< step-by-step detail, for chasing one problem
  debug, ///< detail an operator does not need in normal running
  info,  ///< a normal but notable event (a peer connected, shutdown)
  warn,  ///< something went wrong and ordo copes (a peer lost, writes refused)
  error, ///< something failed that ordo cannot fix by itself
};

/// How each event is written.
enum class format {
  text, ///< `<time> <level> <component>: <message>`
  json, ///< one JSON object per line: ts, level, component, msg
};

/// Parses a --log-level value ("trace" ... "error"); false for anything
/// else, leaving `*out` alone.
bool parse_level(std::string_view name, level* out);

/// Parses a --log-format value ("text" or "json"); false for anything else,
/// leaving `*out` alone.
bool parse_format(std::string_view name, format* out);

/// Writes events of `min` and above in `fmt` to `out` (nullptr: stderr; a
/// stream must outlive its use, and is for tests). Until the first call:
/// info, text, stderr.
void configure(level min, format fmt, std::ostream* out = nullptr);

/// Whether an event of `l` would be written: lets a caller skip building a
/// costly message.
bool enabled(level l) noexcept;

/// Writes one event when `l` is enabled. `component` names the module
/// ("storage", "gateway", ...). Never throws: a line that cannot be
/// written (out of memory) is lost.
void write(level l, std::string_view component,
           std::string_view message) noexcept;

inline void trace(std::string_view component,
                  std::string_view message) noexcept {
  write(level::trace, component, message);
}
inline void debug(std::string_view component,
                  std::string_view message) noexcept {
  write(level::debug, component, message);
}
inline void info(std::string_view component,
                 std::string_view message) noexcept {
  write(level::info, component, message);
}
inline void warn(std::string_view component,
                 std::string_view message) noexcept {
  write(level::warn, component, message);
}
inline void error(std::string_view component,
                  std::string_view message) noexcept {
  write(level::error, component, message);
}

} // namespace ordo::log
