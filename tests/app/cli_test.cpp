#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "app/cli.hpp"

using namespace ordo::app;

namespace {

struct run {
  command cmd;
  std::string out;
  std::string err;
};

/// Parses `args` (without the program name) with both env vars unset
/// unless `env` says otherwise.
run parse(std::vector<std::string> args, bool env = false) {
  if (!env) {
    unsetenv("ORDO_ADMIN_TOKEN");
    unsetenv("ORDO_PAYMENT_SECRET");
  }
  args.insert(args.begin(), "ordo");
  std::vector<const char*> argv;
  for (const auto& a : args) {
    argv.push_back(a.c_str());
  }
  std::ostringstream out, err;
  run r;
  r.cmd
    = parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

/// Checks that `args` fail with a message containing `text`.
void fails(std::vector<std::string> args, const std::string& text) {
  auto r = parse(args);
  BOOST_TEST(!r.cmd.serve.has_value());
  BOOST_TEST(r.cmd.exit_code != 0);
  BOOST_TEST(r.err.find(text) != std::string::npos,
             "stderr '" << r.err << "' should contain '" << text << "'");
}

} // namespace

BOOST_AUTO_TEST_SUITE(cli_suite)

BOOST_AUTO_TEST_CASE(plain_ordo_prints_help) {
  auto r = parse({});
  BOOST_TEST(!r.cmd.serve.has_value());
  BOOST_TEST(r.cmd.exit_code == 0);
  BOOST_TEST(r.out.find("serve") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(serve_help_lists_flags) {
  auto r = parse({"serve", "--help"});
  BOOST_TEST(!r.cmd.serve.has_value());
  BOOST_TEST(r.cmd.exit_code == 0);
  for (auto flag : {"--data",
                    "--http",
                    "--admin-token",
                    "--payment-secret",
                    "--payment-timeout",
                    "--reservation-ttl",
                    "--passivate-after",
                    "--durability",
                    "--scheduler-threads",
                    "--http-threads",
                    "--reader-threads",
                    "--notify-delay",
                    "--notify-ttl",
                    "--dispatch-delay",
                    "--commission-rate",
                    "--technicians",
                    "--sms-webhook",
                    "--flash-window",
                    "--rate-limit",
                    "--captcha-after",
                    "--saga-timeout"}) {
    BOOST_TEST(r.out.find(flag) != std::string::npos, flag);
  }
}

BOOST_AUTO_TEST_CASE(log_flags_choose_level_and_format) {
  auto defaults = parse({"serve"});
  BOOST_REQUIRE(defaults.cmd.serve.has_value());
  BOOST_TEST((defaults.cmd.serve->log_level == ordo::log::level::info));
  BOOST_TEST((defaults.cmd.serve->log_format == ordo::log::format::text));
  auto r = parse({"serve", "--log-level", "warn", "--log-format", "json"});
  BOOST_REQUIRE(r.cmd.serve.has_value());
  BOOST_TEST((r.cmd.serve->log_level == ordo::log::level::warn));
  BOOST_TEST((r.cmd.serve->log_format == ordo::log::format::json));
  fails({"serve", "--log-level", "loud"}, "--log-level");
  fails({"serve", "--log-format", "xml"}, "--log-format");
}

BOOST_AUTO_TEST_CASE(defaults_match_api_md) {
  auto r = parse({"serve"});
  BOOST_REQUIRE(r.cmd.serve.has_value());
  const auto& c = *r.cmd.serve;
  BOOST_TEST(c.node.data_dir == "./data");
  BOOST_TEST(c.node.sync);
  BOOST_TEST(c.node.payment_timeout == 15 * 60 * 1000);
  BOOST_TEST(c.node.reservation_ttl == 15 * 60 * 1000);
  BOOST_TEST(c.node.passivate_after == 60 * 1000);
  BOOST_TEST(c.node.dedupe_retention == 7LL * 24 * 3600 * 1000);
  BOOST_TEST(c.node.scheduler_threads == 2u);
  BOOST_TEST(c.node.reader_threads == 2u);
  BOOST_TEST(c.http.host == "127.0.0.1");
  BOOST_TEST(c.http.port == 8080);
  BOOST_TEST(c.http.threads == 1u);
  BOOST_TEST(c.node.notify_delay == 180'000);
  BOOST_TEST(c.node.notify_ttl == 300'000);
  BOOST_TEST(c.node.dispatch_delay == 90'000);
  BOOST_TEST(c.node.commission_ppm == 50'000);
  BOOST_TEST(c.node.technicians.empty());
  BOOST_TEST(c.node.sms_webhook.empty());
  BOOST_TEST(c.node.journal_keep == 100u);
  BOOST_TEST(c.node.audit_interval == 300'000);
  BOOST_TEST(c.node.flash_window == 60'000);
  BOOST_TEST(c.node.rate_limit == 5u);
  BOOST_TEST(c.node.rate_window == 60'000);
  BOOST_TEST(c.node.captcha_after == 3u);
  BOOST_TEST(c.node.saga_timeout == 30'000);
  BOOST_TEST(
    parse({"serve", "--audit-interval", "0"}).cmd.serve->node.audit_interval
    == 0);
  // A random admin token, shown on stderr; the dev secret, with a warning.
  BOOST_TEST(c.http.admin_token.size() == 32u);
  BOOST_TEST(r.err.find(c.http.admin_token) != std::string::npos);
  BOOST_TEST(c.http.payment_secret == "dev-secret");
  BOOST_TEST(r.err.find("warning") != std::string::npos);
  BOOST_TEST(r.out.empty());
  // Two runs, two tokens.
  BOOST_TEST(parse({"serve"}).cmd.serve->http.admin_token
             != c.http.admin_token);
}

BOOST_AUTO_TEST_CASE(flags_fill_the_options) {
  auto r = parse({"serve",     "--data",
                  "/tmp/x",    "--http",
                  "0.0.0.0:0", "--admin-token",
                  "adm",       "--payment-secret",
                  "sec",       "--payment-timeout",
                  "2s",        "--reservation-ttl",
                  "5m",        "--passivate-after",
                  "250ms",     "--durability",
                  "async",     "--scheduler-threads",
                  "4",         "--http-threads",
                  "3",         "--reader-threads",
                  "5"});
  BOOST_REQUIRE(r.cmd.serve.has_value());
  const auto& c = *r.cmd.serve;
  BOOST_TEST(c.node.data_dir == "/tmp/x");
  BOOST_TEST(!c.node.sync);
  BOOST_TEST(c.node.payment_timeout == 2000);
  BOOST_TEST(c.node.reservation_ttl == 300'000);
  BOOST_TEST(c.node.passivate_after == 250);
  BOOST_TEST(c.node.scheduler_threads == 4u);
  BOOST_TEST(c.node.reader_threads == 5u);
  BOOST_TEST(c.http.host == "0.0.0.0");
  BOOST_TEST(c.http.port == 0);
  BOOST_TEST(c.http.threads == 3u);
  BOOST_TEST(c.http.admin_token == "adm");
  BOOST_TEST(c.http.payment_secret == "sec");
  BOOST_TEST(r.err.empty(), r.err);
}

BOOST_AUTO_TEST_CASE(side_effect_flags_fill_the_options) {
  auto r = parse({"serve", "--notify-delay", "2s", "--notify-ttl", "1m",
                  "--dispatch-delay", "500ms", "--commission-rate", "0.0125",
                  "--technicians", "ann,bob,c-3", "--sms-webhook",
                  "http://127.0.0.1:9000/sms"});
  BOOST_REQUIRE(r.cmd.serve.has_value());
  const auto& n = r.cmd.serve->node;
  BOOST_TEST(n.notify_delay == 2000);
  BOOST_TEST(n.notify_ttl == 60'000);
  BOOST_TEST(n.dispatch_delay == 500);
  BOOST_TEST(n.commission_ppm == 12'500);
  BOOST_TEST((n.technicians == std::vector<std::string>{"ann", "bob", "c-3"}));
  BOOST_TEST(n.sms_webhook == "http://127.0.0.1:9000/sms");
  BOOST_TEST(
    parse({"serve", "--commission-rate", "0"}).cmd.serve->node.commission_ppm
    == 0);
  BOOST_TEST(
    parse({"serve", "--commission-rate", "1"}).cmd.serve->node.commission_ppm
    == 1'000'000);
}

BOOST_AUTO_TEST_CASE(faults_flag_arms_rules_at_start_up) {
  auto r = parse({"serve", "--faults",
                  "store.after_commit=crash@0.01,relay.deliver=delay:200ms#3"});
  BOOST_REQUIRE(r.cmd.serve.has_value());
  const auto& f = r.cmd.serve->faults;
  BOOST_REQUIRE_EQUAL(f.size(), 2u);
  BOOST_TEST(f[0].point == "store.after_commit");
  BOOST_TEST((f[0].action == ordo::runtime::fault_action::crash));
  BOOST_TEST(f[0].probability == 0.01);
  BOOST_TEST(f[1].delay_ms == 200u);
  BOOST_TEST(f[1].count == 3u);
  BOOST_TEST(parse({"serve"}).cmd.serve->faults.empty());
}

BOOST_AUTO_TEST_CASE(environment_supplies_secrets) {
  setenv("ORDO_ADMIN_TOKEN", "env-admin", 1);
  setenv("ORDO_PAYMENT_SECRET", "env-secret", 1);
  auto r = parse({"serve"}, true);
  BOOST_REQUIRE(r.cmd.serve.has_value());
  BOOST_TEST(r.cmd.serve->http.admin_token == "env-admin");
  BOOST_TEST(r.cmd.serve->http.payment_secret == "env-secret");
  BOOST_TEST(r.err.empty(), r.err);
  // A flag beats the environment.
  r = parse({"serve", "--admin-token", "flag-admin"}, true);
  BOOST_TEST(r.cmd.serve->http.admin_token == "flag-admin");
  unsetenv("ORDO_ADMIN_TOKEN");
  unsetenv("ORDO_PAYMENT_SECRET");
}

BOOST_AUTO_TEST_CASE(abuse_and_saga_flags_reach_the_node) {
  auto r = parse({"serve", "--rate-limit", "20/10s", "--captcha-after", "0",
                  "--flash-window", "2m", "--saga-timeout", "5s"});
  BOOST_REQUIRE(r.cmd.serve.has_value());
  const auto& n = r.cmd.serve->node;
  BOOST_TEST(n.rate_limit == 20u);
  BOOST_TEST(n.rate_window == 10'000);
  BOOST_TEST(n.captcha_after == 0u);
  BOOST_TEST(n.flash_window == 120'000);
  BOOST_TEST(n.saga_timeout == 5'000);
  BOOST_TEST(parse({"serve", "--rate-limit", "off"}).cmd.serve->node.rate_limit
             == 0u);
  fails({"serve", "--rate-limit", "5"}, "--rate-limit");
  fails({"serve", "--rate-limit", "0/1m"}, "--rate-limit");
  fails({"serve", "--rate-limit", "-1/1m"}, "--rate-limit");
  fails({"serve", "--rate-limit", "5/"}, "--rate-limit");
  fails({"serve", "--rate-limit", "5/0s"}, "--rate-limit");
  fails({"serve", "--rate-limit", "/1m"}, "--rate-limit");
  fails({"serve", "--rate-limit", "99999999/1m"}, "--rate-limit");
  fails({"serve", "--rate-limit", "5/1m/2"}, "--rate-limit");
  fails({"serve", "--captcha-after", "-1"}, "--captcha-after");
  fails({"serve", "--captcha-after", "x"}, "--captcha-after");
  fails({"serve", "--flash-window", "0s"}, "--flash-window");
  fails({"serve", "--saga-timeout", "soon"}, "--saga-timeout");
}

BOOST_AUTO_TEST_CASE(dedupe_retention_flag_reaches_the_node) {
  auto r = parse({"serve", "--dedupe-retention", "48h"});
  BOOST_REQUIRE(r.cmd.serve.has_value());
  BOOST_TEST(r.cmd.serve->node.dedupe_retention == 48LL * 3600 * 1000);
  fails({"serve", "--dedupe-retention", "59s"}, "shorter than 1m");
  fails({"serve", "--dedupe-retention", "0s"}, "--dedupe-retention");
  fails({"serve", "--dedupe-retention", "forever"}, "invalid duration");
}

BOOST_AUTO_TEST_CASE(cluster_flags_reach_the_node_and_the_map) {
  auto r = parse({"serve", "--node-id", "n1", "--peers", "n1=127.0.0.1:7001",
                  "--cluster-port", "7001", "--partitions", "16"});
  BOOST_REQUIRE(r.cmd.serve.has_value());
  BOOST_TEST(r.cmd.serve->node.partitions == 16u);
  BOOST_TEST(r.cmd.serve->http.membership.partitions == 16u);
  BOOST_TEST(r.cmd.serve->http.membership.node_id == "n1");
  BOOST_TEST(parse({"serve"}).cmd.serve->node.partitions == 64u);
  fails({"serve", "--partitions", "0"}, "--partitions");
  fails({"serve", "--partitions", "65537"}, "--partitions");
  fails({"serve", "--peers", "a=h"}, "--peers");
  fails({"serve", "--peers", "a=h:1,a=h:2"}, "listed twice");
  fails({"serve", "--node-id", "z", "--peers", "a=h:1"},
        "--node-id z is not one of --peers (a)");
  fails({"serve", "--node-id", "a", "--peers", "a=h:1", "--cluster-port", "2"},
        "--cluster-port 2 differs");
  auto three = parse({"serve", "--node-id", "b", "--peers",
                      "a=127.0.0.1:7001,b=127.0.0.1:7002,c=127.0.0.1:7003"});
  BOOST_REQUIRE(three.cmd.serve.has_value());
  BOOST_TEST(three.cmd.serve->http.membership.peers.size() == 3u);
  BOOST_TEST(three.cmd.serve->http.membership.node_id == "b");
  fails({"serve", "--node-id", "d", "--peers", "a=h:1,b=h:2"},
        "--node-id d is not one of --peers (a, b)");
}

BOOST_AUTO_TEST_CASE(bad_values_fail_with_clear_messages) {
  fails({"serve", "--payment-timeout", "0s"}, "--payment-timeout");
  fails({"serve", "--payment-timeout", "5"}, "invalid duration");
  fails({"serve", "--passivate-after", "-1s"}, "--passivate-after");
  fails({"serve", "--reservation-ttl", "1h1m"}, "--reservation-ttl");
  fails({"serve", "--payment-timeout", "20m"}, "must not expire first");
  fails({"serve", "--reservation-ttl", "5m"}, "shorter than --payment-timeout");
  fails({"serve", "--http", "localhost"}, "--http");
  fails({"serve", "--http", "127.0.0.1:65536"}, "--http");
  fails({"serve", "--http", "127.0.0.1:"}, "--http");
  fails({"serve", "--http", ":80"}, "--http");
  fails({"serve", "--http", "::1:80"}, "--http");
  fails({"serve", "--durability", "maybe"}, "--durability");
  fails({"serve", "--scheduler-threads", "0"}, "--scheduler-threads");
  fails({"serve", "--scheduler-threads", "65"}, "--scheduler-threads");
  fails({"serve", "--reader-threads", "0"}, "--reader-threads");
  fails({"serve", "--http-threads", "x"}, "--http-threads");
  fails({"serve", "--admin-token", ""}, "--admin-token");
  fails({"serve", "--payment-secret", ""}, "--payment-secret");
  fails({"serve", "--data", ""}, "--data");
  fails({"serve", "--notify-delay", "0s"}, "--notify-delay");
  fails({"serve", "--journal-keep", "0"}, "--journal-keep");
  fails({"serve", "--audit-interval", "often"}, "--audit-interval");
  fails({"serve", "--faults", "store.after_commit=boom"}, "--faults");
  fails({"serve", "--faults", "nowhere=crash"}, "--faults");
  fails({"serve", "--alert-webhook", "mailto:x"}, "--alert-webhook");
  fails({"serve", "--journal-keep", "-5"}, "--journal-keep");
  fails({"serve", "--notify-ttl", "1m"}, "shorter than --notify-delay");
  fails({"serve", "--dispatch-delay", "soon"}, "--dispatch-delay");
  fails({"serve", "--commission-rate", "1.5"}, "--commission-rate");
  fails({"serve", "--commission-rate", "-0.1"}, "--commission-rate");
  fails({"serve", "--commission-rate", "0.0000001"}, "6 decimals");
  fails({"serve", "--commission-rate", "five"}, "--commission-rate");
  fails({"serve", "--technicians", "ann,,bob"}, "--technicians");
  fails({"serve", "--technicians", "ann,ann"}, "listed twice");
  fails({"serve", "--technicians", "a b"}, "--technicians");
  fails({"serve", "--sms-webhook", "https://x"}, "--sms-webhook");
  fails({"serve", "--sms-webhook", "http://:80"}, "--sms-webhook");
}

BOOST_AUTO_TEST_CASE(unknown_flags_and_commands_fail) {
  fails({"serve", "--bogus"}, "--bogus");
  fails({"serve", "extra"}, "extra");
  fails({"launch"}, "launch");
  fails({"--data", "x"}, "--data");
}

BOOST_AUTO_TEST_CASE(listen_addresses_parse) {
  std::string host;
  std::uint16_t port = 1;
  BOOST_TEST(parse_listen_address("127.0.0.1:0", &host, &port));
  BOOST_TEST(host == "127.0.0.1");
  BOOST_TEST(port == 0);
  BOOST_TEST(parse_listen_address("[::1]:8080", &host, &port));
  BOOST_TEST(host == "::1");
  BOOST_TEST(port == 8080);
  BOOST_TEST(parse_listen_address("localhost:65535", &host, &port));
  BOOST_TEST(port == 65535);
  BOOST_TEST(!parse_listen_address("host:-1", &host, &port));
  BOOST_TEST(!parse_listen_address("host:1x", &host, &port));
  BOOST_TEST(!parse_listen_address("host:000080800", &host, &port));
}

BOOST_AUTO_TEST_CASE(listen_url_brackets_ipv6) {
  BOOST_TEST(listen_url("127.0.0.1", 8080) == "http://127.0.0.1:8080");
  BOOST_TEST(listen_url("::1", 9) == "http://[::1]:9");
}

BOOST_AUTO_TEST_SUITE_END()
