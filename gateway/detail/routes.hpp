#pragma once

// Every HTTP route of the gateway, registered in one place (routes.cpp).
//
// Threading: the handlers are immutable; they call the thread-safe node from
// any I/O thread.

#include <memory>
#include <string>

#include "cluster/mesh.hpp"
#include "cluster/placement.hpp"
#include "gateway/detail/request_metrics.hpp"
#include "gateway/detail/router.hpp"

namespace ordo::runtime {
class node;
} // namespace ordo::runtime

namespace ordo::gateway::detail {

/// What the handlers need besides the request. `n` must outlive them.
struct api_config {
  runtime::node* n = nullptr;
  std::string admin_token;
  std::string payment_secret;
  /// The server's request registry, appended to GET /metrics; null = none.
  std::shared_ptr<const request_metrics> requests;
  /// Membership and the partition map (GET /v1/admin/cluster); not null.
  std::shared_ptr<const cluster::partition_map> map;
  /// The connections to the other nodes; null for a single node. Requests
  /// for partitions others own are forwarded through it (forward.hpp).
  cluster::mesh* mesh = nullptr;
  /// Where /console is read from; "" = the built-in copy (assets.hpp).
  std::string console_dir;
};

/// A router serving API.md's routes of this stage with `cfg`.
router make_router(api_config cfg);

} // namespace ordo::gateway::detail
