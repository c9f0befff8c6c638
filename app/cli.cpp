#include "app/cli.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <random>
#include <vector>

#include <CLI/CLI.hpp>

#include "app/duration.hpp"

namespace ordo::app {

namespace {

constexpr const char* dev_secret = "dev-secret";

std::string random_token() {
  std::random_device rd;
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 4; ++i) { // 128 bits → 32 hex digits
    auto word = rd();           // 32 random bits
    for (int j = 0; j < 4; ++j) {
      out.push_back(digits[(word >> (8 * j + 4)) & 0xf]);
      out.push_back(digits[(word >> (8 * j)) & 0xf]);
    }
  }
  return out;
}

/// The raw flag values of `ordo serve`, defaults as in API.md.
struct serve_flags {
  std::string data = "./data";
  std::string http = "127.0.0.1:8080";
  std::string admin_token;
  std::string payment_secret;
  std::string payment_timeout = "15m";
  std::string reservation_ttl = "15m";
  std::string passivate_after = "60s";
  std::string dedupe_retention = "168h";
  std::string durability = "sync";
  std::size_t scheduler_threads = 2;
  std::size_t http_threads = 1;
  std::size_t reader_threads = 2;
  std::string payment_provider;
  std::string notify_delay = "180s";
  std::string notify_ttl = "300s";
  std::string dispatch_delay = "90s";
  double commission_rate = 0.05;
  std::string technicians;
  std::string sms_webhook;
  std::uint32_t journal_keep = 100;
  std::string audit_interval = "5m";
  std::string alert_webhook;
  std::string faults;
  std::string flash_window = "60s";
  std::string rate_limit = "5/1m";
  std::uint32_t captcha_after = 3;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string saga_timeout = "30s";
  std::string external_give_up = "24h";
  std::string node_id = "local";
  std::uint32_t cluster_port = 0;
  std::string peers;
  std::uint32_t partitions = 64;
  std::string min_free_disk = "256MiB";
  std::string console_dir;
};

/// The raw flag values of `ordo sandbox-provider`.
struct sandbox_flags {
  std::string host = "127.0.0.1";
  std::uint32_t port = 0;
  double fail_rate = 0;
  std::string latency = "0ms";
  std::string data;
  std::uint64_t seed = 0;
};

/// The raw flag values of `ordo load`.
struct load_flags {
  std::string url;
  std::vector<std::string> nodes;
  std::string admin_token;
  std::string payment_secret = "dev-secret";
  std::string workload = "steady";
  std::size_t connections = 64;
  double rate = 0;
  std::string duration = "10s";
  std::string warmup = "2s";
  double pay_ratio = 0.8;
  std::size_t skus = 16;
  std::string json;
  bool no_check = false;
  std::uint64_t seed = 0;
};

std::int64_t duration_flag(const std::string& name, const std::string& text) {
  auto ms = parse_duration_ms(text);
  if (!ms) {
    throw CLI::ValidationError(
      name, "invalid duration '" + text
              + "': use a positive integer and a unit, e.g. 250ms, 2s, 5m, "
                "1h (at most 100 years)");
  }
  return *ms;
}

/// "N/D" (N orders per duration D, 1 <= N <= 1,000,000) or "off" (no
/// limit: N = 0).
void rate_limit_flag(const std::string& text, runtime::node_options& node) {
  if (text == "off") {
    node.rate_limit = 0;
    return;
  }
  auto slash = text.find('/');
  auto count = text.substr(0, slash);
  bool digits
    = slash != std::string::npos && !count.empty() && count.size() <= 7;
  for (char c : count) {
    digits = digits && c >= '0' && c <= '9';
  }
  auto n = digits ? std::stoul(count) : 0;
  if (n < 1 || n > 1'000'000) {
    throw CLI::ValidationError(
      "--rate-limit", "expected N/D, N orders (1..1000000) per duration D "
                      "(e.g. 5/1m), or off; got '"
                        + text + "'");
  }
  node.rate_limit = static_cast<std::uint32_t>(n);
  node.rate_window = duration_flag("--rate-limit", text.substr(slash + 1));
}

/// "a,b,c" → {"a","b","c"}: ids (see API.md) without repeats; "" → none.
std::vector<std::string> technician_names(const std::string& text) {
  std::vector<std::string> names;
  if (text.empty()) {
    return names;
  }
  std::string_view rest = text;
  for (;;) {
    auto comma = rest.find(',');
    std::string name{rest.substr(0, comma)};
    bool ok = !name.empty() && name.size() <= 128;
    for (char c : name) {
      ok = ok && c > 0x20 && c < 0x7f && c != '/';
    }
    if (!ok) {
      throw CLI::ValidationError(
        "--technicians", "'" + name
                           + "' is not a name: use 1-128 printable ASCII "
                             "characters without spaces, '/' or ','");
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw CLI::ValidationError("--technicians", name + " is listed twice");
    }
    names.push_back(std::move(name));
    if (comma == std::string_view::npos) {
      return names;
    }
    rest.remove_prefix(comma + 1);
  }
}

/// --node-id, --cluster-port, --peers, --partitions: the same partition
/// count for the node's order ids and the gateway's map; the membership is
/// checked here as start-up would check it.
void cluster_flags(const serve_flags& f, serve_config& c) {
  auto& m = c.http.membership;
  m.node_id = f.node_id;
  m.cluster_port = static_cast<std::uint16_t>(f.cluster_port);
  m.partitions = f.partitions;
  std::string why;
  if (!f.peers.empty()) {
    auto peers = cluster::parse_peers(f.peers, &why);
    if (!peers) {
      throw CLI::ValidationError("--peers", why);
    }
    m.peers = std::move(*peers);
  }
  auto map = cluster::partition_map::make(m, &why);
  if (!map) {
    auto flag = why.substr(0, why.find(' '));
    throw CLI::ValidationError(flag.rfind("--", 0) == 0 ? flag : "--peers",
                               why);
  }
  c.node.partitions = f.partitions;
}

/// `text` when it is empty (the flag's default: none) or an http URL;
/// throws otherwise.
std::string http_url_flag(const char* flag, const std::string& text) {
  std::string why;
  if (!text.empty() && !runtime::valid_http_url(text, flag, &why)) {
    throw CLI::ValidationError(flag, why);
  }
  return text;
}

/// --data, --durability, --min-free-disk, --journal-keep.
void fill_storage(const serve_flags& f, runtime::node_options& node) {
  if (f.data.empty()) {
    throw CLI::ValidationError("--data", "must not be empty");
  }
  node.data_dir = f.data;
  node.sync = f.durability == "sync";
  auto min_free = parse_size_bytes(f.min_free_disk);
  if (!min_free) {
    throw CLI::ValidationError(
      "--min-free-disk",
      "invalid size '" + f.min_free_disk
        + "': use 0 (no guard) or an integer and a unit, e.g. 64MiB, 1GiB");
  }
  node.min_free_disk = *min_free;
  node.journal_keep = f.journal_keep;
}

/// --payment-timeout, --reservation-ttl, --passivate-after,
/// --dedupe-retention, and the bounds they set each other.
void fill_order_timers(const serve_flags& f, runtime::node_options& node) {
  node.payment_timeout = duration_flag("--payment-timeout", f.payment_timeout);
  node.reservation_ttl = duration_flag("--reservation-ttl", f.reservation_ttl);
  node.passivate_after = duration_flag("--passivate-after", f.passivate_after);
  node.dedupe_retention
    = duration_flag("--dedupe-retention", f.dedupe_retention);
  if (node.dedupe_retention < 60'000) {
    throw CLI::ValidationError(
      "--dedupe-retention",
      f.dedupe_retention
        + " is shorter than 1m: the outbox retries a message for half "
          "the retention, which must cover its backoff");
  }
  if (node.reservation_ttl < node.payment_timeout) {
    throw CLI::ValidationError(
      "--reservation-ttl",
      f.reservation_ttl + " is shorter than --payment-timeout "
        + f.payment_timeout
        + ": an unpaid order holds its stock until the payment timeout "
          "cancels it, so its reservation must not expire first");
  }
}

/// --scheduler-threads, --reader-threads, --http-threads.
void fill_threads(const serve_flags& f, serve_config& c) {
  c.node.scheduler_threads = f.scheduler_threads;
  c.node.reader_threads = f.reader_threads;
  c.http.threads = f.http_threads;
}

/// --sms-webhook, --notify-delay, --notify-ttl, --dispatch-delay,
/// --commission-rate, --technicians: admin SMS, O2O dispatch, affiliates.
void fill_o2o(const serve_flags& f, runtime::node_options& node) {
  node.sms_webhook = http_url_flag("--sms-webhook", f.sms_webhook);
  node.notify_delay = duration_flag("--notify-delay", f.notify_delay);
  node.notify_ttl = duration_flag("--notify-ttl", f.notify_ttl);
  if (node.notify_ttl < node.notify_delay) {
    throw CLI::ValidationError(
      "--notify-ttl", f.notify_ttl + " is shorter than --notify-delay "
                        + f.notify_delay
                        + ": every \"new order\" SMS would expire before it "
                          "could be sent");
  }
  node.dispatch_delay = duration_flag("--dispatch-delay", f.dispatch_delay);
  auto ppm = std::llround(f.commission_rate * 1e6);
  if (std::fabs(f.commission_rate * 1e6 - static_cast<double>(ppm)) > 1e-3) {
    throw CLI::ValidationError("--commission-rate",
                               "use at most 6 decimals (e.g. 0.05 or 0.0125)");
  }
  node.commission_ppm = ppm;
  node.technicians = technician_names(f.technicians);
}

/// --audit-interval, --alert-webhook.
void fill_audit(const serve_flags& f, runtime::node_options& node) {
  node.audit_interval = f.audit_interval == "0"
                          ? 0
                          : duration_flag("--audit-interval", f.audit_interval);
  node.alert_webhook = http_url_flag("--alert-webhook", f.alert_webhook);
}

/// --flash-window, --rate-limit, --captcha-after, --saga-timeout,
/// --external-give-up: limits on users, and on waiting before an operator
/// is asked.
void fill_limits(const serve_flags& f, runtime::node_options& node) {
  node.flash_window = duration_flag("--flash-window", f.flash_window);
  rate_limit_flag(f.rate_limit, node);
  node.captcha_after = f.captcha_after;
  node.saga_timeout = duration_flag("--saga-timeout", f.saga_timeout);
  node.external_give_up
    = f.external_give_up == "0"
        ? 0
        : duration_flag("--external-give-up", f.external_give_up);
}

/// --faults: the rules to arm at start-up; none when empty.
std::vector<runtime::fault_rule> fault_rules(const std::string& spec) {
  std::vector<runtime::fault_rule> rules;
  std::string why;
  if (!spec.empty() && !runtime::parse_fault_spec(spec, &rules, &why)) {
    throw CLI::ValidationError("--faults", why);
  }
  return rules;
}

/// --http, --console-dir.
void fill_listen(const serve_flags& f, gateway::server_options& http) {
  if (!parse_listen_address(f.http, &http.host, &http.port)) {
    throw CLI::ValidationError(
      "--http", "expected HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080; port "
                "0 picks a free one), got '"
                  + f.http + "'");
  }
  http.console_dir = f.console_dir;
}

/// --admin-token, --payment-secret (or their env vars): given empty is an
/// error; not given, a random token or dev-secret, said on `err`.
void fill_secrets(const serve_flags& f, bool admin_token_given,
                  bool payment_secret_given, gateway::server_options& http,
                  std::ostream& err) {
  if (admin_token_given && f.admin_token.empty()) {
    throw CLI::ValidationError("--admin-token", "must not be empty");
  }
  http.admin_token = f.admin_token;
  if (http.admin_token.empty()) {
    http.admin_token = random_token();
    err << "ordo: no --admin-token or ORDO_ADMIN_TOKEN given; admin token: "
        << http.admin_token << std::endl;
  }
  if (payment_secret_given && f.payment_secret.empty()) {
    throw CLI::ValidationError("--payment-secret", "must not be empty");
  }
  http.payment_secret = f.payment_secret;
  if (http.payment_secret.empty()) {
    http.payment_secret = dev_secret;
    err << "ordo: warning: no --payment-secret or ORDO_PAYMENT_SECRET given; "
           "payment callbacks are verified with the insecure key \""
        << dev_secret << "\"" << std::endl;
  }
}

/// THE place where flags become module options: one step per section, in
/// the order their errors are reported. Secrets come last, so the
/// generated admin token is printed only once the other flags are valid.
serve_config to_config(const serve_flags& f, bool admin_token_given,
                       bool payment_secret_given, std::ostream& err) {
  serve_config c;
  fill_storage(f, c.node);
  fill_order_timers(f, c.node);
  fill_threads(f, c);
  c.node.payment_provider
    = http_url_flag("--payment-provider", f.payment_provider);
  fill_o2o(f, c.node);
  fill_audit(f, c.node);
  fill_limits(f, c.node);
  cluster_flags(f, c);
  c.faults = fault_rules(f.faults);
  fill_listen(f, c.http);
  // Both checked by add_serve_log_flags: they parse.
  log::parse_level(f.log_level, &c.log_level);
  log::parse_format(f.log_format, &c.log_format);
  fill_secrets(f, admin_token_given, payment_secret_given, c.http, err);
  return c;
}

/// Splits `flag`'s "http://HOST:PORT" (port 1..65535); throws otherwise.
void node_url_flag(const std::string& url, std::string* host,
                   std::uint16_t* port, const char* flag = "--url") {
  constexpr std::string_view scheme = "http://";
  std::string_view u = url;
  if (u.substr(0, scheme.size()) != scheme
      || !parse_listen_address(u.substr(scheme.size()), host, port)
      || *port == 0) {
    throw CLI::ValidationError(flag,
                               "expected http://HOST:PORT, got '" + url + "'");
  }
}

/// THE place where `ordo load`'s flags become its options.
load_options to_load_options(const load_flags& f, bool rate_given) {
  load_options o;
  node_url_flag(f.url, &o.host, &o.port);
  for (const auto& url : f.nodes) {
    std::pair<std::string, std::uint16_t> n;
    node_url_flag(url, &n.first, &n.second, "--node");
    o.others.push_back(std::move(n));
  }
  if (f.admin_token.empty()) {
    throw CLI::ValidationError(
      "--admin-token", "required: the generator puts its SKUs and checks "
                       "the node as admin (or set ORDO_ADMIN_TOKEN)");
  }
  o.admin_token = f.admin_token;
  if (f.payment_secret.empty()) {
    throw CLI::ValidationError("--payment-secret", "must not be empty");
  }
  o.payment_secret = f.payment_secret;
  auto w = parse_workload(f.workload);
  if (!w) {
    throw CLI::ValidationError("--workload",
                               "expected steady, flash-cancel, race or "
                               "hot-sku, got '"
                                 + f.workload + "'");
  }
  o.workload = *w;
  o.connections = f.connections;
  if (rate_given && !(f.rate > 0 && f.rate <= 10'000'000)) {
    throw CLI::ValidationError(
      "--rate", "expected flows per second, more than 0 and at most 10^7");
  }
  o.rate = rate_given ? f.rate : 0;
  o.duration_ms = duration_flag("--duration", f.duration);
  o.warmup_ms = f.warmup == "0" || f.warmup == "0s" || f.warmup == "0ms"
                  ? 0
                  : duration_flag("--warmup", f.warmup);
  o.pay_ratio = f.pay_ratio;
  o.skus = f.skus;
  o.json_file = f.json;
  o.check = !f.no_check;
  o.seed = f.seed;
  return o;
}

/// Checks `ordo inspect`'s flags: exactly one of --data and --url, a
/// token with --url.
inspect_options to_inspect_options(inspect_options o, bool url_given) {
  if (url_given) {
    std::string host;
    std::uint16_t port = 0;
    node_url_flag(o.url, &host, &port);
    if (o.admin_token.empty()) {
      throw CLI::ValidationError(
        "--admin-token", "required with --url (or set ORDO_ADMIN_TOKEN)");
    }
  } else if (o.data_dir.empty()) {
    throw CLI::ValidationError("--data", "give --data DIR (a stopped node) or "
                                         "--url URL (a running one)");
  }
  return o;
}

/// THE place where sandbox-provider flags become its options.
sandbox_provider_options to_sandbox_options(const sandbox_flags& f) {
  sandbox_provider_options o;
  if (f.host.empty()) {
    throw CLI::ValidationError("--host", "must not be empty");
  }
  o.host = f.host;
  o.port = static_cast<std::uint16_t>(f.port);
  o.fail_rate = f.fail_rate;
  if (f.latency == "0" || f.latency == "0ms" || f.latency == "0s") {
    o.latency_ms = 0;
  } else {
    o.latency_ms = duration_flag("--latency", f.latency);
  }
  o.data_file = f.data;
  o.seed = f.seed;
  return o;
}

/// A duration flag ("D" in help), its default shown.
CLI::Option* add_duration(CLI::App* sub, const std::string& name,
                          std::string& value, const std::string& help) {
  return sub->add_option(name, value, help)
    ->type_name("D")
    ->capture_default_str();
}

/// --data, --http, --admin-token, --payment-secret: where the node keeps
/// its data and listens, and its two secrets.
void add_serve_basic_flags(CLI::App* serve, serve_flags& f) {
  serve->add_option("--data", f.data, "RocksDB directory (created if missing)")
    ->type_name("DIR")
    ->capture_default_str();
  serve
    ->add_option("--http", f.http,
                 "Gateway listen address; port 0 picks a free one")
    ->type_name("HOST:PORT")
    ->capture_default_str();
  serve
    ->add_option("--admin-token", f.admin_token,
                 "Bearer token of the admin endpoints (default: a random "
                 "token, printed at start)")
    ->type_name("T")
    ->envname("ORDO_ADMIN_TOKEN");
  serve
    ->add_option("--payment-secret", f.payment_secret,
                 "HMAC-SHA256 key of payment callbacks (default: "
                 "dev-secret, with a warning)")
    ->type_name("S")
    ->envname("ORDO_PAYMENT_SECRET");
}

/// --payment-timeout, --reservation-ttl, --dedupe-retention,
/// --passivate-after.
void add_serve_timer_flags(CLI::App* serve, serve_flags& f) {
  add_duration(serve, "--payment-timeout", f.payment_timeout,
               "Unpaid orders auto-cancel after this (reason timeout)");
  add_duration(serve, "--reservation-ttl", f.reservation_ttl,
               "Unconfirmed stock reservations expire after this; at least "
               "--payment-timeout");
  add_duration(serve, "--dedupe-retention", f.dedupe_retention,
               "Consumed message ids are remembered this long (at least "
               "1m); the outbox gives up redelivering a message at half "
               "of it (a dead letter)");
  add_duration(serve, "--passivate-after", f.passivate_after,
               "Idle order actors leave memory after this");
}

/// --min-free-disk, --durability.
void add_serve_storage_flags(CLI::App* serve, serve_flags& f) {
  serve
    ->add_option("--min-free-disk", f.min_free_disk,
                 "Refuse writes (503) while the data directory's disk has "
                 "less free space than this; they resume by themselves (0 = "
                 "no guard)")
    ->type_name("SIZE")
    ->capture_default_str();
  serve
    ->add_option("--durability", f.durability,
                 "sync: fsync before acknowledging; async: do not")
    ->check(CLI::IsMember({"sync", "async"}))
    ->capture_default_str();
}

/// --scheduler-threads, --http-threads, --reader-threads.
void add_serve_thread_flags(CLI::App* serve, serve_flags& f) {
  serve
    ->add_option("--scheduler-threads", f.scheduler_threads,
                 "Actor scheduler threads")
    ->check(CLI::Range(1, 64))
    ->capture_default_str();
  serve->add_option("--http-threads", f.http_threads, "Gateway I/O threads")
    ->check(CLI::Range(1, 64))
    ->capture_default_str();
  serve
    ->add_option("--reader-threads", f.reader_threads,
                 "Threads that read storage for requests (GETs, existence "
                 "checks), off the I/O threads")
    ->check(CLI::Range(1, 64))
    ->capture_default_str();
}

/// --console-dir, --payment-provider, --audit-interval, --alert-webhook,
/// --faults: what the node talks to, and how it is watched and drilled.
void add_serve_operations_flags(CLI::App* serve, serve_flags& f) {
  serve
    ->add_option("--console-dir", f.console_dir,
                 "Serve /console from this directory (a console/build.mjs "
                 "output) instead of the built-in copy")
    ->check(CLI::ExistingDirectory);
  serve
    ->add_option("--payment-provider", f.payment_provider,
                 "Payment provider for close/refund calls, "
                 "http://HOST:PORT[/BASE] (default: the built-in sandbox)")
    ->type_name("URL");
  add_duration(serve, "--audit-interval", f.audit_interval,
               "Between scheduled audits (0 = only GET /v1/admin/audit)");
  serve
    ->add_option("--alert-webhook", f.alert_webhook,
                 "POST audit violations as JSON to http://HOST:PORT/PATH")
    ->type_name("URL");
  serve
    ->add_option("--faults", f.faults,
                 "Arm failure injection at start-up: POINT=ACTION[:DURATION]"
                 "[@PROBABILITY][#COUNT],... (e.g. "
                 "store.after_commit=crash@0.01); for tests and drills")
    ->type_name("SPEC");
}

/// --flash-window, --rate-limit, --captcha-after, --saga-timeout,
/// --external-give-up: limits on users, and on waiting before an operator
/// is asked.
void add_serve_limit_flags(CLI::App* serve, serve_flags& f) {
  add_duration(serve, "--flash-window", f.flash_window,
               "A user cancel this soon after create is a flash cancel "
               "(reports)");
  serve
    ->add_option("--rate-limit", f.rate_limit,
                 "Orders a user may create per window, N/D (e.g. 5/1m), or "
                 "off")
    ->type_name("N/D")
    ->capture_default_str();
  serve
    ->add_option("--captcha-after", f.captcha_after,
                 "Consecutive cancels after which the next order needs a "
                 "solved captcha (0 = never)")
    ->check(CLI::Range(0, 1'000'000))
    ->type_name("N")
    ->capture_default_str();
  add_duration(serve, "--saga-timeout", f.saga_timeout,
               "How long a split order waits for its children to answer a "
               "cancel before it asks for manual intervention");
  add_duration(serve, "--external-give-up", f.external_give_up,
               "A payment-provider or SMS call still undelivered this long "
               "after it was written becomes a dead letter, for an "
               "operator to retry or discard (0 = retry forever)");
}

/// --node-id, --cluster-port, --peers, --partitions.
void add_serve_cluster_flags(CLI::App* serve, serve_flags& f) {
  serve->add_option("--node-id", f.node_id, "This node's id in --peers")
    ->type_name("ID")
    ->capture_default_str();
  serve
    ->add_option("--cluster-port", f.cluster_port,
                 "Port for other nodes (must match this node in --peers)")
    ->check(CLI::Range(1, 65535))
    ->type_name("P");
  serve
    ->add_option("--peers", f.peers,
                 "Every node of the cluster, this one included: "
                 "ID=HOST:PORT,...")
    ->type_name("LIST");
  serve
    ->add_option("--partitions", f.partitions,
                 "Partitions of the id space (fixed for a data directory)")
    ->check(CLI::Range(1, 65536))
    ->type_name("N")
    ->capture_default_str();
}

/// --journal-keep.
void add_serve_journal_flags(CLI::App* serve, serve_flags& f) {
  serve
    ->add_option("--journal-keep", f.journal_keep,
                 "Journal entries kept per actor (older ones are deleted)")
    ->check(CLI::Range(1, 1'000'000))
    ->type_name("N")
    ->capture_default_str();
}

/// --notify-delay, --notify-ttl, --dispatch-delay, --commission-rate,
/// --technicians, --sms-webhook: admin SMS, O2O dispatch, affiliates.
void add_serve_o2o_flags(CLI::App* serve, serve_flags& f) {
  add_duration(serve, "--notify-delay", f.notify_delay,
               "Cooling period before the admin \"new order\" SMS");
  add_duration(serve, "--notify-ttl", f.notify_ttl,
               "Admin SMS older than this are dropped; at least "
               "--notify-delay");
  add_duration(serve, "--dispatch-delay", f.dispatch_delay,
               "Cooling period between payment and O2O auto-dispatch");
  serve
    ->add_option("--commission-rate", f.commission_rate,
                 "Affiliate share of the payable amount, 0..1 (at most 6 "
                 "decimals)")
    ->check(CLI::Range(0.0, 1.0))
    ->type_name("R")
    ->capture_default_str();
  serve
    ->add_option("--technicians", f.technicians,
                 "Technicians for auto-dispatch, comma-separated (least "
                 "loaded first, ties round-robin)")
    ->type_name("A,B,C");
  serve
    ->add_option("--sms-webhook", f.sms_webhook,
                 "Where admin SMS go: POST JSON to http://HOST:PORT/PATH "
                 "(default: a log sink on stderr)")
    ->type_name("URL");
}

/// --log-level, --log-format.
void add_serve_log_flags(CLI::App* serve, serve_flags& f) {
  serve
    ->add_option("--log-level", f.log_level,
                 "Least severe log line written to stderr")
    ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
    ->capture_default_str();
  serve
    ->add_option("--log-format", f.log_format,
                 "text: one line per event; json: one JSON object per line "
                 "(ts, level, component, msg), for log shippers")
    ->check(CLI::IsMember({"text", "json"}))
    ->capture_default_str();
}

/// `ordo serve`. Help lists the flags in the order they are added, so a
/// new group goes at the end; its values go in serve_flags and become
/// options in a step of to_config.
CLI::App* add_serve_flags(CLI::App& app, serve_flags& f) {
  auto* serve = app.add_subcommand(
    "serve", "Run one node: storage, order actors and the HTTP gateway");
  serve->footer(
    "Durations: a positive integer and a unit: 250ms, 2s, 5m, 1h.\n");
  add_serve_basic_flags(serve, f);
  add_serve_timer_flags(serve, f);
  add_serve_storage_flags(serve, f);
  add_serve_thread_flags(serve, f);
  add_serve_operations_flags(serve, f);
  add_serve_limit_flags(serve, f);
  add_serve_cluster_flags(serve, f);
  add_serve_journal_flags(serve, f);
  add_serve_o2o_flags(serve, f);
  add_serve_log_flags(serve, f);
  return serve;
}

/// `ordo sandbox-provider`.
CLI::App* add_sandbox_provider_flags(CLI::App& app, sandbox_flags& f) {
  auto* sandbox = app.add_subcommand(
    "sandbox-provider",
    "Run a stand-alone fake payment provider (POST /refund, POST /close, "
    "GET /calls) for tests and trials");
  sandbox->add_option("--host", f.host, "Listen address")
    ->type_name("H")
    ->capture_default_str();
  sandbox->add_option("--port", f.port, "Listen port; 0 picks a free one")
    ->type_name("P")
    ->check(CLI::Range(0, 65535))
    ->capture_default_str();
  sandbox
    ->add_option("--fail-rate", f.fail_rate,
                 "Fraction of POSTs answered 503, half before and half after "
                 "recording")
    ->type_name("R")
    ->check(CLI::Range(0.0, 1.0))
    ->capture_default_str();
  add_duration(sandbox, "--latency", f.latency,
               "Delay before every answer (0, or e.g. 20ms, 1s)");
  sandbox
    ->add_option("--data", f.data,
                 "Journal of recorded calls (JSON lines, fsynced), reloaded "
                 "at start (default: memory only)")
    ->type_name("FILE");
  sandbox
    ->add_option("--seed", f.seed,
                 "Seed of the failure draws (default: random)")
    ->type_name("N");
  return sandbox;
}

/// --data or --url, and --admin-token: the node that `ordo inspect` and
/// `ordo audit` read.
void add_node_source_flags(CLI::App* sub, inspect_options& o) {
  auto* data = sub
                 ->add_option("--data", o.data_dir,
                              "RocksDB directory of a stopped "
                              "node (opened read-only)")
                 ->type_name("DIR");
  sub->add_option("--url", o.url, "A running node, http://HOST:PORT")
    ->type_name("URL")
    ->excludes(data);
  sub
    ->add_option("--admin-token", o.admin_token,
                 "Admin token for --url (default: env ORDO_ADMIN_TOKEN)")
    ->type_name("T")
    ->envname("ORDO_ADMIN_TOKEN");
}

/// `ordo inspect`.
CLI::App* add_inspect_flags(CLI::App& app, inspect_options& o) {
  auto* insp = app.add_subcommand(
    "inspect", "Print one actor: stored state, version, journal, timers, "
               "outbox (from a stopped node's --data or a running --url)");
  add_node_source_flags(insp, o);
  insp->add_option("kind", o.kind, "Actor kind: order, sku, coupon, ...")
    ->required();
  insp->add_option("id", o.id, "Actor id")->required();
  return insp;
}

/// `ordo audit`.
CLI::App* add_audit_flags(CLI::App& app, inspect_options& o) {
  auto* aud = app.add_subcommand(
    "audit", "Run the auditor over a stopped node's --data (report only) or "
             "a running --url (which heals what is safe)");
  add_node_source_flags(aud, o);
  return aud;
}

/// --url, --node, --admin-token, --payment-secret: the nodes `ordo load`
/// drives and checks.
void add_load_target_flags(CLI::App* ld, load_flags& f) {
  ld->add_option("--url", f.url, "The node, http://HOST:PORT")
    ->type_name("URL")
    ->required();
  ld->add_option("--node", f.nodes,
                 "Another node of the same cluster (repeat for each): the "
                 "check also waits for its outbox and counts its sandbox "
                 "provider's calls")
    ->type_name("URL");
  ld->add_option("--admin-token", f.admin_token,
                 "Admin token of the node (default: env ORDO_ADMIN_TOKEN)")
    ->type_name("T")
    ->envname("ORDO_ADMIN_TOKEN");
  ld->add_option("--payment-secret", f.payment_secret,
                 "HMAC-SHA256 key of the node's payment callbacks (env "
                 "ORDO_PAYMENT_SECRET)")
    ->type_name("S")
    ->envname("ORDO_PAYMENT_SECRET")
    ->capture_default_str();
}

/// --workload, --connections, --rate, --duration, --warmup, --pay-ratio,
/// --skus, --json, --no-check, --seed: the run itself.
void add_load_run_flags(CLI::App* ld, load_flags& f) {
  ld->add_option("--workload", f.workload,
                 "steady | flash-cancel | race | hot-sku")
    ->type_name("W")
    ->capture_default_str();
  ld->add_option("--connections", f.connections,
                 "Keep-alive connections, each running one flow after "
                 "another (race and flash-cancel add a second one each)")
    ->type_name("N")
    ->check(CLI::Range(1, 10'000))
    ->capture_default_str();
  ld->add_option("--rate", f.rate,
                 "Open loop: start R flows/s spread over the connections; "
                 "latency counts from each flow's due time (default: "
                 "closed loop)")
    ->type_name("R");
  add_duration(ld, "--duration", f.duration, "Measured window");
  add_duration(ld, "--warmup", f.warmup, "Load before the window, not counted");
  ld->add_option("--pay-ratio", f.pay_ratio,
                 "steady, hot-sku: share of the flows that pay, the rest "
                 "cancel")
    ->type_name("F")
    ->check(CLI::Range(0.0, 1.0))
    ->capture_default_str();
  ld->add_option("--skus", f.skus,
                 "SKUs load-0..load-N-1 the flows spread over (hot-sku: 1)")
    ->type_name("N")
    ->check(CLI::Range(1, 10'000))
    ->capture_default_str();
  ld->add_option("--json", f.json, "Also write the summary as JSON here")
    ->type_name("FILE");
  ld->add_flag("--no-check", f.no_check,
               "Skip the consistency check after the load");
  ld->add_option("--seed", f.seed,
                 "Seed of the generator's draws (default: random)")
    ->type_name("S");
}

/// `ordo load`.
CLI::App* add_load_flags(CLI::App& app, load_flags& f) {
  auto* ld = app.add_subcommand(
    "load", "Generate load over HTTP against a running node (workloads, "
            "closed or open loop), report throughput and latency, then check "
            "that every order, SKU and refund adds up");
  ld->footer("Durations: 250ms, 2s, 1m. Exit: 0 when the check passes, 1 "
             "when it fails or the run cannot start, 2 on bad flags.\n");
  add_load_target_flags(ld, f);
  add_load_run_flags(ld, f);
  return ld;
}

} // namespace

command parse_command_line(int argc, const char* const* argv, std::ostream& out,
                           std::ostream& err) {
  CLI::App app{"ordo: an order-lifecycle runtime (every order is a persistent "
               "actor)",
               "ordo"};
  app.footer("Run `ordo serve --help` for the server's flags.\n");
  serve_flags serve_f;
  auto* serve = add_serve_flags(app, serve_f);
  sandbox_flags sandbox_f;
  auto* sandbox = add_sandbox_provider_flags(app, sandbox_f);
  inspect_options inspect_f;
  auto* insp = add_inspect_flags(app, inspect_f);
  inspect_options audit_f;
  auto* aud = add_audit_flags(app, audit_f);
  load_flags load_f;
  auto* ld = add_load_flags(app, load_f);

  command cmd;
  try {
    app.parse(argc, argv);
    if (ld->parsed()) {
      cmd.load = to_load_options(load_f, ld->count("--rate") > 0);
    } else if (aud->parsed()) {
      cmd.audit = to_inspect_options(audit_f, aud->count("--url") > 0);
    } else if (insp->parsed()) {
      cmd.inspect = to_inspect_options(inspect_f, insp->count("--url") > 0);
    } else if (sandbox->parsed()) {
      cmd.sandbox_provider = to_sandbox_options(sandbox_f);
    } else if (serve->parsed()) {
      cmd.serve = to_config(serve_f, serve->count("--admin-token") > 0,
                            serve->count("--payment-secret") > 0, err);
    } else {
      out << app.help();
    }
  } catch (const CLI::ParseError& e) {
    cmd = command{};
    cmd.exit_code = app.exit(e, out, err);
    if (ld->parsed() && cmd.exit_code != 0) {
      cmd.exit_code = 2; // `ordo load`'s documented code for a bad flag
    }
  }
  return cmd;
}

bool parse_listen_address(std::string_view text, std::string* host,
                          std::uint16_t* port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  auto h = text.substr(0, colon);
  auto p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false; // an IPv6 host needs brackets
  }
  if (h.empty() || p.empty() || p.size() > 5) {
    return false;
  }
  std::uint32_t value = 0;
  for (char c : p) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value > 65535) {
    return false;
  }
  *host = std::string(h);
  *port = static_cast<std::uint16_t>(value);
  return true;
}

std::string listen_url(const std::string& host, std::uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":"
         + std::to_string(port);
}

} // namespace ordo::app
