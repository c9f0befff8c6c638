#pragma once

// Captcha challenges for the order rate limiter (DESIGN.md rule 10), behind a
// small pluggable interface: the limiter asks a `verifier` for a challenge,
// shows its question, keeps the challenge in its state and later asks the
// same verifier whether an answer solves it. The built-in verifier asks a
// small arithmetic question; a real deployment may plug in another one
// through limiter::config.
//
// Threading: a verifier is immutable once built and its methods are const
// and pure, so one instance may be shared by every limiter on any thread.

#include <cstdint>
#include <string>

#include "actors/vocabulary.hpp"

namespace ordo::actors::captcha {

/// One question put to a user. `expected` is the verifier's secret: it is
/// stored with the limiter's state but never shown to the user.
struct challenge {
  /// Names the challenge in the user's answer; set by the limiter.
  std::string id;
  /// What the user is shown, e.g. "What is 3 + 4?".
  std::string question;
  /// What verify() needs to check an answer (for the built-in verifier the
  /// number in decimal); keep anything a custom verifier needs here.
  std::string expected;
  /// When the challenge was put; set by the limiter.
  millis issued_at = 0;
};

/// Puts and checks challenges.
class verifier {
public:
  virtual ~verifier() = default;
  /// A new challenge; `seed` is any number (deterministic given the seed).
  /// Fills `question` and `expected`; the caller names it and stamps it.
  /// Must not throw.
  virtual challenge issue(std::uint64_t seed) const = 0;
  /// True if `answer` solves `c`. Must not throw.
  virtual bool verify(const challenge& c, const std::string& answer) const = 0;
};

/// The built-in verifier: a small arithmetic question ("What is 3 + 4?",
/// expected "7"): a sum of two numbers in 1..20 or a product of two numbers
/// in 2..9, picked from the seed. verify() ignores surrounding whitespace and
/// compares the integer exactly ("07" and "7" both fine, "seven" or "7x"
/// not). A static instance that lives as long as the program.
const verifier& arithmetic();

} // namespace ordo::actors::captcha
