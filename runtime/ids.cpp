#include "runtime/ids.hpp"

#include <algorithm>
#include <cstdio>

#include <openssl/sha.h>

#include "storage/keys.hpp"

namespace ordo::runtime {

namespace {

/// FNV-1a, 64 bit: stable and cheap, for placement.
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

} // namespace

std::uint32_t user_partition(const std::string& user_id,
                             std::uint32_t partitions) {
  return static_cast<std::uint32_t>(fnv1a(user_id)
                                    % (partitions ? partitions : 1));
}

std::string order_id(const std::string& user_id,
                     const std::string& idempotency_key,
                     std::uint32_t partitions) {
  std::string material = user_id;
  material.push_back('\0');
  material += idempotency_key;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(material.data()),
         material.size(), digest);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "o%04x-",
                user_partition(user_id, partitions));
  return buf + storage::codec::hex({reinterpret_cast<const char*>(digest), 8});
}

std::optional<std::uint32_t> order_partition(const std::string& order_id) {
  // A split order's child appends '-' and its number to the parent's id.
  bool child
    = order_id.size() > 23 && order_id[22] == '-'
      && std::all_of(order_id.begin() + 23, order_id.end(), [](char c) {
           return c >= '0' && c <= '9';
         });
  if ((order_id.size() != 22 && !child) || order_id[0] != 'o'
      || order_id[5] != '-') {
    return std::nullopt;
  }
  std::uint32_t p = 0;
  for (int i = 1; i < 5; ++i) {
    char c = order_id[i];
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (v < 0) {
      return std::nullopt;
    }
    p = p * 16 + static_cast<std::uint32_t>(v);
  }
  return p;
}

} // namespace ordo::runtime
