#include "cluster/placement.hpp"

#include <algorithm>
#include <set>

#include "runtime/ids.hpp"
#include "runtime/node.hpp"
#include "storage/keys.hpp"

namespace ordo::cluster {

namespace {

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool valid_id(std::string_view id) {
  return !id.empty() && id.size() <= 64
         && std::all_of(id.begin(), id.end(), id_char);
}

bool host_char(char c) {
  return id_char(c) || c == '.';
}

/// "HOST:PORT" or "[V6]:PORT" into its parts; false if malformed.
bool split_address(std::string_view text, std::string* host,
                   std::uint16_t* port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return false;
  }
  auto h = text.substr(0, colon);
  auto p = text.substr(colon + 1);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']'
        || h.substr(1, h.size() - 2)
               .find_first_not_of("0123456789abcdefABCDEF:")
             != std::string_view::npos) {
      return false;
    }
  } else if (!std::all_of(h.begin(), h.end(), host_char)) {
    return false;
  }
  if (p.empty() || p.size() > 5
      || p.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  auto n = std::stoul(std::string{p});
  if (n < 1 || n > 65535) {
    return false;
  }
  *host = std::string{h};
  *port = static_cast<std::uint16_t>(n);
  return true;
}

std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

} // namespace

std::string node_address::address() const {
  return host + ":" + std::to_string(port);
}

std::optional<std::vector<node_address>> parse_peers(std::string_view text,
                                                     std::string* why) {
  std::vector<node_address> out;
  std::set<std::string> ids;
  std::set<std::string> addresses;
  while (true) {
    auto comma = text.find(',');
    auto entry = text.substr(0, comma);
    auto eq = entry.find('=');
    node_address n;
    if (eq == std::string_view::npos || !valid_id(entry.substr(0, eq))
        || !split_address(entry.substr(eq + 1), &n.host, &n.port)) {
      *why = "expected ID=HOST:PORT,... (ids of letters, digits, '_' and "
             "'-'), got '"
             + std::string{entry} + "'";
      return std::nullopt;
    }
    n.id = std::string{entry.substr(0, eq)};
    if (!ids.insert(n.id).second) {
      *why = "node " + n.id + " is listed twice";
      return std::nullopt;
    }
    if (!addresses.insert(n.address()).second) {
      *why = "address " + n.address() + " is listed twice";
      return std::nullopt;
    }
    out.push_back(std::move(n));
    if (comma == std::string_view::npos) {
      return out;
    }
    text.remove_prefix(comma + 1);
  }
}

std::uint64_t weight(std::string_view node_id, std::uint32_t partition) {
  std::uint64_t h = 14695981039346656037ull;
  auto byte = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (unsigned char c : node_id) {
    byte(c);
  }
  byte(0);
  for (int i = 0; i < 4; ++i) {
    byte(static_cast<unsigned char>(partition >> (8 * i)));
  }
  return mix(h);
}

std::optional<partition_map> partition_map::make(const membership_options& opts,
                                                 std::string* why) {
  if (opts.partitions < 1 || opts.partitions > 65536) {
    *why = "--partitions must be in 1..65536, got "
           + std::to_string(opts.partitions);
    return std::nullopt;
  }
  if (!valid_id(opts.node_id)) {
    *why = "--node-id must be 1..64 letters, digits, '_' or '-', got '"
           + opts.node_id + "'";
    return std::nullopt;
  }
  partition_map m;
  m.self_ = opts.node_id;
  m.nodes_ = opts.peers;
  if (m.nodes_.empty()) {
    m.nodes_.push_back({opts.node_id, "127.0.0.1", opts.cluster_port});
  }
  auto me = std::find_if(m.nodes_.begin(), m.nodes_.end(),
                         [&](const node_address& n) {
                           return n.id == opts.node_id;
                         });
  if (me == m.nodes_.end()) {
    std::string known;
    for (const auto& n : m.nodes_) {
      known += (known.empty() ? "" : ", ") + n.id;
    }
    *why
      = "--node-id " + opts.node_id + " is not one of --peers (" + known + ")";
    return std::nullopt;
  }
  if (!opts.peers.empty() && opts.cluster_port != 0
      && opts.cluster_port != me->port) {
    *why = "--cluster-port " + std::to_string(opts.cluster_port)
           + " differs from this node's entry in --peers (" + me->address()
           + ")";
    return std::nullopt;
  }
  m.owner_.resize(opts.partitions);
  for (std::uint32_t p = 0; p < opts.partitions; ++p) {
    const node_address* best = nullptr;
    std::uint64_t best_weight = 0;
    for (const auto& n : m.nodes_) {
      auto w = weight(n.id, p);
      // Ties (astronomically rare) go to the smaller id, on every node.
      if (best == nullptr || w > best_weight
          || (w == best_weight && n.id < best->id)) {
        best = &n;
        best_weight = w;
      }
    }
    m.owner_[p] = best->id;
  }
  return m;
}

const std::string& partition_map::owner(std::uint32_t partition) const {
  return owner_.at(partition);
}

std::vector<std::uint32_t>
partition_map::owned_by(std::string_view node_id) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t p = 0; p < owner_.size(); ++p) {
    if (owner_[p] == node_id) {
      out.push_back(p);
    }
  }
  return out;
}

std::optional<std::string>
partition_map::owner_of_order(const std::string& order_id) const {
  auto p = runtime::order_partition(order_id);
  if (!p || *p >= owner_.size()) {
    return std::nullopt;
  }
  return owner_[*p];
}

const std::string& partition_map::owner_of_key(const std::string& id) const {
  return owner_[runtime::user_partition(id, partitions())];
}

std::optional<std::string>
partition_map::owner_of_shard(const std::string& shard) const {
  // shard_name(p): 'o' hex4, the partition it counts.
  if (shard.size() != 5 || shard[0] != 'o') {
    return std::nullopt;
  }
  std::uint32_t p = 0;
  for (char c : shard.substr(1)) {
    int d = storage::codec::hex_digit(c);
    if (d < 0 || (c >= 'A' && c <= 'F')) {
      return std::nullopt; // shard names are lower case
    }
    p = p * 16 + static_cast<std::uint32_t>(d);
  }
  if (p >= owner_.size()) {
    return std::nullopt;
  }
  return owner_[p];
}

std::optional<std::string>
partition_map::owner_of_actor(const std::string& kind,
                              const std::string& id) const {
  auto place = runtime::placement_of(kind);
  if (!place) {
    return std::nullopt;
  }
  switch (*place) {
    case runtime::placement::order_id: return owner_of_order(id);
    case runtime::placement::hashed_id: return owner_of_key(id);
    case runtime::placement::shard_name: return owner_of_shard(id);
  }
  return std::nullopt;
}

} // namespace ordo::cluster
