-- What the reference migrator records for itself.
--
-- migration_journal is committed before the first external call: a retry
-- after a crash reads the credits snapshot from here instead of recomputing
-- it from LiteLLM, where the user's budget may already have been lifted
-- (recomputing there is how an org team ends up with unlimited credits).
CREATE TABLE migration_journal (
    user_id           text PRIMARY KEY REFERENCES user_settings (user_id),
    org_id            uuid NOT NULL,
    credits_snapshot  double precision CHECK (credits_snapshot >= 0),  -- NULL: unlimited
    legacy_max_budget double precision,
    legacy_spend      double precision NOT NULL DEFAULT 0,
    has_litellm_user  boolean NOT NULL DEFAULT true,
    -- Chosen before LiteLLM is asked to create it, so that a retry asks for
    -- the same key and hears "already exists" instead of making a second one.
    replacement_key   text,
    -- A Stripe customer this migration created, recorded right after.
    created_customer  text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    attempts          integer NOT NULL DEFAULT 1
);

-- The highest lock fencing token that committed a migration of the user: a
-- commit carrying an older token comes from a holder whose lease expired.
CREATE TABLE migration_fence (
    user_id text PRIMARY KEY,
    token   bigint NOT NULL
);
