// The operator console and the OpenAPI document as the gateway serves them,
// and the operator endpoints the console stands on: the route table against
// docs/openapi.json, the console's files and headers, the owner of an order
// in the cluster view, the last audit and an audit asked for by name.

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include "gateway/detail/routes.hpp"
#include "runtime/ids.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/support/http_client.hpp"

#ifndef ORDO_SOURCE_DIR
#  error "the test target must define ORDO_SOURCE_DIR"
#endif

using namespace ordo;
using namespace ordo::test;

namespace {

nlohmann::json openapi_file() {
  std::ifstream in(std::string{ORDO_SOURCE_DIR} + "/docs/openapi.json");
  BOOST_REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

/// "GET /v1/orders/{id}" for every operation of the document.
std::set<std::string> documented_routes() {
  std::set<std::string> out;
  auto doc = openapi_file();
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "get" || method == "put" || method == "post"
          || method == "delete" || method == "patch") {
        std::string m = method;
        for (auto& ch : m) {
          ch = static_cast<char>(std::toupper(ch));
        }
        out.insert(m + " " + path);
      }
    }
  }
  return out;
}

std::string header_of(const http_response& r, const std::string& name) {
  auto i = r.headers.find(name);
  return i == r.headers.end() ? "" : i->second;
}

} // namespace

BOOST_AUTO_TEST_SUITE(console)

BOOST_FIXTURE_TEST_CASE(
  every_route_is_documented_and_every_documented_route_served, server_fixture) {
  gateway::detail::api_config cfg;
  cfg.n = node.get();
  cfg.map = std::make_shared<const cluster::partition_map>(
    *cluster::partition_map::make({}, nullptr));
  auto r = gateway::detail::make_router(cfg);
  std::set<std::string> served;
  for (const auto& route : r.routes()) {
    auto method = gateway::detail::http::to_string(route.method);
    served.insert(std::string{method.data(), method.size()} + " "
                  + route.pattern);
  }
  auto documented = documented_routes();
  for (const auto& s : served) {
    BOOST_CHECK_MESSAGE(documented.count(s) == 1,
                        s << " is served but not in docs/openapi.json");
  }
  for (const auto& d : documented) {
    BOOST_CHECK_MESSAGE(served.count(d) == 1,
                        d << " is in docs/openapi.json but not served");
  }
}

BOOST_FIXTURE_TEST_CASE(the_served_document_is_the_file, server_fixture) {
  http_client c{port()};
  auto r = c.get("/v1/openapi.json");
  BOOST_REQUIRE_EQUAL(r.status, 200u);
  BOOST_CHECK_EQUAL(header_of(r, "content-type"), "application/json");
  BOOST_CHECK(r.json == openapi_file());
  BOOST_CHECK_EQUAL(r.json["openapi"], "3.1.0");
}

BOOST_FIXTURE_TEST_CASE(the_console_loads_without_a_token_and_keeps_to_itself,
                        server_fixture) {
  http_client c{port()};
  auto page = c.get("/console");
  BOOST_REQUIRE_EQUAL(page.status, 200u);
  BOOST_CHECK_EQUAL(header_of(page, "content-type"),
                    "text/html; charset=utf-8");
  BOOST_CHECK(page.body.find("/console/app.js") != std::string::npos);
  BOOST_CHECK(header_of(page, "content-security-policy")
                .find("default-src "
                      "'self'")
              == 0);
  BOOST_CHECK_EQUAL(header_of(page, "x-frame-options"), "DENY");
  BOOST_CHECK_EQUAL(header_of(page, "x-content-type-options"), "nosniff");
  BOOST_CHECK_EQUAL(header_of(page, "referrer-policy"), "no-referrer");
  auto js = c.get("/console/app.js");
  BOOST_REQUIRE_EQUAL(js.status, 200u);
  BOOST_CHECK_EQUAL(header_of(js, "content-type"),
                    "text/javascript; charset=utf-8");
  BOOST_CHECK_GT(js.body.size(), 1000u);
  BOOST_CHECK_EQUAL(c.get("/console/app.css").status, 200u);
  // Nothing else: unknown names, hidden files, escapes out of the folder.
  for (const char* bad : {"/console/nope.js", "/console/.env",
                          "/console/..%2Fopenapi.json", "/console/%2e%2e"}) {
    auto r = c.get(bad);
    BOOST_CHECK_MESSAGE(r.status == 404u, bad << " answered " << r.status);
    BOOST_CHECK_EQUAL(r.json.value("error", ""), "not_found");
  }
}

