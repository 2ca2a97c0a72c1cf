-- patch.Store: patches, their history and acknowledgements, and the host's
-- stream cursors.

-- One row per patch; the identity never hands out an ID twice. tenant and
-- service repeat the patch's, for List; the patch itself (without its ID)
-- is JSON, its changes typed ({"rate_limit_rps": {"int": "200"}}), in a
-- json column (kept as written: jsonb refuses \u0000, which a string
-- change may hold). Times keep Go's nanoseconds: the timestamptz holds
-- microseconds, *_ns the rest.
CREATE TABLE patches (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant     text        NOT NULL,
	service    text        NOT NULL,
	status     text        NOT NULL,
	patch      json        NOT NULL,
	created    timestamptz NOT NULL,
	created_ns smallint    NOT NULL DEFAULT 0 CHECK (created_ns BETWEEN 0 AND 999),
	updated    timestamptz NOT NULL,
	updated_ns smallint    NOT NULL DEFAULT 0 CHECK (updated_ns BETWEEN 0 AND 999),
	violations json        NOT NULL DEFAULT '[]',
	targets    text[]      NOT NULL DEFAULT '{}',
	apply_seq  text        NOT NULL DEFAULT '',
	revert_seq text        NOT NULL DEFAULT ''
);
-- A tenant's live patches (every Create and Update) and List by tenant.
CREATE INDEX patches_tenant_status ON patches (tenant, status, id);
-- List by status across tenants, and by service.
CREATE INDEX patches_status ON patches (status, id);
CREATE INDEX patches_service ON patches (service, id);

-- The status transitions of a patch, n = 0, 1, 2… in order. Append-only.
CREATE TABLE patch_history (
	patch_id    bigint      NOT NULL REFERENCES patches (id),
	n           integer     NOT NULL,
	from_status text        NOT NULL,
	to_status   text        NOT NULL,
	actor       text        NOT NULL,
	at          timestamptz NOT NULL,
	at_ns       smallint    NOT NULL DEFAULT 0 CHECK (at_ns BETWEEN 0 AND 999),
	reason      text        NOT NULL,
	PRIMARY KEY (patch_id, n)
);

-- The latest acknowledgement of each agent for each op of a patch, in
-- byte order (COLLATE "C") as patch.Record keeps them. An Update writes
-- the acks it added or changed, not the others.
CREATE TABLE patch_acks (
	patch_id     bigint      NOT NULL REFERENCES patches (id),
	agent        text        COLLATE "C" NOT NULL,
	op           text        COLLATE "C" NOT NULL,
	tenant       text        NOT NULL,
	ack_patch_id bigint      NOT NULL, -- the ack's own PatchID, kept as sent
	seq          text        NOT NULL,
	status       text        NOT NULL,
	version      text        NOT NULL,
	revision     bigint      NOT NULL,
	hash         text        NOT NULL,
	error        text        NOT NULL,
	at           timestamptz NOT NULL,
	at_ns        smallint    NOT NULL DEFAULT 0 CHECK (at_ns BETWEEN 0 AND 999),
	PRIMARY KEY (patch_id, agent, op)
);

-- Named positions: the host's place in each acknowledgement stream.
CREATE TABLE patch_cursors (
	name  text PRIMARY KEY,
	value text NOT NULL
);
