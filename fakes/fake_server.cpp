#include "fakes/fake_server.hpp"

#include <charconv>

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include "core/error.hpp"
#include "fakes/form_decoding.hpp"
#include "fakes/request_target.hpp"

namespace orgquake::fakes {
namespace {

Response admin_error(http::status status, const std::string& message) {
  return json_response(status, {{"error", message}});
}

}  // namespace

void RequestContext::record(std::string kind, std::string object_type, std::string object_id,
                            nlohmann::json state) const {
  if (ledger == nullptr) return;
  ledger->record_object(ObjectEvent{0, seq, std::move(kind), std::move(object_type),
                                    std::move(object_id), std::move(state), now_ms});
}

Response json_response(http::status status, const nlohmann::json& body) {
  Response response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = body.dump();
  return response;
}

FakeServer::FakeServer(ServerOptions options, std::uint64_t seed,
                       std::shared_ptr<const Clock> clock, Application& app)
    : clock_(std::move(clock)),
      app_(app),
      faults_(Rng(seed).derive("fakes.faults")),
      server_(
          std::move(options), [this](std::shared_ptr<Exchange> exchange) { handle(exchange); },
          [this](http::status status, const std::string& message) {
            return app_.error(status, message);
          }) {}

FakeServer::~FakeServer() {
  server_.stop();
}

std::uint64_t FakeServer::add_fault(FaultSpec spec) {
  return call([&] { return faults_.add(std::move(spec)); });
}

bool FakeServer::remove_fault(std::uint64_t id) {
  return call([&] { return faults_.remove(id); });
}

void FakeServer::clear_faults() {
  call([&] { faults_.clear(); });
}

std::vector<InstalledFault> FakeServer::faults() {
  return call([&] { return faults_.installed(); });
}

Ledger FakeServer::ledger() {
  return call([&] { return ledger_; });
}

void FakeServer::clear_ledger() {
  call([&] { ledger_.clear(); });
}

void FakeServer::finish(std::uint64_t seq, int status, const char* outcome,
                        const RequestContext& ctx) {
  RequestRecord* record = ledger_.request(seq);
  if (record == nullptr) return;  // the ledger was cleared meanwhile
  record->status = status;
  record->outcome = outcome;
  record->applied = ctx.applied;
  record->replayed = ctx.replayed;
  record->finished_ms = clock_->now_ms();
}

void FakeServer::send(const std::shared_ptr<Exchange>& exchange, Response response,
                      std::uint64_t seq, const RequestContext& ctx) {
  const Request& request = exchange->request();
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  // A client that hung up during a delay never reads the answer.
  finish(seq, static_cast<int>(response.result_int()),
         exchange->connection_open() ? "responded" : "lost", ctx);
  exchange->respond(std::move(response));
}

void FakeServer::handle(const std::shared_ptr<Exchange>& exchange) {
  const Request& request = exchange->request();
  const std::string_view target = request.target();
  const std::string_view path = path_of(target);
  if (path.substr(0, 12) == "/__orgquake/") {
    handle_admin(exchange);
    return;
  }

  auto ctx = std::make_shared<RequestContext>();
  ctx->now_ms = clock_->now_ms();
  ctx->ledger = &ledger_;
  RequestRecord record;
  record.connection_id = exchange->connection_id();
  record.method = std::string(request.method_string());
  record.target = std::string(target);
  if (const std::string header = app_.idempotency_header(); !header.empty()) {
    if (auto it = request.find(header); it != request.end()) {
      record.idempotency_key = std::string(it->value());
    }
  }
  record.started_ms = ctx->now_ms;
  const std::uint64_t seq = ledger_.open_request(std::move(record));
  ctx->seq = seq;

  // The request's target (with its query: a search names its customer)
  // and body key the probability draws of the faults it meets.
  // A request that names its operation meets the faults scoped to it.
  std::optional<std::int64_t> operation;
  if (auto it = request.find("Orgquake-Operation"); it != request.end()) {
    std::int64_t op = 0;
    const auto text = it->value();
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), op);
    if (error == std::errc() && end == text.data() + text.size() && op >= 0) operation = op;
  }
  const FaultDecision decision = faults_.decide(
      request.method_string(), path, std::string(target) + '\n' + request.body(), operation);
  auto note_firing = [&](const Firing& firing) {
    ledger_.record_fault(
        FaultFiring{0, seq, firing.fault_id, std::string(to_string(firing.spec.kind)),
                    std::string(request.method_string()), std::string(target), ctx->now_ms});
  };
  if (decision.lag) {
    note_firing(*decision.lag);
    ctx->search_lag_ms = decision.lag->spec.lag_ms;
  }
  std::optional<FaultSpec> fault;
  if (decision.fault) {
    note_firing(*decision.fault);
    fault = decision.fault->spec;
    RequestRecord* open = ledger_.request(seq);
    open->fault = std::string(to_string(fault->kind));
    open->fault_id = decision.fault->fault_id;
  }

  // Faults that strike before the application sees the request.
  if (fault && fault->kind == FaultKind::status) {
    send(exchange,
         app_.error(
             static_cast<http::status>(fault->status),
             fmt::format("Injected fault: HTTP {} before the request was applied", fault->status)),
         seq, *ctx);
    return;
  }
  if (fault && fault->kind == FaultKind::reset) {
    finish(seq, 0, "reset", *ctx);
    exchange->reset();
    return;
  }
  if (fault && fault->kind == FaultKind::hold) {
    finish(seq, 0, "held", *ctx);
    exchange->hold();
    return;
  }

  auto admitted = std::make_shared<std::optional<Response>>(app_.admit(request, *ctx));
  auto proceed = [this, exchange, ctx, seq, fault, admitted](bool ok) {
    const Request& req = exchange->request();
    if (!ok) {
      if (!admitted->has_value()) app_.abandon(req, *ctx);
      finish(seq, 0, "abandoned", *ctx);
      return;
    }
    ctx->now_ms = clock_->now_ms();
    Response response = admitted->has_value() ? std::move(**admitted) : app_.apply(req, *ctx);
    if (fault && fault->kind == FaultKind::apply_then_reset) {
      finish(seq, 0, "reset", *ctx);
      exchange->reset();
    } else if (fault && fault->kind == FaultKind::apply_then_hold) {
      finish(seq, 0, "held", *ctx);
      exchange->hold();
    } else if (fault && fault->kind == FaultKind::apply_then_500) {
      send(exchange,
           app_.error(http::status::internal_server_error,
                      "Injected fault: the request was applied, then the server answered 500"),
           seq, *ctx);
    } else {
      send(exchange, std::move(response), seq, *ctx);
    }
  };
  if (fault && fault->kind == FaultKind::delay) {
    exchange->after(std::chrono::milliseconds(fault->delay_ms), std::move(proceed));
  } else {
    proceed(true);
  }
}

