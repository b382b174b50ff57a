#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/clock.hpp"
#include "fakes/fault_injector.hpp"
#include "fakes/http_server.hpp"
#include "fakes/ledger.hpp"

namespace orgquake::fakes {

/// What an Application sees of the request being handled, besides the request.
struct RequestContext {
  std::uint64_t seq = 0;  ///< the request's ledger seq
  std::int64_t now_ms = 0;
  std::optional<std::int64_t> search_lag_ms;  ///< set when a search_lag fault fired
  bool applied = false;                       ///< set by the application when state changed
  bool replayed = false;  ///< set by the application when answering from a store
  Ledger* ledger = nullptr;

  /// Records an object change caused by this request.
  void record(std::string kind, std::string object_type, std::string object_id,
              nlohmann::json state) const;
};

/// The behaviour of one fake (Stripe, LiteLLM) behind the shared server, fault
/// and ledger machinery. Runs on the loop thread only.
class Application {
 public:
  virtual ~Application() = default;
  /// An error in this fake's own format, for injected statuses and for
  /// requests the HTTP layer rejected (400, 413, 431).
  virtual Response error(http::status status, const std::string& message) = 0;
  /// Checks made when the request arrives (auth, routing, validation,
  /// idempotency): an answer ends the request without applying it.
  virtual std::optional<Response> admit(const Request& request, RequestContext& ctx) = 0;
  /// Applies an admitted request and renders its answer.
  virtual Response apply(const Request& request, RequestContext& ctx) = 0;
  /// An admitted request will never be applied (the connection closed or the
  /// server stopped while it waited): release what admit() reserved.
  virtual void abandon(const Request& request, RequestContext& ctx) = 0;
  /// The request header that carries an idempotency key, if the fake has one.
  virtual std::string idempotency_header() const { return {}; }
};

/// A JSON response with the status given.
Response json_response(http::status status, const nlohmann::json& body);

/// HTTP server + fault injection + ledger around one Application.
///
/// Every request first meets the faults installed for its route, then the
/// application; the ledger records both. The admin routes under
/// /__orgquake/ (faults, ledger) bypass faults, auth and the ledger.
class FakeServer {
 public:
  FakeServer(ServerOptions options, std::uint64_t seed, std::shared_ptr<const Clock> clock,
             Application& app);
  ~FakeServer();

  void start() { server_.start(); }
  void stop() { server_.stop(); }
  bool running() const { return server_.running(); }
  std::uint16_t port() const { return server_.port(); }
  std::string url() const { return server_.url(); }
  const Clock& clock() const { return *clock_; }

  std::uint64_t add_fault(FaultSpec spec);
  bool remove_fault(std::uint64_t id);
  void clear_faults();
  std::vector<InstalledFault> faults();

  /// A consistent copy of the ledger.
  Ledger ledger();
  void clear_ledger();

  /// Runs `f` on the loop thread (see HttpServer::call).
  template <class F>
  auto call(F&& f) {
    return server_.call(std::forward<F>(f));
  }

  /// The ledger itself, for code already on the loop thread (world loading).
  Ledger& ledger_on_loop() { return ledger_; }

 private:
  void handle(const std::shared_ptr<Exchange>& exchange);
  void handle_admin(const std::shared_ptr<Exchange>& exchange);
  void finish(std::uint64_t seq, int status, const char* outcome, const RequestContext& ctx);
  void send(const std::shared_ptr<Exchange>& exchange, Response response, std::uint64_t seq,
            const RequestContext& ctx);

  std::shared_ptr<const Clock> clock_;
  Application& app_;
  FaultInjector faults_;
  Ledger ledger_;
  HttpServer server_;
};

}  // namespace orgquake::fakes
