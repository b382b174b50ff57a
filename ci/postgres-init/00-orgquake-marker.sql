-- Marks the container's database as orgquake's, so that the harness's safety
-- interlock lets it write here (it refuses any database without this table).
CREATE TABLE IF NOT EXISTS orgquake_marker (
    created_at timestamptz NOT NULL DEFAULT now(),
    purpose    text NOT NULL
);
INSERT INTO orgquake_marker (purpose) VALUES ('docker-compose database for orgquake');
