-- The legacy, flat model: each user stands alone with settings, an LLM proxy
-- key and a Stripe customer. Migration reads these and must keep them
-- readable (the legacy read path answers for a migrated user too).

CREATE TABLE user_settings (
    user_id          text PRIMARY KEY,
    username         text NOT NULL,
    email            text,
    llm_api_key      text,
    llm_model        text,
    user_version     integer NOT NULL DEFAULT 1,
    already_migrated boolean NOT NULL DEFAULT false,
    settings         jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- No unique constraint on user_id, as in the systems this models: duplicate
-- rows are a real bug class that the no-double-billing invariant must catch.
CREATE TABLE stripe_customers (
    id                 bigserial PRIMARY KEY,
    user_id            text NOT NULL REFERENCES user_settings (user_id),
    org_id             uuid,
    stripe_customer_id text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_customers_user_id ON stripe_customers (user_id);

CREATE TABLE conversation_metadata (
    conversation_id text PRIMARY KEY,
    user_id         text NOT NULL REFERENCES user_settings (user_id),
    title           text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX conversation_metadata_user_id ON conversation_metadata (user_id);
