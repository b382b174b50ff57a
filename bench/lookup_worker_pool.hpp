#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace orgquake::bench {

class BenchEnvironment;

/// The concurrent clients of lookup/concurrent/clients:<C>: `clients` fibers
/// spread over `threads` worker threads, each thread running the reactor
/// scheduler (so a fiber waiting on its socket lets the others run), each
/// fiber a client with its own PostgreSQL and Redis connections, as the
/// async request handlers of one app-server process. Client i lives on thread
/// i % threads and looks up pool user i % pool size. The benchmark thread
/// hands out rounds of lookups and waits for them.
class LookupWorkerPool {
 public:
  /// Connects every client (in parallel, in their threads); throws
  /// EnvironmentError if any could not connect.
  LookupWorkerPool(const BenchEnvironment& env, int clients, int threads);
  ~LookupWorkerPool();
  LookupWorkerPool(const LookupWorkerPool&) = delete;
  LookupWorkerPool& operator=(const LookupWorkerPool&) = delete;

  int clients() const { return clients_; }

  struct Round {
    std::vector<double> latency_us;  ///< one per lookup that succeeded
    int errors = 0;
    std::string first_error;
  };

  /// Runs `lookups` verified lookups (joined loading, fast path) spread
  /// evenly over clients 0..active-1, all at once; returns when every one
  /// has finished.
  Round run_round(int active, std::int64_t lookups);

 private:
  struct Worker;
  void run_worker(Worker& worker, const BenchEnvironment& env);
  /// Stops and joins the worker threads, which close their clients.
  void shut_down();

  int clients_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace orgquake::bench
