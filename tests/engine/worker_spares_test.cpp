#define BOOST_TEST_MODULE orgquake worker spares
// Spare worker processes: started ahead of their plans, handed to workers
// with their logs renamed, started again to the count kept, and killed with
// their logs removed when never used. The "migrator" is a shell that says
// it started and then reads its channel until it closes.
#include "engine/worker_spares.hpp"

#include <chrono>
#include <fstream>
#include <signal.h>
#include <sstream>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "engine/migrator_catalog.hpp"

using namespace orgquake;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct SparesFixture {
  fs::path dir = fs::temp_directory_path() / fmt_name();
  engine::WorkerCommand command{"/bin/sh", {"-c", "echo started; cat <&3 >/dev/null"}, "/", {}};

  static std::string fmt_name() { return "orgquake-spares-" + std::to_string(::getpid()); }
  SparesFixture() { fs::create_directories(dir); }
  ~SparesFixture() { fs::remove_all(dir); }

  int spare_logs() const {
    int n = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      n += entry.path().filename().string().rfind("spare-", 0) == 0;
    }
    return n;
  }
};

std::string read_when_written(const fs::path& file) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    if (!text.str().empty() || std::chrono::steady_clock::now() > deadline) return text.str();
    std::this_thread::sleep_for(5ms);
  }
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_spare_is_running_before_its_worker_takes_it, SparesFixture) {
  pid_t taken_pid = 0;
  {
    engine::WorkerSpares spares(command, dir);
    spares.keep(2);
    BOOST_TEST(spares.waiting() == 2u);
    BOOST_TEST(spare_logs() == 2);
    for (const auto& entry : fs::directory_iterator(dir)) {
      BOOST_TEST(read_when_written(entry.path()) == "started\n");  // started ahead
    }
    auto worker = spares.take(dir / "trial-0-worker-0.log");
    taken_pid = worker.process.pid();
    BOOST_TEST(worker.log == dir / "trial-0-worker-0.log");
    BOOST_TEST(read_when_written(worker.log) == "started\n");  // its log, renamed
    BOOST_TEST(spares.waiting() == 1u);
    spares.refill();  // back to the count kept
    BOOST_TEST(spares.waiting() == 2u);
    BOOST_TEST(spare_logs() == 2);
    BOOST_TEST(alive(taken_pid));
  }
  // Unused spares die with their keeper and leave no log; the worker's log stays.
  BOOST_TEST(spare_logs() == 0);
  BOOST_TEST(fs::exists(dir / "trial-0-worker-0.log"));
}

BOOST_FIXTURE_TEST_CASE(without_a_spare_a_process_is_started_at_once, SparesFixture) {
  engine::WorkerSpares spares(command, dir);
  auto worker = spares.take(dir / "trial-0-worker-0.log");
  BOOST_TEST(read_when_written(worker.log) == "started\n");
  BOOST_TEST(spares.waiting() == 0u);
  spares.refill();  // nothing kept, nothing started
  BOOST_TEST(spares.waiting() == 0u);
}
