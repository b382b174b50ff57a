-- The feature flag of the migration guide's gradual rollout: which users a
-- request serves through the organization model (the org path) instead of
-- the legacy one. Every request reads it, so that widening the rollout or
-- rolling it back (percentage 0, empty allow list) takes effect at once; the
-- version grows with every change, so that each request can say which state
-- of the flag it followed.
--
-- A user is in the rollout when allow-listed, or when their bucket (0..99,
-- FNV-1a of "org_path:" and the user id, docs/worker-protocol.md) is below
-- the percentage.
CREATE TABLE rollout_flag (
    name       text PRIMARY KEY,
    percentage integer NOT NULL DEFAULT 0 CHECK (percentage BETWEEN 0 AND 100),
    allow_list text[] NOT NULL DEFAULT '{}',
    version    bigint NOT NULL DEFAULT 0
);
INSERT INTO rollout_flag (name) VALUES ('org_path');
