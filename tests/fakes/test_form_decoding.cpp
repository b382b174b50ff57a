#include <boost/test/unit_test.hpp>

#include "fakes/form_decoding.hpp"
#include "fakes/idempotency.hpp"

using namespace orgquake::fakes;

BOOST_AUTO_TEST_SUITE(form_decoding, *boost::unit_test::label("fakes"))

BOOST_AUTO_TEST_CASE(bracket_notation_builds_a_tree) {
  const FormNode root = FormNode::parse(
      "email=a%40b.c&metadata[org_id]=42&metadata[user_id]=&items[0][price]=p1&items[1][price]=p2"
      "&expand[]=x&expand[]=y&name=J+Doe");
  BOOST_TEST(*root.leaf("email") == "a@b.c");
  BOOST_TEST(*root.leaf("name") == "J Doe");
  BOOST_TEST(*root.find("metadata")->leaf("org_id") == "42");
  BOOST_TEST(*root.find("metadata")->leaf("user_id") == "");
  BOOST_TEST(*root.find("items")->find("1")->leaf("price") == "p2");
  BOOST_TEST(*root.find("expand")->leaf("1") == "y");
}

BOOST_AUTO_TEST_CASE(malformed_forms_throw) {
  BOOST_CHECK_THROW(FormNode::parse("a=%G1"), FormError);
  BOOST_CHECK_THROW(FormNode::parse("a=%4"), FormError);
  BOOST_CHECK_THROW(FormNode::parse("a[b=1"), FormError);
  BOOST_CHECK_THROW(FormNode::parse("a[b]c=1"), FormError);
  BOOST_CHECK_THROW(FormNode::parse("a=1&a[b]=2"), FormError);
  BOOST_CHECK_THROW(FormNode::parse("a[b]=2&a=1"), FormError);
  BOOST_CHECK_THROW(FormNode::parse("=1"), FormError);
  BOOST_CHECK_THROW(FormNode::parse("[x]=1"), FormError);
}

BOOST_AUTO_TEST_CASE(canonical_form_ignores_order) {
  BOOST_TEST(canonical_form("b=2&a=1") == canonical_form("a=1&b=2"));
  BOOST_TEST(canonical_form("a=1") != canonical_form("a=2"));
  BOOST_TEST(url_decode(url_encode("x y/ü&=")) == "x y/ü&=");
}

BOOST_AUTO_TEST_CASE(idempotency_store_lifecycle) {
  IdempotencyStore store(1000);
  using O = IdempotencyStore::Outcome;
  BOOST_TEST((store.begin("k", "f", 0).outcome == O::fresh));
  BOOST_TEST((store.begin("k", "f", 1).outcome == O::in_flight));
  BOOST_TEST((store.begin("k", "g", 1).outcome == O::mismatch));
  store.complete("k", {200, "{}"});
  const auto replay = store.begin("k", "f", 2);
  BOOST_TEST((replay.outcome == O::replay));
  BOOST_TEST(replay.stored->status == 200);
  BOOST_TEST((store.begin("k", "f", 1000).outcome == O::fresh));  // expired
  store.release("k");
  BOOST_TEST((store.begin("k", "g", 1001).outcome == O::fresh));
}

BOOST_AUTO_TEST_SUITE_END()
