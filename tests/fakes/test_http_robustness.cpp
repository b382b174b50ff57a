#include <set>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>

#include "tests/fakes/stripe_fixture.hpp"

using namespace orgquake::fakes;
using namespace orgquake::fakes::test;
using tcp = boost::asio::ip::tcp;

BOOST_AUTO_TEST_SUITE(http_robustness, *boost::unit_test::label("fakes"))

BOOST_FIXTURE_TEST_CASE(garbage_gets_400_and_the_server_keeps_serving, StripeFixture) {
  TestClient raw = client();
  Reply r = raw.raw("THIS IS NOT HTTP\r\n\r\n");
  BOOST_TEST(r.status == 400);
  BOOST_TEST(r.json()["error"]["type"] == "invalid_request_error");
  TestClient c = client();
  BOOST_TEST(c.get("/v1/customers", auth).status == 200);
}

BOOST_FIXTURE_TEST_CASE(huge_bodies_get_413, StripeFixture) {
  TestClient raw = client();
  Reply r = raw.raw(
      "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_orgquake\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000000\r\n\r\nname=");
  BOOST_TEST(r.status == 413);
  BOOST_TEST(stripe.customers().empty());
  TestClient c = client();
  BOOST_TEST(c.post("/v1/customers", "name=" + std::string(10'000, 'a'), auth).status == 200);
}

BOOST_FIXTURE_TEST_CASE(broken_chunked_encoding_gets_400, StripeFixture) {
  TestClient raw = client();
  Reply r = raw.raw(
      "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_orgquake\r\n"
      "Transfer-Encoding: chunked\r\n\r\nZZZ\r\nname=x\r\n0\r\n\r\n");
  BOOST_TEST(r.status == 400);
  BOOST_TEST(stripe.customers().empty());
}

BOOST_FIXTURE_TEST_CASE(valid_chunked_encoding_works, StripeFixture) {
  TestClient raw = client();
  Reply r = raw.raw(
      "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_orgquake\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\n"
      "Transfer-Encoding: chunked\r\n\r\n6\r\nname=x\r\n0\r\n\r\n");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(stripe.customers().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(huge_headers_get_431, StripeFixture) {
  TestClient raw = client();
  Reply r = raw.raw("GET /v1/customers HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(40'000, 'b') +
                    "\r\n\r\n");
  BOOST_TEST(r.status == 431);
}

BOOST_FIXTURE_TEST_CASE(keep_alive_serves_many_requests_on_one_connection, StripeFixture) {
  TestClient c = client();
  for (int i = 0; i < 50; ++i) BOOST_TEST_REQUIRE(c.get("/v1/customers", auth).status == 200);
  std::set<std::uint64_t> connections;
  const Ledger ledger = stripe.ledger();
  for (const auto& request : ledger.requests()) connections.insert(request.connection_id);
  BOOST_TEST(connections.size() == 1u);  // keep-alive: one connection for all
}

BOOST_FIXTURE_TEST_CASE(expect_100_continue_is_answered, StripeFixture) {
  // As curl does for larger bodies: headers first, the body only after "100 Continue".
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), stripe.port()));
  const std::string body = "name=continued";
  boost::asio::write(socket,
                     boost::asio::buffer("POST /v1/customers HTTP/1.1\r\nHost: x\r\n"
                                         "Authorization: Bearer sk_test_orgquake\r\n"
                                         "Content-Type: application/x-www-form-urlencoded\r\n"
                                         "Expect: 100-continue\r\nContent-Length: " +
                                         std::to_string(body.size()) + "\r\n\r\n"));
  beast::flat_buffer buffer;
  http::response<http::string_body> interim;
  http::read(socket, buffer, interim);
  BOOST_TEST(static_cast<int>(interim.result_int()) == 100);
  boost::asio::write(socket, boost::asio::buffer(body));
  http::response<http::string_body> final_response;
  http::read(socket, buffer, final_response);
  BOOST_TEST(static_cast<int>(final_response.result_int()) == 200);
  BOOST_TEST(stripe.customers().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
