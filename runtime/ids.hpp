#pragma once

// Order ids. An id names its partition, so any node can route it:
//
//   order_id := 'o' hex4(partition) '-' hex16(sha256(user_id NUL key)[0..8])
//
// The partition is chosen from the user id (a user's orders live together);
// the rest from the user and the Idempotency-Key, so a retried create with
// the same key reaches the same order actor, and keys are scoped per user.

#include <cstdint>
#include <optional>
#include <string>

namespace ordo::runtime {

/// The partition of a user's orders (stable across builds and machines).
std::uint32_t user_partition(const std::string& user_id,
                             std::uint32_t partitions);

/// The order id for a create by `user_id` with `idempotency_key`.
std::string order_id(const std::string& user_id,
                     const std::string& idempotency_key,
                     std::uint32_t partitions);

/// The partition named in `order_id` (a split order's child, parent id
/// '-' N, is in its parent's); nullopt if it is not an order id.
std::optional<std::uint32_t> order_partition(const std::string& order_id);

} // namespace ordo::runtime
