#include "gateway/detail/crypto.hpp"

#include <array>
#include <mutex>
#include <random>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "storage/keys.hpp"

namespace ordo::gateway::detail {

namespace {

using digest = std::array<unsigned char, 32>;

digest sha256(std::string_view data) {
  digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(),
                 nullptr)
        != 1
      || len != out.size()) {
    throw std::runtime_error("EVP_Digest(sha256) failed");
  }
  return out;
}

digest hmac_sha256(std::string_view key, std::string_view data) {
  digest out{};
  unsigned int len = 0;
  // HMAC() takes a non-null key pointer even when the key is empty.
  static const char empty = 0;
  const char* k = key.empty() ? &empty : key.data();
  if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           out.data(), &len)
        == nullptr
      || len != out.size()) {
    throw std::runtime_error("HMAC(sha256) failed");
  }
  return out;
}

std::string to_hex(const digest& d) {
  return storage::codec::hex(
    {reinterpret_cast<const char*>(d.data()), d.size()});
}

} // namespace

std::string sha256_hex(std::string_view data) {
  return to_hex(sha256(data));
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  return to_hex(hmac_sha256(key, data));
}

std::string payment_signature(std::string_view secret, std::string_view body) {
  return "sha256=" + hmac_sha256_hex(secret, body);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  auto da = sha256(a);
  auto db = sha256(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

bool verify_signature(std::string_view header, std::string_view secret,
                      std::string_view body) {
  constexpr std::string_view prefix = "sha256=";
  if (secret.empty() || header.size() != prefix.size() + 64
      || header.substr(0, prefix.size()) != prefix) {
    return false;
  }
  auto given = storage::codec::unhex(header.substr(prefix.size()));
  if (!given) {
    return false;
  }
  auto want = hmac_sha256(secret, body);
  return CRYPTO_memcmp(given->data(), want.data(), want.size()) == 0;
}

std::uint64_t random_u64() {
  static std::mutex mu;
  static std::mt19937_64 engine{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  std::lock_guard<std::mutex> guard(mu);
  return engine();
}

} // namespace ordo::gateway::detail