BOOST_AUTO_TEST_CASE(a_console_dir_is_served_instead_of_the_built_in_copy) {
  temp_dir files;
  { std::ofstream{files.path() + "/index.html"} << "<p>dev copy</p>"; }
  server_fixture f{[&](gateway::server_options& o) {
    o.console_dir = files.path();
  }};
  http_client c{f.port()};
  auto page = c.get("/console");
  BOOST_REQUIRE_EQUAL(page.status, 200u);
  BOOST_CHECK_EQUAL(page.body, "<p>dev copy</p>");
  BOOST_CHECK_EQUAL(c.get("/console/app.js").status, 404u);
}

BOOST_FIXTURE_TEST_CASE(the_cluster_view_names_the_owner_of_an_order,
                        server_fixture) {
  http_client c{port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 10).status, 200u);
  auto created = create_order(c, "k1", "u1", "A", 1);
  BOOST_REQUIRE_EQUAL(created.status, 201u);
  std::string id = created.json["order_id"];
  auto r = c.get("/v1/admin/cluster?order_id=" + id, bearer(admin_token));
  BOOST_REQUIRE_EQUAL(r.status, 200u);
  BOOST_CHECK_EQUAL(r.json["owner"]["order_id"], id);
  BOOST_CHECK_EQUAL(r.json["owner"]["partition"].get<std::uint32_t>(),
                    *runtime::order_partition(id));
  BOOST_CHECK_EQUAL(r.json["owner"]["node"], r.json["node_id"]);
  BOOST_CHECK(
    !c.get("/v1/admin/cluster", bearer(admin_token)).json.contains("owner"));
  BOOST_CHECK_EQUAL(
    c.get("/v1/admin/cluster?order_id=a%20b", bearer(admin_token)).status,
    400u);
  BOOST_CHECK_EQUAL(
    c.get("/v1/admin/cluster?user_id=u1", bearer(admin_token)).status, 400u);
  BOOST_CHECK_EQUAL(
    c.get("/v1/admin/cluster?order_id=nope", bearer(admin_token)).status, 404u);
}

BOOST_FIXTURE_TEST_CASE(an_audit_asked_for_by_name_is_the_last_and_recorded,
                        server_fixture) {
  http_client c{port()};
  auto before = c.get("/v1/admin/audit/last", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(before.status, 200u);
  BOOST_CHECK(before.json["at"].is_null());
  BOOST_CHECK(before.json["trigger"].is_null());
  BOOST_CHECK_EQUAL(c.post("/v1/admin/audit", "", bearer(admin_token)).status,
                    400u);
  auto headers = bearer(admin_token);
  headers.emplace_back("X-Ordo-Operator", "carol");
  auto run = c.post("/v1/admin/audit", "", headers);
  BOOST_REQUIRE_EQUAL(run.status, 200u);
  BOOST_CHECK_EQUAL(run.json["trigger"], "request");
  BOOST_CHECK_EQUAL(run.json["ok"], true);
  auto last = c.get("/v1/admin/audit/last", bearer(admin_token));
  BOOST_CHECK_EQUAL(last.json["trigger"], "request");
  BOOST_CHECK(last.json["at"].is_string());
  auto log = c.get("/v1/admin/operator-log?limit=5", bearer(admin_token));
  BOOST_REQUIRE_EQUAL(log.status, 200u);
  BOOST_REQUIRE_EQUAL(log.json["entries"].size(), 1u);
  BOOST_CHECK_EQUAL(log.json["entries"][0]["operator"], "carol");
  BOOST_CHECK_EQUAL(log.json["entries"][0]["action"], "audit.run");
  BOOST_CHECK_EQUAL(
    c.get("/v1/admin/operator-log?limit=0", bearer(admin_token)).status, 400u);
  BOOST_CHECK_EQUAL(c.get("/v1/admin/operator-log").status, 401u);
}

BOOST_FIXTURE_TEST_CASE(a_single_node_answers_for_itself_by_name_only,
                        server_fixture) {
  http_client c{port()};
  auto self = c.get("/v1/admin/cluster", bearer(admin_token))
                .json["node_id"]
                .get<std::string>();
  for (const std::string target :
       {"/v1/admin/outbox?node=", "/v1/admin/operator-log?node=",
        "/v1/admin/audit/last?node=", "/metrics?node="}) {
    BOOST_CHECK_MESSAGE(
      c.get(target + self, bearer(admin_token)).status == 200u, target);
    auto other = c.get(target + "elsewhere", bearer(admin_token));
    BOOST_CHECK_MESSAGE(other.status == 404u, target << " " << other.status);
  }
}

BOOST_AUTO_TEST_SUITE_END()
