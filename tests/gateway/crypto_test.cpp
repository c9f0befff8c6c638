#include <boost/test/unit_test.hpp>

#include <set>

#include "gateway/detail/crypto.hpp"
#include "tests/support/http_client.hpp"

using namespace ordo::gateway::detail;

BOOST_AUTO_TEST_SUITE(crypto_suite)

BOOST_AUTO_TEST_CASE(sha256_matches_known_vectors) {
  BOOST_TEST(
    sha256_hex("")
    == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(
    sha256_hex("abc")
    == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(hmac_matches_rfc4231) {
  // RFC 4231 test case 2.
  BOOST_TEST(
    hmac_sha256_hex("Jefe", "what do ya want for nothing?")
    == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

BOOST_AUTO_TEST_CASE(signature_verifies_only_the_exact_body_and_key) {
  std::string body
    = R"({"txn_id":"t1","order_id":"o1","amount":1,"status":"SUCCESS"})";
  auto sig = "sha256=" + hmac_sha256_hex("s3cret", body);
  BOOST_TEST(verify_signature(sig, "s3cret", body));
  BOOST_TEST(!verify_signature(sig, "other", body));
  BOOST_TEST(!verify_signature(sig, "s3cret", body + " "));
  BOOST_TEST(!verify_signature("", "s3cret", body));
  BOOST_TEST(!verify_signature(sig.substr(7), "s3cret", body));
  BOOST_TEST(!verify_signature("sha1=" + sig.substr(7), "s3cret", body));
  BOOST_TEST(!verify_signature(sig + "00", "s3cret", body));
  BOOST_TEST(!verify_signature(sig.substr(0, sig.size() - 1), "s3cret", body));
  auto bad_hex = sig;
  bad_hex.back() = 'g';
  BOOST_TEST(!verify_signature(bad_hex, "s3cret", body));
}

BOOST_AUTO_TEST_CASE(signature_hex_is_case_insensitive) {
  std::string body = "{}";
  auto hex = hmac_sha256_hex("k", body);
  for (auto& c : hex) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  BOOST_TEST(verify_signature("sha256=" + hex, "k", body));
}

BOOST_AUTO_TEST_CASE(empty_secret_verifies_nothing) {
  auto sig = "sha256=" + hmac_sha256_hex("", "{}");
  BOOST_TEST(!verify_signature(sig, "", "{}"));
}

BOOST_AUTO_TEST_CASE(test_client_signs_like_the_gateway_verifies) {
  std::string body = R"({"a":1})";
  BOOST_TEST(verify_signature(ordo::test::sign_payment("dev-secret", body),
                              "dev-secret", body));
}

BOOST_AUTO_TEST_CASE(constant_time_equal_compares) {
  BOOST_TEST(constant_time_equal("token", "token"));
  BOOST_TEST(!constant_time_equal("token", "tokeN"));
  BOOST_TEST(!constant_time_equal("token", "token2"));
  BOOST_TEST(!constant_time_equal("", "x"));
  BOOST_TEST(constant_time_equal("", ""));
}

BOOST_AUTO_TEST_CASE(random_numbers_differ) {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    seen.insert(random_u64());
  }
  BOOST_TEST(seen.size() == 1000u);
}

BOOST_AUTO_TEST_SUITE_END()
