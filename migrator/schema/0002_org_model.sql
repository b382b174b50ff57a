-- The multi-tenant model. The constraints here are what make the invariants
-- enforceable by the database itself: at most one personal org per owner, one
-- membership per (org, user), and no membership or user pointing nowhere.

CREATE TABLE role (
    id   serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    rank integer NOT NULL
);
INSERT INTO role (name, rank) VALUES ('owner', 10), ('admin', 20), ('member', 1000);

-- Personal org convention, as in the seed system: a personal org's id equals
-- its owner's user id.
CREATE TABLE org (
    id            uuid PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    kind          text NOT NULL CHECK (kind IN ('personal', 'team')),
    owner_user_id text NOT NULL,
    contact_email text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX org_one_personal_per_owner ON org (owner_user_id) WHERE kind = 'personal';

CREATE TABLE app_user (
    id             uuid PRIMARY KEY,
    legacy_user_id text NOT NULL UNIQUE REFERENCES user_settings (user_id),
    current_org_id uuid REFERENCES org (id),
    email          text,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE org_member (
    org_id      uuid NOT NULL REFERENCES org (id),
    user_id     uuid NOT NULL REFERENCES app_user (id),
    role_id     integer NOT NULL REFERENCES role (id),
    llm_api_key text,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_member_user_id ON org_member (user_id);

CREATE TABLE conversation_metadata_org (
    conversation_id text PRIMARY KEY REFERENCES conversation_metadata (conversation_id),
    user_id         uuid NOT NULL REFERENCES app_user (id),
    org_id          uuid NOT NULL REFERENCES org (id)
);
CREATE INDEX conversation_metadata_org_org_id ON conversation_metadata_org (org_id);
