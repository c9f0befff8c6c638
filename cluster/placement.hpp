#pragma once

// Static membership and the partition map (DESIGN.md §4): which
// node owns which partition, computed the same way on every node from the
// same flags. No networking here: plain values and pure functions.
//
//   --node-id ID --peers ID=HOST:PORT,... --partitions N [--cluster-port P]
//
// `--peers` names every node of the cluster, this one included, and is the
// same on every node (so every node computes the same map); `--node-id` says
// which of them this process is; its port must be `--cluster-port` when that
// is given. Partitions go to nodes by rendezvous (highest random weight)
// hashing: the owner of partition p is the node with the largest
// weight(node_id, p), so adding or removing a node moves only the
// partitions it gains or loses. An order id names its partition (chosen
// from the user id, runtime/ids.hpp); SKUs and coupons are placed by the
// partition of their own id.
//
// Threading: immutable after make(); share freely.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ordo::cluster {

/// One member as configured.
struct node_address {
  std::string id;
  std::string host;
  std::uint16_t port = 0;

  /// "HOST:PORT" ("[HOST]:PORT" for an IPv6 literal).
  std::string address() const;
};

/// Parses "ID=HOST:PORT,..." (ids: 1..64 of [A-Za-z0-9_-], hosts: a name,
/// an IPv4 or a bracketed IPv6 literal, ports 1..65535, no id or address
/// twice). nullopt and `*why` otherwise.
std::optional<std::vector<node_address>> parse_peers(std::string_view text,
                                                     std::string* why);

/// The weight of `node_id` for `partition`: stable across builds, machines
/// and runs (FNV-1a, then a 64-bit finalizer).
std::uint64_t weight(std::string_view node_id, std::uint32_t partition);

/// Membership as the flags give it.
struct membership_options {
  /// This node's id. Default: "local" (a single node).
  std::string node_id = "local";
  /// Every node, this one included; empty = this node alone.
  std::vector<node_address> peers;
  /// Partitions of the id space, 1..65536 (an order id names its partition
  /// in 4 hex digits). Default: 64.
  std::uint32_t partitions = 64;
  /// The port this node listens on for other nodes; 0 = not given (taken
  /// from its entry in `peers`).
  std::uint16_t cluster_port = 0;
};

class partition_map {
public:
  /// Checks `opts` (this node among the peers, its port, the partition
  /// count) and computes the map; nullopt and `*why`, naming the flag, on
  /// anything wrong.
  static std::optional<partition_map> make(const membership_options& opts,
                                           std::string* why);

  const std::string& self() const noexcept {
    return self_;
  }
  /// Every node, in the order configured.
  const std::vector<node_address>& nodes() const noexcept {
    return nodes_;
  }
  std::uint32_t partitions() const noexcept {
    return static_cast<std::uint32_t>(owner_.size());
  }
  /// The id of the node owning `partition` (< partitions()).
  const std::string& owner(std::uint32_t partition) const;
  /// The partitions `node_id` owns, ascending.
  std::vector<std::uint32_t> owned_by(std::string_view node_id) const;
  /// The node owning the order `order_id`; nullopt if it is not an order id
  /// or names a partition beyond partitions().
  std::optional<std::string> owner_of_order(const std::string& order_id) const;
  /// The node owning an SKU or coupon id (by the partition of the id).
  const std::string& owner_of_key(const std::string& id) const;
  /// The node owning report shard `shard` ("o" hex4, the partition it
  /// counts); nullopt for another name or a partition beyond partitions().
  std::optional<std::string> owner_of_shard(const std::string& shard) const;
  /// The node owning the actor `kind`/`id`, as the kind's placement says
  /// (runtime::placement_of): an order and its notifier and dispatcher by
  /// the order id's partition, a report shard by the partition it is named
  /// after, the others (SKUs, coupons, affiliates, the technicians pool, a
  /// user's limiter) by the partition their id hashes to. nullopt for what
  /// is not placed (the payment provider and the SMS sink run on every
  /// node) and for an id that names no partition of this map.
  std::optional<std::string> owner_of_actor(const std::string& kind,
                                            const std::string& id) const;
  /// True when this node owns `partition`.
  bool local(std::uint32_t partition) const {
    return owner(partition) == self_;
  }

private:
  partition_map() = default;

  // Constant after make().
  std::string self_;
  std::vector<node_address> nodes_;
  /// Index: partition; value: the owner's id.
  std::vector<std::string> owner_;
};

} // namespace ordo::cluster