void FakeServer::handle_admin(const std::shared_ptr<Exchange>& exchange) {
  const Request& request = exchange->request();
  const std::string_view path = path_of(request.target());
  const auto method = request.method();
  Response response;
  try {
    if (path == "/__orgquake/faults" && method == http::verb::get) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& fault : faults_.installed()) list.push_back(to_json(fault));
      response = json_response(http::status::ok, {{"faults", std::move(list)}});
    } else if (path == "/__orgquake/faults" && method == http::verb::post) {
      const auto body = nlohmann::json::parse(request.body());
      nlohmann::json ids = nlohmann::json::array();
      if (body.is_array()) {
        // Validate every spec before installing any, so a bad one installs nothing.
        std::vector<FaultSpec> specs;
        for (const auto& item : body) specs.push_back(fault_spec_from_json(item));
        for (auto& spec : specs) ids.push_back(faults_.add(std::move(spec)));
      } else {
        ids.push_back(faults_.add(fault_spec_from_json(body)));
      }
      response = json_response(http::status::ok, {{"ids", std::move(ids)}});
    } else if (path == "/__orgquake/faults" && method == http::verb::delete_) {
      faults_.clear();
      response = json_response(http::status::ok, {{"cleared", true}});
    } else if (path.substr(0, 19) == "/__orgquake/faults/" && method == http::verb::delete_) {
      const std::string id_text(path.substr(19));
      std::uint64_t id = 0;
      try {
        id = std::stoull(id_text);
      } catch (const std::exception&) {
        throw UsageError(fmt::format("fault id '{}' is not a number", id_text));
      }
      response = faults_.remove(id)
                     ? json_response(http::status::ok, {{"removed", id}})
                     : admin_error(http::status::not_found, fmt::format("no fault with id {}", id));
    } else if (path == "/__orgquake/ledger" && method == http::verb::get) {
      std::uint64_t since = 0;
      for (const FormField& field : parse_form(query_of(request.target()))) {
        if (field.name != "since") continue;
        try {
          since = std::stoull(field.value);
        } catch (const std::exception&) {
          throw UsageError(fmt::format("since '{}' is not a number", field.value));
        }
      }
      response = json_response(http::status::ok, ledger_.to_json(since));
    } else if (path == "/__orgquake/ledger" && method == http::verb::delete_) {
      ledger_.clear();
      response = json_response(http::status::ok, {{"cleared", true}});
    } else if (path == "/__orgquake/health" && method == http::verb::get) {
      response = json_response(http::status::ok, {{"ok", true}});
    } else {
      response = admin_error(http::status::not_found,
                             fmt::format("unknown admin route {} {} (use /__orgquake/faults or "
                                         "/__orgquake/ledger)",
                                         std::string(request.method_string()), std::string(path)));
    }
  } catch (const nlohmann::json::exception& e) {
    response = admin_error(http::status::bad_request, fmt::format("invalid JSON: {}", e.what()));
  } catch (const UsageError& e) {
    response = admin_error(http::status::bad_request, e.what());
  } catch (const FormError& e) {
    response = admin_error(http::status::bad_request, e.what());
  }
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  exchange->respond(std::move(response));
}

}  // namespace orgquake::fakes
