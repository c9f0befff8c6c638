#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ordo::actors {

/// Domain error codes. The gateway maps each to the HTTP status and error code
/// of API.md in exactly one place (gateway/detail/errors.cpp).
enum class errc {
  /// Malformed, missing or ill-typed input (400 bad_request).
  bad_request,
  /// The caller is not allowed to do this (401 unauthorized).
  unauthorized,
  /// No such order, SKU or other entity (404 not_found).
  not_found,
  /// Not enough available stock to reserve (409 insufficient_stock).
  insufficient_stock,
  /// The coupon cannot back this order (409 coupon_unavailable).
  coupon_unavailable,
  /// The order is paid: cancel refused, refunds go the refund path (409).
  already_paid,
  /// The command does not apply to the order's current status (409).
  invalid_transition,
  /// The Idempotency-Key was used before with another body (422).
  idempotency_key_reused,
  /// The user placed too many orders in the window (429 rate_limited, with
  /// Retry-After).
  rate_limited,
  /// The user must solve a captcha before the next order (403
  /// captcha_required, with the challenge).
  captcha_required,
  /// The owner of the data cannot be reached right now (503 unavailable).
  unavailable,
  /// Storage or another internal failure (500 internal).
  internal,
};

/// The API.md error code string of `e`, e.g. "insufficient_stock".
const char* to_string(errc e) noexcept;

/// Parses an error code string of to_string(); nullopt for anything else.
std::optional<errc> parse_errc(const std::string& s) noexcept;

/// An error: a code and a human-readable message.
struct error {
  errc code = errc::internal;
  std::string message;
};

/// The most of a client's input a log line (or an error message) may echo.
inline constexpr std::size_t clip_length = 96;

/// `text` cut for a log line: whole when at most `max` bytes, else its first
/// `max` bytes and a marker with the full size ("...[+N bytes]"). Client
/// input goes through this before it reaches a log.
std::string clip(std::string_view text, std::size_t max = clip_length);

/// Either a T or an error; the value type of every reply that crosses modules.
template <class T>
class result {
public:
  result(T value) : data_(std::move(value)) {}
  result(error err) : data_(std::move(err)) {}
  result(errc code, std::string message)
    : data_(error{code, std::move(message)}) {}

  bool ok() const noexcept {
    return data_.index() == 0;
  }
  explicit operator bool() const noexcept {
    return ok();
  }
  T& value() {
    return std::get<0>(data_);
  }
  const T& value() const {
    return std::get<0>(data_);
  }
  T* operator->() {
    return &value();
  }
  const T* operator->() const {
    return &value();
  }
  const error& err() const {
    return std::get<1>(data_);
  }

private:
  std::variant<T, error> data_;
};

} // namespace ordo::actors
