#pragma once

// Hashing, HMAC and constant-time comparison for the gateway (OpenSSL).
//
// Threading: all functions are thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

namespace ordo::gateway::detail {

/// Lower-case hex of SHA-256(`data`).
std::string sha256_hex(std::string_view data);

/// Lower-case hex of HMAC-SHA256(`key`, `data`).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// True when `a == b`, in time that depends on neither content nor length
/// (both are hashed first).
bool constant_time_equal(std::string_view a, std::string_view b);

/// The X-Ordo-Signature of a payment callback: "sha256=" + lower-case hex
/// of HMAC-SHA256(`secret`, `body`). Every signer (the load generator, the
/// tests' HTTP client) uses this one.
std::string payment_signature(std::string_view secret, std::string_view body);

/// True when `header` is a payment_signature() of `body` under `secret`
/// (hex in either case). An empty secret verifies nothing.
bool verify_signature(std::string_view header, std::string_view secret,
                      std::string_view body);

/// A random 64-bit number (one mt19937_64 seeded once from random_device).
std::uint64_t random_u64();

} // namespace ordo::gateway::detail
