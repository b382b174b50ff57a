#pragma once

#include "migrator/io/pg_connection.hpp"

namespace orgquake::io {

/// BEGIN now; ROLLBACK when destroyed unless commit() ran. A connection
/// that broke meanwhile is left alone: the server rolled back already.
class PgTransaction {
 public:
  explicit PgTransaction(PgConnection& pg, std::string_view begin = "BEGIN") : pg_(pg) {
    pg_.exec(begin);
  }
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  ~PgTransaction() {
    if (done_ || !pg_.open()) return;
    try {
      pg_.exec("ROLLBACK");
    } catch (...) {
      // Nothing more to undo: a failed ROLLBACK means the session is gone.
    }
  }
  void commit() {
    done_ = true;
    pg_.exec("COMMIT");
  }

 private:
  PgConnection& pg_;
  bool done_ = false;
};

}  // namespace orgquake::io
