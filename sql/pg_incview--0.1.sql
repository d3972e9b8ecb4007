-- pg_incview 0.1: incremental materialized views refreshed scope by scope.
\echo Use "CREATE EXTENSION pg_incview" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Catalog. Written only by pg_incview's functions (as the extension owner);
-- readable by everyone. Definitions survive pg_dump (pg_extension_config_dump).
-- ---------------------------------------------------------------------------
CREATE TABLE incview.stage (
  id           serial PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  query        text NOT NULL,
  scope        text[] NOT NULL,
  unique_key   text[],
  columns      text[] NOT NULL,
  target       regclass NOT NULL UNIQUE,
  engine       text NOT NULL DEFAULT 'auto'
               CHECK (engine IN ('auto', 'replace', 'diff', 'full')),
  owner        regrole NOT NULL,
  policy       text NOT NULL DEFAULT 'continuous'
               CHECK (policy IN ('continuous', 'interval', 'daily', 'manual')),
  policy_every interval,
  policy_at    time,
  max_lag      interval,
  search_path  text NOT NULL DEFAULT 'pg_catalog',  -- the creator's, used whenever its SQL runs
  partition_by text,                  -- 'list (c)', 'hash (c) 16', 'range (c) 1 month'
  scope_pushdown boolean,             -- false: the scope filter cannot reach a source (auto rebuilds)
  retention_column text,              -- rows older than now() - retention_keep are expired
  retention_keep interval CHECK (retention_keep > interval '0'),
  created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE incview.stage IS 'pg_incview: one row per registered stage';

-- Sources a stage's query reads and how a changed row maps to scope keys.
-- mapping_kind: 'same' (the source has the scope columns), 'lookup' (mapping is a
-- SELECT over the pseudo-table "changed"), 'all' (any change dirties every scope).
CREATE TABLE incview.stage_source (
  stage_id     int NOT NULL REFERENCES incview.stage(id) ON DELETE CASCADE,
  source       regclass NOT NULL,
  mapping_kind text NOT NULL CHECK (mapping_kind IN ('same', 'lookup', 'all')),
  mapping      text,
  declared     boolean NOT NULL DEFAULT false,
  PRIMARY KEY (stage_id, source)
);

-- Indexes declared on a stage's table (re-created with it).
CREATE TABLE incview.stage_index (
  stage_id   int NOT NULL REFERENCES incview.stage(id) ON DELETE CASCADE,
  index_name text NOT NULL,
  definition text NOT NULL,
  PRIMARY KEY (stage_id, index_name)
);

-- The dirty queue: one row per (stage, scope key) a writer touched. key is a jsonb
-- array of the scope values ([42] or [1, "c"]); key IS NULL means "every scope".
-- Duplicates are allowed (writers never wait on each other); refresh deduplicates.
CREATE TABLE incview.dirty_scope (
  stage_id   int NOT NULL,
  key        jsonb,
  dirtied_at timestamptz NOT NULL DEFAULT now()
)
-- A queue: rows come and go by the thousand while the table stays small. Vacuum and
-- analyze it after a fixed number of changes rather than a share of its size, so dead
-- entries do not pile up in front of the keyset scans and the planner does not read the
-- queue with statistics from a moment it held millions of keys (a seq scan of a bloated
-- heap made the queue count of a 1-patient refresh cost 12 ms at the benchmark's scale).
WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
      autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000,
      autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000,
      autovacuum_vacuum_cost_delay = 0);
CREATE INDEX dirty_scope_stage_key ON incview.dirty_scope (stage_id, key);

-- Runtime state of each stage (not dumped: it describes this server's history).
CREATE TABLE incview.stage_state (
  stage_id      int PRIMARY KEY REFERENCES incview.stage(id) ON DELETE CASCADE,
  status        text NOT NULL DEFAULT 'idle',
  last_refresh  timestamptz,
  last_duration interval,
  last_error    text,
  failures      int NOT NULL DEFAULT 0,
  scope_count   bigint NOT NULL DEFAULT 0,  -- scopes in the target at the last full build
  last_retention timestamptz,             -- last time expired rows were removed
  next_attempt  timestamptz
);

CREATE TABLE incview.refresh_log (
  id            bigserial PRIMARY KEY,
  stage         text NOT NULL,
  engine        text NOT NULL,
  scopes        bigint,                     -- NULL for a full rebuild
  rows_deleted  bigint NOT NULL DEFAULT 0,
  rows_inserted bigint NOT NULL DEFAULT 0,
  rows_updated  bigint NOT NULL DEFAULT 0,
  started_at    timestamptz NOT NULL DEFAULT now(),
  duration      interval,
  error         text
);
CREATE INDEX refresh_log_stage ON incview.refresh_log (stage, started_at);

SELECT pg_catalog.pg_extension_config_dump('incview.stage', '');
SELECT pg_catalog.pg_extension_config_dump('incview.stage_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('incview.stage_source', '');
SELECT pg_catalog.pg_extension_config_dump('incview.dirty_scope', '');
SELECT pg_catalog.pg_extension_config_dump('incview.stage_index', '');

CREATE VIEW incview.stages AS
SELECT s.name,
       s.target,
       s.scope,
       s.unique_key,
       s.engine,
       s.policy,
       s.owner,
       coalesce(st.status, 'idle') AS status,
       d.dirty_scopes,
       d.all_dirty,
       st.last_refresh,
       st.last_duration,
       CASE
         WHEN s.policy = 'manual' THEN NULL
         WHEN st.next_attempt > now() THEN st.next_attempt
         WHEN s.policy = 'continuous' THEN CASE WHEN d.dirty_scopes > 0 OR d.all_dirty THEN now() END
         WHEN s.policy = 'interval' THEN greatest(now(), coalesce(st.last_refresh + s.policy_every, now()),
                                                  least(coalesce(d.oldest + s.max_lag, 'infinity'), 'infinity'))
         ELSE CASE WHEN now()::date + s.policy_at > coalesce(st.last_refresh, '-infinity')
                    AND now()::date + s.policy_at > now()
                   THEN (now()::date + s.policy_at)::timestamptz
                   ELSE (now()::date + 1 + s.policy_at)::timestamptz END
       END AS next_run,
       st.failures,
       CASE WHEN d.oldest IS NULL THEN interval '0' ELSE now() - d.oldest END AS lag,
       st.last_error
FROM incview.stage s
LEFT JOIN incview.stage_state st ON st.stage_id = s.id
CROSS JOIN LATERAL (
  SELECT count(DISTINCT q.key) AS dirty_scopes,
         coalesce(bool_or(q.key IS NULL), false) AS all_dirty,
         min(q.dirtied_at) AS oldest
  FROM incview.dirty_scope q WHERE q.stage_id = s.id) d;

GRANT USAGE ON SCHEMA incview TO PUBLIC;
GRANT SELECT ON incview.stage, incview.stage_source, incview.stage_state, incview.stage_index,
               incview.refresh_log, incview.stages TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Functions (C++, src/pg). All run as the caller; catalog writes switch to the
-- extension owner inside the function.
-- ---------------------------------------------------------------------------
CREATE FUNCTION incview.create_stage(
  name text, query text, scope text[], unique_key text[] DEFAULT NULL,
  target text DEFAULT NULL, populate boolean DEFAULT true, engine text DEFAULT 'auto',
  partition_by text DEFAULT NULL, indexes text[] DEFAULT NULL)
RETURNS regclass LANGUAGE c AS 'MODULE_PATHNAME', 'incview_create_stage';

CREATE FUNCTION incview.drop_stage(stage text, "cascade" boolean DEFAULT false)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_drop_stage';

CREATE FUNCTION incview.alter_stage(name text, query text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_alter_stage';

CREATE FUNCTION incview.graph_dot()
RETURNS text LANGUAGE c AS 'MODULE_PATHNAME', 'incview_graph_dot';

CREATE FUNCTION incview.set_engine(stage text, engine text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_set_engine';

CREATE FUNCTION incview.refresh_scopes(stage text, keys jsonb)
RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'incview_refresh_scopes';

CREATE FUNCTION incview.refresh_where(stage text, condition text)
RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'incview_refresh_where';

CREATE FUNCTION incview.rebuild(stage text)
RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'incview_rebuild';

CREATE FUNCTION incview.verify(stage text, OUT missing bigint, OUT extra bigint)
RETURNS record LANGUAGE c AS 'MODULE_PATHNAME', 'incview_verify';

CREATE FUNCTION incview.explain(stage text, read_query text DEFAULT NULL)
RETURNS text LANGUAGE c AS 'MODULE_PATHNAME', 'incview_explain';

CREATE FUNCTION incview.add_index(stage text, definition text)
RETURNS text LANGUAGE c AS 'MODULE_PATHNAME', 'incview_add_index';

CREATE FUNCTION incview.drop_index(stage text, index_name text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_drop_index';

-- Rows whose `column` is older than now() - keep leave the stage (NULL keep: keep all).
CREATE FUNCTION incview.set_retention(stage text, "column" text, keep interval)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_set_retention';

-- Removes expired rows now (background workers do it about once a minute); returns rows
-- removed, counting those of dropped partitions.
CREATE FUNCTION incview.apply_retention(stage text)
RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'incview_apply_retention';

-- Rebuilds one list partition beside the table and swaps it in.
CREATE FUNCTION incview.rebuild_partition(stage text, value text)
RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'incview_rebuild_partition';

CREATE FUNCTION incview.map_source(stage text, source regclass, mapping text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_map_source';

-- When background workers refresh the stage: 'continuous' (soon after a commit dirties it),
-- 'interval' (every `every`), 'daily' (at time of day `at`), 'manual' (never). max_lag:
-- for interval/daily, refresh early once the oldest dirty scope is older than this.
CREATE FUNCTION incview.set_policy(stage text, mode text, every interval DEFAULT NULL,
                                   at time DEFAULT NULL, max_lag interval DEFAULT NULL)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_set_policy';

CREATE FUNCTION incview._wake_launcher()
RETURNS boolean LANGUAGE c AS 'MODULE_PATHNAME', 'incview_wake_launcher';

CREATE FUNCTION incview.refresh(stage text)
RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'incview_refresh';

-- One step of a stage's refresh: a full rebuild when the planner says so, else the next
-- batch of dirty keys after `after` (keyset order). last_key is NULL when nothing is left.
CREATE FUNCTION incview.refresh_step(stage text, after jsonb DEFAULT NULL,
                                     OUT scopes bigint, OUT last_key jsonb, OUT failed boolean)
RETURNS record LANGUAGE c AS 'MODULE_PATHNAME', 'incview_refresh_step';

-- Stage names, upstream before downstream.
CREATE FUNCTION incview.refresh_order()
RETURNS text[] LANGUAGE c AS 'MODULE_PATHNAME', 'incview_refresh_order';

-- Every stage with dirty scopes, in dependency order, committing after each batch so a
-- long refresh holds no lock and loses nothing if interrupted. Call it outside a
-- transaction block: CALL incview.refresh_all();
-- (No SET search_path clause: a procedure with one cannot COMMIT. Every name below is
-- schema-qualified instead.)
CREATE PROCEDURE incview.refresh_all()
LANGUAGE plpgsql AS $$
DECLARE
  s pg_catalog.text;
  r record;
  after pg_catalog.jsonb;
BEGIN
  FOREACH s IN ARRAY incview.refresh_order() LOOP
    after := NULL;
    LOOP
      SELECT * INTO r FROM incview.refresh_step(s, after);
      COMMIT;
      EXIT WHEN r.last_key IS NULL;
      after := r.last_key;
    END LOOP;
  END LOOP;
END
$$;

CREATE FUNCTION incview.capture()
RETURNS trigger LANGUAGE c AS 'MODULE_PATHNAME', 'incview_capture';

-- Raises a C++ exception inside the extension; exists so tests can prove the entry
-- guard turns it into a clean ERROR. Harmless: it changes nothing.
CREATE FUNCTION incview._selftest_throw(kind text)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_selftest_throw';
REVOKE ALL ON FUNCTION incview._selftest_throw(text) FROM PUBLIC;

-- A new database with the extension gets its scheduler now, not at the next launcher pass.
SELECT incview._wake_launcher();
