-- pg_incview 0.1 -> 0.2: the security model (docs/security.md).
-- Released scripts are never edited: every catalog or SQL-surface change after 0.1 goes into
-- an upgrade script like this one (docs/upgrading.md). A new install of 0.2 runs
-- pg_incview--0.1.sql and then this file.
\echo Use "ALTER EXTENSION pg_incview UPDATE TO '0.2'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Refresh history belongs to the stage's owner (error texts contain data values).
-- Rows of stages dropped before 0.2 have no known owner: superusers only.
-- ---------------------------------------------------------------------------
ALTER TABLE incview.refresh_log ADD COLUMN owner regrole;
UPDATE incview.refresh_log l SET owner = s.owner FROM incview.stage s WHERE s.name = l.stage;

-- Scope independence (is a scoped refresh right for this query?) from the query tree and the
-- sample plan: scope_pushdown is the verdict, scope_independence says why not (NULL when
-- independent), declared_independent is the owner's override (incview.declare_independent).
ALTER TABLE incview.stage ADD COLUMN scope_independence text;
ALTER TABLE incview.stage ADD COLUMN declared_independent boolean NOT NULL DEFAULT false;
-- Verdicts of 0.1 (plan only, and fooled by the query's own filters on the scope column)
-- are re-made at the next rebuild; until then a stage that 0.1 thought independent is
-- treated as unknown: its next refresh rebuilds it (and records the new verdict).
UPDATE incview.stage SET scope_pushdown = NULL, scope_independence = 'not analyzed since the update to 0.2';

-- Stored search paths get pg_temp explicit and last: an unqualified name in a stage's SQL
-- never resolves to a temp table of whichever session runs it.
UPDATE incview.stage SET search_path = search_path || ', pg_temp'
WHERE search_path !~ 'pg_temp';

-- ---------------------------------------------------------------------------
-- A stage's definition, mappings, errors and history are visible to members of its
-- owning role only (superusers see everything; pg_incview's own functions read the
-- catalog as the extension owner, which row security does not restrict).
-- ---------------------------------------------------------------------------
ALTER TABLE incview.stage ENABLE ROW LEVEL SECURITY;
CREATE POLICY stage_owner ON incview.stage FOR SELECT
  USING (pg_catalog.pg_has_role(owner, 'MEMBER'));

ALTER TABLE incview.stage_source ENABLE ROW LEVEL SECURITY;
CREATE POLICY stage_owner ON incview.stage_source FOR SELECT
  USING (EXISTS (SELECT 1 FROM incview.stage s WHERE s.id = stage_id));  -- the stage's own policy applies

ALTER TABLE incview.stage_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY stage_owner ON incview.stage_state FOR SELECT
  USING (EXISTS (SELECT 1 FROM incview.stage s WHERE s.id = stage_id));

ALTER TABLE incview.stage_index ENABLE ROW LEVEL SECURITY;
CREATE POLICY stage_owner ON incview.stage_index FOR SELECT
  USING (EXISTS (SELECT 1 FROM incview.stage s WHERE s.id = stage_id));

ALTER TABLE incview.refresh_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY stage_owner ON incview.refresh_log FOR SELECT
  USING (owner IS NOT NULL AND pg_catalog.pg_has_role(owner, 'MEMBER'));

-- ---------------------------------------------------------------------------
-- incview.stages: every stage for everyone (names, status and lag are operational facts),
-- last_error only for members of the owner's role. A stage one of whose sources lost
-- pg_incview's capture triggers (disabled by the table's owner, or dropped) is 'stale':
-- its changes are no longer seen, so it must never read as 'idle'. capture_off names
-- those sources.
-- ---------------------------------------------------------------------------
-- The sources of a stage whose capture triggers are not all there and enabled (NULL: all
-- fine). One home for the rule: the view and the library's WARNINGs both call it. Runs as
-- the extension owner (row security would hide other owners' sources from the view's
-- readers; it reveals table names only).
CREATE FUNCTION incview.capture_off(stage_id int) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT string_agg(ss.source::text, ', ' ORDER BY ss.source::text)
  FROM incview.stage_source ss
  WHERE ss.stage_id = $1
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c   -- polled sources (foreign tables,
                    WHERE c.oid = ss.source AND c.relkind IN ('f', 'm'))  -- matviews) have no triggers
    AND (SELECT count(*) FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid = ss.source
           AND t.tgfoid = 'incview.capture()'::pg_catalog.regprocedure
           AND t.tgenabled IN ('O', 'A')
           AND t.tgname IN ('incview_capture_ins', 'incview_capture_upd', 'incview_capture_del',
                            'incview_capture_trunc')) < 4
$$;

-- (background_status(): see "Background refresh under one budget" below.)
CREATE FUNCTION incview.background_status(
  OUT status text, OUT waiting_since timestamptz, OUT next_due timestamptz, OUT scheduler_pid int,
  OUT budget int, OUT in_use int, OUT waiting_databases int)
RETURNS record LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'incview_background_status';
GRANT EXECUTE ON FUNCTION incview.background_status() TO PUBLIC;

-- The 0.1 view goes now; incview.stages is created once, further down, after the functions it
-- calls (incview.due_at, incview.delta_dirty_groups): "One definition of incview.stages".
DROP VIEW incview.stages;

-- ---------------------------------------------------------------------------
-- Comments that describe who runs what.
-- ---------------------------------------------------------------------------
COMMENT ON FUNCTION incview.capture() IS
  'pg_incview: capture trigger function; refuses to run as any trigger but pg_incview''s own';

-- ---------------------------------------------------------------------------
-- refresh_all refreshes the stages the caller may refresh (members of the owner's role;
-- a superuser: all), each as its owner, and skips the others instead of failing on them.
-- No SET clause (a procedure with one cannot COMMIT): every name is schema-qualified.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE PROCEDURE incview.refresh_all()
LANGUAGE plpgsql AS $$
DECLARE
  s pg_catalog.text;
  r record;
  after pg_catalog.jsonb;
BEGIN
  FOREACH s IN ARRAY incview.refresh_order() LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM incview.stage st
                              WHERE st.name OPERATOR(pg_catalog.=) s
                                AND pg_catalog.pg_has_role(st.owner, 'USAGE'));
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

-- ---------------------------------------------------------------------------
-- The owner's override of the scope-independence analysis: refresh scope by scope although
-- pg_incview could not prove it right (or stop doing so with independent => false).
-- ---------------------------------------------------------------------------
CREATE FUNCTION incview.declare_independent(stage text, independent boolean DEFAULT true)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_declare_independent';

-- ---------------------------------------------------------------------------
-- Inputs the query reads that no trigger of ours sees (issue: no silent staleness).
-- ---------------------------------------------------------------------------
-- Why a stage could drift from its query: capture off, scopes not independent (or declared
-- so), functions whose table reads are invisible, polled inputs (foreign tables,
-- materialized views), time-dependent functions, tables read inside SQL functions.
CREATE FUNCTION incview."check"(stage text, OUT risk text, OUT detail text)
RETURNS SETOF record LANGUAGE c AS 'MODULE_PATHNAME', 'incview_check';

-- Declares a table the query reads where pg_incview cannot see it (inside a PL/pgSQL
-- function, say): captured like any source, with a mapping (a SELECT over "changed"
-- returning the scope columns) or, without one, dirtying every scope. Same privileges as
-- create_stage: SELECT and ownership or TRIGGER on the table, for the stage's owner.
CREATE FUNCTION incview.add_source(stage text, source regclass, mapping text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$ SELECT incview.map_source(stage, source, mapping) $$;

-- ---------------------------------------------------------------------------
-- DDL on the sources (partitions): new partitions under a source are captured from the
-- moment they exist; ATTACH/DETACH/DROP of a source partition dirty its stages; dropped
-- relations leave incview.stage_source. (src/pg/ddl/source_ddl.cpp)
-- ---------------------------------------------------------------------------
CREATE FUNCTION incview.on_ddl_start() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_on_ddl_start';
CREATE FUNCTION incview.on_ddl_end() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_on_ddl_end';
CREATE FUNCTION incview.on_sql_drop() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_on_sql_drop';
CREATE EVENT TRIGGER incview_source_ddl_start ON ddl_command_start
  WHEN TAG IN ('DROP TABLE', 'ALTER TABLE', 'DROP EXTENSION') EXECUTE FUNCTION incview.on_ddl_start();
CREATE EVENT TRIGGER incview_source_ddl_end ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION incview.on_ddl_end();
CREATE EVENT TRIGGER incview_source_drop ON sql_drop
  EXECUTE FUNCTION incview.on_sql_drop();

-- ---------------------------------------------------------------------------
-- create_stage without holding the sources' writers for the build (as CREATE INDEX
-- CONCURRENTLY does, in several transactions; call it outside a transaction block):
-- 1. register the stage and install capture (a brief CREATE TRIGGER lock), commit — from
--    here on every write is captured; 2. build it (only ACCESS SHARE on the sources),
--    commit — keys of writes committed before the build's snapshot are consumed by it,
--    later ones stay queued; 3. refresh those, commit. Readers see the stage's table empty
--    until step 2 commits. No SET clause (a procedure with one cannot COMMIT): every name
--    below is schema-qualified.
-- ---------------------------------------------------------------------------
CREATE PROCEDURE incview.create_stage_concurrently(
  name text, query text, scope text[], unique_key text[] DEFAULT NULL, target text DEFAULT NULL,
  engine text DEFAULT 'auto', partition_by text DEFAULT NULL, indexes text[] DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM incview.create_stage(name, query, scope, unique_key, target, false, engine, partition_by, indexes);
  COMMIT;
  PERFORM incview.rebuild(name);
  COMMIT;
  PERFORM incview.refresh(name);
  COMMIT;
END
$$;

-- ---------------------------------------------------------------------------
-- Read-your-writes: refresh these scopes now if they are dirty (waiting for a refresh
-- already running rather than repeating it); returns 0 at once when they are clean.
-- ---------------------------------------------------------------------------
CREATE FUNCTION incview.ensure_fresh(stage text, keys jsonb)
RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'incview_ensure_fresh';

-- ---------------------------------------------------------------------------
-- Idle capture triggers (issue 19): drop_stage and alter_stage never wait for the ACCESS
-- EXCLUSIVE lock DROP TRIGGER needs; triggers of a source no stage reads any more stay
-- (idle: the capture function finds no stage and returns) until the table is free. The
-- scheduler removes them; this function removes them now, waiting for the lock, from the
-- tables the caller owns, and returns how many tables it cleaned. (src/pg/capture/idle_capture.cpp)
-- ---------------------------------------------------------------------------
CREATE FUNCTION incview.drop_idle_capture() RETURNS integer
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_drop_idle_capture';

-- ---------------------------------------------------------------------------
-- Stages under DDL, like views (issue 11, item 5; src/pg/catalog/stage_definition.hpp and
-- src/pg/ddl/stage_ddl.cpp, docs/reference.md "Stages under DDL"). Each stage's query is kept
-- also as a view incview_stage.<stage name> owned by the stage's owner, never read: its
-- pg_depend rows make DROP / DROP COLUMN / ALTER COLUMN TYPE of what the query reads fail
-- naming it (or, with CASCADE, take the stage along), renames are followed through
-- pg_get_viewdef, and pg_dump orders it after what it reads. Members of PUBLIC have no
-- rights on the schema.
-- ---------------------------------------------------------------------------
CREATE SCHEMA incview_stage;
REVOKE ALL ON SCHEMA incview_stage FROM PUBLIC;
COMMENT ON SCHEMA incview_stage IS
  'pg_incview: one view per stage holding its query, so that PostgreSQL tracks what the stage reads';
ALTER TABLE incview.stage ADD COLUMN definition regclass;

-- Views for the stages made before 0.2, each under its stage's search path. A query that
-- no longer makes a view (its sources were dropped or renamed under 0.1) keeps none: a
-- WARNING names the stage; incview.alter_stage gives it one.
DO $$
DECLARE
  s record;
  saved_path text := pg_catalog.current_setting('search_path');
BEGIN
  FOR s IN SELECT id, name, query, owner, search_path FROM incview.stage ORDER BY id LOOP
    BEGIN
      PERFORM pg_catalog.set_config('search_path', s.search_path, true);
      EXECUTE pg_catalog.format('CREATE VIEW incview_stage.%I AS %s', s.name, s.query);
      EXECUTE pg_catalog.format('ALTER VIEW incview_stage.%I OWNER TO %s', s.name, s.owner);
      -- Made by this script, it would be a member of the extension: it is the stage's.
      EXECUTE pg_catalog.format('ALTER EXTENSION pg_incview DROP VIEW incview_stage.%I', s.name);
      UPDATE incview.stage SET definition = pg_catalog.format('incview_stage.%I', s.name)::pg_catalog.regclass
      WHERE id = s.id;
    EXCEPTION WHEN others THEN
      RAISE WARNING 'pg_incview: stage % gets no definition view: %', s.name, SQLERRM
        USING HINT = 'DDL on its sources is not checked against it; incview.alter_stage with its query makes one';
    END;
  END LOOP;
  PERFORM pg_catalog.set_config('search_path', saved_path, true);
END
$$;

CREATE FUNCTION incview.on_stage_ddl_start() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_on_stage_ddl_start';
CREATE FUNCTION incview.on_stage_ddl_end() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_on_stage_ddl_end';
CREATE FUNCTION incview.on_stage_drop() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_on_stage_drop';
-- Columns of a stage's table are the stage's: not dropped, renamed or retyped by hand.
CREATE EVENT TRIGGER incview_stage_ddl_start ON ddl_command_start
  WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION incview.on_stage_ddl_start();
-- Renames and moves of what a stage reads: its stored query and its captures follow.
CREATE EVENT TRIGGER incview_stage_ddl_end ON ddl_command_end
  WHEN TAG IN ('ALTER TABLE', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW', 'ALTER FOREIGN TABLE', 'ALTER SCHEMA',
               'ALTER FUNCTION', 'ALTER TYPE', 'ALTER DOMAIN')
  EXECUTE FUNCTION incview.on_stage_ddl_end();
-- A stage whose definition view or table was dropped goes with it.
CREATE EVENT TRIGGER incview_stage_drop ON sql_drop
  EXECUTE FUNCTION incview.on_stage_drop();

-- ---------------------------------------------------------------------------
-- Capture on a logical-replication subscriber (issue 11, item 3; docs/replication.md).
-- The statement triggers become ENABLE ALWAYS: sessions under session_replication_role =
-- replica (bulk loads, other replication tools) are captured too. A subscription's apply
-- worker fires row triggers only (statement triggers just for TRUNCATE): in a database with
-- a subscription each plain-table source also gets the row trigger incview_capture_row,
-- ENABLE REPLICA, which captures for the apply worker alone. (Databases without a
-- subscription do not get it: there it would never act.)
-- ---------------------------------------------------------------------------
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT t.tgrelid::pg_catalog.regclass AS rel, t.tgname FROM pg_catalog.pg_trigger t
           WHERE t.tgname IN ('incview_capture_ins', 'incview_capture_upd', 'incview_capture_del',
                              'incview_capture_trunc') AND t.tgenabled = 'O'
             AND t.tgfoid = 'incview.capture()'::pg_catalog.regprocedure LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', r.rel, r.tgname);
  END LOOP;
  FOR r IN SELECT DISTINCT ss.source AS rel FROM incview.stage_source ss
           JOIN pg_catalog.pg_class c ON c.oid = ss.source AND c.relkind = 'r'
           WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_subscription s, pg_catalog.pg_database d
                         WHERE s.subdbid = d.oid AND d.datname = pg_catalog.current_database())
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                             WHERE t.tgrelid = ss.source AND t.tgname = 'incview_capture_row') LOOP
    EXECUTE pg_catalog.format('CREATE TRIGGER incview_capture_row AFTER INSERT OR UPDATE OR DELETE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION incview.capture()', r.rel);
    EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE REPLICA TRIGGER incview_capture_row', r.rel);
  END LOOP;
END
$$;

-- A new subscription: every plain-table source gets the row trigger (src/pg/capture/replica_capture.cpp).
CREATE FUNCTION incview.on_subscription_ddl() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_on_subscription_ddl';
CREATE EVENT TRIGGER incview_subscription_ddl ON ddl_command_end
  WHEN TAG IN ('CREATE SUBSCRIPTION') EXECUTE FUNCTION incview.on_subscription_ddl();

-- ---------------------------------------------------------------------------
-- Citus (docs/citus.md): stages over distributed and reference tables.
-- incview.citus_source: the Citus tables stages read. A distributed source (hash-distributed
-- by the stage's scope column) has a key queue: a distributed table in schema incview_citus,
-- co-located with it, into which the capture triggers Citus propagated to the source's
-- shards write the changed rows' distribution-column values (a write to the co-located
-- shard on the same node). The coordinator moves those keys into incview.dirty_scope
-- (incview.citus_drain, also run by the scheduler and at the start of every refresh).
-- A reference source has no queue: its placement on the coordinator queues "every scope".
-- ---------------------------------------------------------------------------
CREATE SCHEMA incview_citus;
REVOKE ALL ON SCHEMA incview_citus FROM PUBLIC;
CREATE TABLE incview.citus_source (
  source     regclass PRIMARY KEY,
  kind       text NOT NULL CHECK (kind IN ('distributed', 'reference')),
  queue      regclass,   -- distributed: its key queue (incview_citus.q_<source oid>)
  key_column name        -- distributed: its distribution column (= the stages' scope)
);
REVOKE ALL ON incview.citus_source FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('incview.citus_source', '');

CREATE FUNCTION incview.capture_citus() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_capture_citus';

-- Moves the keys queued on the shards into incview.dirty_scope; returns how many.
CREATE FUNCTION incview.citus_drain() RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'incview_citus_drain';

-- A source is captured when its four statement triggers are there and enabled (ALWAYS, or
-- plain ENABLE after a user's ENABLE TRIGGER) and, in a database with a subscription, its
-- TRUNCATE trigger is ALWAYS and (a plain table) its row trigger fires in replica-role
-- sessions (REPLICA or ALWAYS): otherwise the apply worker would change the table unseen.
-- The statement triggers of a Citus source run incview.capture_citus() (what this sees is
-- the coordinator's table: a trigger disabled on one shard by hand on a worker is not seen).
CREATE OR REPLACE FUNCTION incview.capture_off(stage_id int) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT string_agg(ss.source::text, ', ' ORDER BY ss.source::text)
  FROM incview.stage_source ss
  LEFT JOIN pg_catalog.pg_class c ON c.oid = ss.source
  WHERE ss.stage_id = $1
    AND coalesce(c.relkind, 'r') NOT IN ('f', 'm')   -- polled sources (foreign tables, matviews) have no triggers
    AND ((SELECT count(*) FROM pg_catalog.pg_trigger t
          WHERE t.tgrelid = ss.source
            AND t.tgfoid IN ('incview.capture()'::pg_catalog.regprocedure,
                             'incview.capture_citus()'::pg_catalog.regprocedure)
            AND t.tgenabled IN ('O', 'A')
            AND t.tgname IN ('incview_capture_ins', 'incview_capture_upd', 'incview_capture_del',
                             'incview_capture_trunc')) < 4
         OR (EXISTS (SELECT 1 FROM pg_catalog.pg_subscription s, pg_catalog.pg_database d
                     WHERE s.subdbid = d.oid AND d.datname = pg_catalog.current_database())
             AND (NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                              WHERE t.tgrelid = ss.source AND t.tgname = 'incview_capture_trunc'
                                AND t.tgfoid = 'incview.capture()'::pg_catalog.regprocedure
                                AND t.tgenabled = 'A')
                  OR (c.relkind = 'r' AND NOT EXISTS (
                        SELECT 1 FROM pg_catalog.pg_trigger t
                        WHERE t.tgrelid = ss.source AND t.tgname = 'incview_capture_row'
                          AND t.tgfoid = 'incview.capture()'::pg_catalog.regprocedure
                          AND t.tgenabled IN ('R', 'A'))))))
$$;

-- ---------------------------------------------------------------------------
-- incview.progress (issue #16 item 4): long refreshes and rebuilds as they run, in the
-- style of pg_stat_progress_*: one row per backend refreshing a stage of this database.
-- Shared memory slots written by the refreshing backend (src/pg/background/progress.cpp); empty
-- unless pg_incview is in shared_preload_libraries.
-- ---------------------------------------------------------------------------
-- Every slot of the cluster, unfiltered (the view picks this database's).
CREATE FUNCTION incview._progress(
  OUT pid int, OUT datid oid, OUT stage_id int, OUT phase text,
  OUT batches_done bigint, OUT batches_total bigint, OUT scopes_done bigint, OUT scopes_total bigint,
  OUT rows_done bigint, OUT rows_total bigint, OUT started_at timestamptz)
RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'incview_progress';

-- Always true; in a rebuild's WHERE clause it counts the rows the stage's query produced so
-- far (rows_done). Runs in the stage owner's restricted context: EXECUTE stays with PUBLIC.
-- It touches only the caller's own slot, and only while that backend reports a run.
CREATE FUNCTION incview.progress_row() RETURNS boolean
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'incview_progress_row';

-- Stage names are visible to everyone in incview.stages too (operational facts). A run
-- whose backend went idle between refresh_step calls (a client looping by hand) is not
-- shown; refresh_all and the scheduler's workers stay active between their batches.
CREATE VIEW incview.progress AS
SELECT p.pid,
       s.name AS stage,
       s.target,
       p.phase,
       p.batches_done,
       p.batches_total,
       p.scopes_done,
       p.scopes_total,
       p.rows_done,
       p.rows_total,
       round(100.0 * CASE WHEN p.phase = 'rebuilding' THEN p.rows_done::numeric / nullif(p.rows_total, 0)
                          ELSE p.scopes_done::numeric / nullif(p.scopes_total, 0) END, 1) AS percent,
       p.started_at,
       now() - p.started_at AS elapsed
FROM incview._progress() p
JOIN incview.stage s ON s.id = p.stage_id
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = p.pid
WHERE p.datid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
  AND a.state IS DISTINCT FROM 'idle'
  AND a.state IS DISTINCT FROM 'idle in transaction';
GRANT SELECT ON incview.progress TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Background refresh under one budget (issue 20): schedulers exist only while their
-- database has work, at most incview.worker_budget processes at once. background_status()
-- is this database's state in the launcher's shared memory; a due stage of a database
-- that waits for a process shows status 'waiting for a worker' instead of 'idle'.
-- (src/pg/background/worker_budget.cpp, src/pg/api/api_background.cpp)
-- ---------------------------------------------------------------------------
-- (It is defined above, and shown by incview.stages, defined below.)


-- ==== Capture once per source (issue 18, issue 12 item 5) ====
-- One change record per source, statement and group of stages that derive the same keys
-- from it (the same scope columns, or "any change dirties every scope"), whatever the number
-- of stages in the group: the write path no longer grows with the stages on a table. Each
-- stage collects the records meant for it into its own rows of incview.dirty_scope before it
-- reads its queue (a refresh, ensure_fresh, the scheduler's pass), and remembers in
-- incview.capture_mark the snapshot it collected with: a record is new to the stage when its
-- writer's transaction is not visible in that snapshot. Transactions commit out of order, so
-- a sequence number could not tell which records a stage has seen; a snapshot can.
-- (src/pg/capture/change_record.cpp writes them, src/pg/catalog/captured_changes.cpp collects.)
CREATE TABLE incview.source_change (
  stage_ids  int[] NOT NULL,         -- the stages of the group, as the writer saw them
  xid        pg_catalog.xid8 NOT NULL,  -- the writer's top-level transaction
  keys       jsonb[],                -- distinct scope keys; NULL = every scope
  dirtied_at timestamptz NOT NULL,
  cid        bigint NOT NULL          -- the writing statement's command id in its transaction
)
-- Written by a direct heap insert (no executor): it must keep no index. A queue like
-- dirty_scope: vacuumed after a fixed number of changes.
WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
      autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000,
      autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000,
      autovacuum_vacuum_cost_delay = 0);

-- Per stage: the snapshot of its last collection (NULL: none yet, every record is new), and
-- the collecting transaction's own xid and command id: its records from that command on are
-- new (the snapshot would call every record of its own transaction seen).
CREATE TABLE incview.capture_mark (
  stage_id int PRIMARY KEY REFERENCES incview.stage(id) ON DELETE CASCADE,
  seen     pg_catalog.pg_snapshot,
  seen_own pg_catalog.xid8,
  seen_cid bigint
);
-- Marks are not dumped: snapshots mean nothing in another cluster, and a restored stage
-- without a mark takes every record as new. Records are dumped (keys still waiting in them
-- when the dump is taken must not be lost), and a restored record becomes a record of the
-- restoring transaction: the trigger below replaces the other cluster's xid by the restoring
-- transaction's and its command id by one past any real one (CommandId is 32 bits), so no
-- mark taken before the restore commits (a scheduler pass during the restore) has seen it.
-- Capture's direct heap insert fires no trigger: only COPY/INSERT (a restore) goes through it.
-- A record collected by every stage but not yet deleted when the dump was taken is collected
-- again after the restore: its keys are refreshed once more, never lost.
CREATE FUNCTION incview.source_change_restored() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  NEW.xid := pg_catalog.pg_current_xact_id();
  NEW.cid := 4294967296;
  RETURN NEW;
END $$;
CREATE TRIGGER incview_restored BEFORE INSERT ON incview.source_change
  FOR EACH ROW EXECUTE FUNCTION incview.source_change_restored();
SELECT pg_catalog.pg_extension_config_dump('incview.source_change', '');

-- Every key queued for a stage: the rows of its queue and the keys of the change records
-- it has not collected yet ("new to the stage": the same rule as kRecordIsNew in
-- src/pg/catalog/captured_changes.hpp). What incview.stages counts, what ensure_fresh and
-- the scheduler look at, and what to query instead of incview.dirty_scope.
CREATE VIEW incview.queued_keys AS
SELECT q.stage_id, q.key, q.dirtied_at FROM incview.dirty_scope q
UNION ALL
SELECT i.stage_id, k.key, r.dirtied_at
FROM incview.source_change r
CROSS JOIN LATERAL pg_catalog.unnest(r.stage_ids) AS i(stage_id)
JOIN incview.stage s ON s.id = i.stage_id
LEFT JOIN incview.capture_mark m ON m.stage_id = i.stage_id
CROSS JOIN LATERAL pg_catalog.unnest(coalesce(r.keys, ARRAY[NULL::jsonb])) AS k(key)
WHERE m.seen IS NULL
   OR (r.xid = m.seen_own AND r.cid >= m.seen_cid)
   OR (r.xid IS DISTINCT FROM m.seen_own AND NOT pg_catalog.pg_visible_in_snapshot(r.xid, m.seen));
COMMENT ON VIEW incview.queued_keys IS
  'Every key queued for a stage: its rows of incview.dirty_scope and the keys of the change records (incview.source_change) it has not collected yet; NULL key = every scope.';
COMMENT ON FUNCTION incview.source_change_restored() IS
  'Internal (pg_dump restore of incview.source_change): makes a restored change record one of the restoring transaction, so every stage collects it.';
-- ==== end of Capture once per source ====

-- ==== delta engine (issue 13) ====
-- Engine 'delta': per-group partial aggregates queued by capture into a queue table of the
-- stage's own (incview.delta_<id>, created by set_engine/create_stage, a member of the
-- extension) and folded into the stage's table by the refresh (src/pg/refresh/delta_engine.*).
ALTER TABLE incview.stage DROP CONSTRAINT stage_engine_check;
ALTER TABLE incview.stage ADD CONSTRAINT stage_engine_check
  CHECK (engine IN ('auto', 'replace', 'diff', 'full', 'delta'));

-- One row per stage the delta engine maintains: its queue and the statements generated
-- from its query when the engine was turned on (the stage's definition: not public).
CREATE TABLE incview.delta_stage (
  stage_id       integer PRIMARY KEY REFERENCES incview.stage (id) ON DELETE CASCADE,
  queue          regclass NOT NULL,
  table_query    text NOT NULL,     -- the user's columns, then the hidden ones
  hidden_columns text[] NOT NULL,   -- __incview_count, __incview_n_<pos>, __incview_sum_<pos>
  capture_insert text NOT NULL,
  capture_update text NOT NULL,
  capture_delete text NOT NULL,
  fold           text NOT NULL
);
REVOKE ALL ON incview.delta_stage FROM PUBLIC;

-- Whether a delta stage's queue holds anything (the scheduler's due check; its queue is a
-- table of the stage's own, so the name comes from incview.delta_stage).
CREATE FUNCTION incview.delta_queued(queue regclass) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  found boolean;
BEGIN
  EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM %s)', queue) INTO found;
  RETURN found;
END $$;
REVOKE ALL ON FUNCTION incview.delta_queued(regclass) FROM PUBLIC;
-- ==== Architecture pass (issue 15) ====
-- One definition of when a stage is due, shared by the scheduler's due-stage query, the time
-- it leaves for the launcher (both catalog/next_due.cpp) and incview.stages.next_run (docs/design.md,
-- "When a stage is due"). SQL-standard bodies: parsed once here, so the caller's
-- search_path never changes what they mean; simple enough for the planner to inline.

-- When the current period of a policy starts: a stage with queued keys is due once it has
-- started (continuous: always; interval: `every` after the last refresh; daily: today's
-- `at` if the last refresh was before it, else tomorrow's). NULL for manual.
CREATE FUNCTION incview.period_start(policy text, policy_every interval, policy_at time,
                                     last_refresh timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE policy
  WHEN 'continuous' THEN pg_catalog.now()
  WHEN 'interval' THEN coalesce(last_refresh + policy_every, pg_catalog.now())
  WHEN 'daily' THEN
    CASE WHEN coalesce(last_refresh, '-infinity') < pg_catalog.now()::date + policy_at
         THEN (pg_catalog.now()::date + policy_at)::timestamptz
         ELSE (pg_catalog.now()::date + 1 + policy_at)::timestamptz END
END;

-- When a stage is due (NULL: not until something changes): with keys queued since
-- oldest_key, at its period or when the oldest key has waited max_lag, whichever is first;
-- a polled stage (a foreign table or materialized view among its sources, no trigger sees
-- them change) of an interval/daily policy at every period, keys or not; never before the
-- back-off of a failing stage (next_attempt). The scheduler's due-stage query tests
-- `due_at(...) <= now()` in an equivalent form that reads the queue only when the period
-- has not started (catalog/next_due.cpp, read_due_stages).
CREATE FUNCTION incview.due_at(policy text, policy_every interval, policy_at time, max_lag interval,
                               last_refresh timestamptz, next_attempt timestamptz,
                               oldest_key timestamptz, polled boolean)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE
  WHEN policy = 'manual' THEN NULL
  WHEN oldest_key IS NOT NULL
    THEN greatest(least(incview.period_start(policy, policy_every, policy_at, last_refresh), oldest_key + max_lag),
                  coalesce(next_attempt, '-infinity'))
  WHEN polled AND policy <> 'continuous'
    THEN greatest(incview.period_start(policy, policy_every, policy_at, last_refresh),
                  coalesce(next_attempt, '-infinity'))
END;

-- Scopes (groups) a delta stage has deltas queued for: its queue table holds no timestamps
-- and no keys in incview.dirty_scope, so without this incview.stages would show such a stage
-- with 0 dirty scopes over stale rows. The distinct values of the queue's group columns (all
-- but the engine's __incview_* ones). By stage id, never by table name: as the extension owner
-- it reads only our queue tables, and shows only a count, as incview.stages does anyway.
CREATE FUNCTION incview.delta_dirty_groups(stage_id integer) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  q regclass;
  cols text;
  n bigint;
BEGIN
  SELECT d.queue INTO q FROM incview.delta_stage d WHERE d.stage_id OPERATOR(pg_catalog.=) $1;
  IF q IS NULL THEN
    RETURN 0;
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
  FROM pg_catalog.pg_attribute a
  WHERE a.attrelid OPERATOR(pg_catalog.=) q AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
    AND a.attname NOT LIKE '\_\_incview\_%';
  IF cols IS NULL THEN  -- no group columns (a grand total): one group
    EXECUTE pg_catalog.format('SELECT CASE WHEN EXISTS (SELECT 1 FROM %s) THEN 1 ELSE 0 END', q) INTO n;
  ELSE
    EXECUTE pg_catalog.format('SELECT count(*) FROM (SELECT DISTINCT %s FROM %s) g', cols, q) INTO n;
  END IF;
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION incview.delta_dirty_groups(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION incview.delta_dirty_groups(integer) TO PUBLIC;

-- incview.stages.next_run from the rule above: when due, or for an interval/daily stage
-- with nothing queued, when its period starts (a key arriving then is refreshed at once);
-- never in the past. (The view had its own copy of the rule before, which showed tomorrow for a
-- daily stage whose time had come, and waited for max_lag instead of the earlier of the two.)
-- One definition of incview.stages (the 0.1 view was dropped above).
CREATE VIEW incview.stages AS
SELECT v.name, v.target, v.scope, v.unique_key, v.engine, v.policy, v.owner,
       CASE WHEN v.status = 'idle' AND b.status = 'waiting for a worker' AND v.next_run <= now()
            THEN 'waiting for a worker' ELSE v.status END AS status,
       v.dirty_scopes, v.all_dirty, v.last_refresh, v.last_duration, v.next_run, v.failures, v.lag,
       v.last_error, v.capture_off, v.independence
FROM (
SELECT s.name,
       s.target,
       s.scope,
       s.unique_key,
       s.engine,
       s.policy,
       s.owner,
       CASE WHEN c.off IS NOT NULL THEN 'stale' ELSE coalesce(st.status, 'idle') END AS status,
       d.dirty_scopes + dg.groups AS dirty_scopes,
       d.all_dirty,
       st.last_refresh,
       st.last_duration,
       CASE WHEN n.at IS NOT NULL THEN greatest(now(), n.at)
            WHEN dg.groups > 0 THEN now() END AS next_run,
       st.failures,
       -- deltas carry no timestamp: their lag is unknown (NULL), never a reassuring 0
       CASE WHEN d.oldest IS NOT NULL THEN now() - d.oldest
            WHEN dg.groups > 0 THEN NULL ELSE interval '0' END AS lag,
       CASE
         WHEN NOT pg_catalog.pg_has_role(s.owner, 'MEMBER') THEN NULL
         WHEN c.off IS NOT NULL THEN
           'capture triggers of ' || c.off || ' are disabled or missing: changes to it are not seen'
         ELSE st.last_error
       END AS last_error,
       c.off AS capture_off,
       CASE WHEN s.declared_independent THEN 'declared by the owner' || coalesce(' (analysis: ' || s.scope_independence || ')', '')
            WHEN s.scope_pushdown THEN 'proven'
            ELSE 'no: ' || coalesce(s.scope_independence, 'unknown') || ' (refreshes rebuild in full)' END AS independence
FROM incview.stage s
LEFT JOIN incview.stage_state st ON st.stage_id = s.id
CROSS JOIN LATERAL (
  SELECT count(DISTINCT q.key) AS dirty_scopes,
         coalesce(bool_or(q.key IS NULL), false) AS all_dirty,
         min(q.dirtied_at) AS oldest
  -- queued_keys: dirty_scope + the change records the stage has not collected (issue 18)
  FROM incview.queued_keys q WHERE q.stage_id = s.id) d
CROSS JOIN LATERAL (SELECT incview.capture_off(s.id) AS off) c
CROSS JOIN LATERAL (SELECT CASE WHEN s.engine IN ('delta', 'auto') THEN incview.delta_dirty_groups(s.id)
                                ELSE 0 END AS groups) dg
-- (polled: false. Without keys a polled stage is due when its period starts, which is what
-- next_run shows for every interval/daily stage with nothing queued.)
CROSS JOIN LATERAL (
  SELECT coalesce(incview.due_at(s.policy, s.policy_every, s.policy_at, s.max_lag, st.last_refresh,
                                 st.next_attempt, d.oldest, false),
                  CASE WHEN s.policy IN ('interval', 'daily')
                       THEN greatest(incview.period_start(s.policy, s.policy_every, s.policy_at, st.last_refresh),
                                     coalesce(st.next_attempt, '-infinity')) END) AS at) n
) v
CROSS JOIN incview.background_status() b;
GRANT SELECT ON incview.stages TO PUBLIC;

-- Every function, procedure and view of schema incview documents itself (`\df+ incview.*`,
-- `\dv+ incview.*`; test/pgtap/comments.sql fails for one without a comment). The SQL
-- reference is docs/reference.md; these are its one-line summaries, return value included.
COMMENT ON FUNCTION incview.create_stage(text, text, text[], text[], text, boolean, text, text, text[]) IS
  'Defines a stage: materializes query into a table (public.<name> unless target) kept fresh scope by scope; returns the table (regclass). See docs/reference.md, Stages.';
COMMENT ON PROCEDURE incview.create_stage_concurrently(text, text, text[], text[], text, text, text, text[]) IS
  'create_stage without holding the sources'' writers during the build (like CREATE INDEX CONCURRENTLY): registers, commits, builds; call outside a transaction block.';
COMMENT ON FUNCTION incview.drop_stage(text, boolean) IS
  'Drops a stage: its table, view, catalog rows, queued keys and capture triggers no other stage needs; cascade drops the stages reading its table too. Returns nothing.';
COMMENT ON FUNCTION incview.alter_stage(text, text) IS
  'Redefines a stage with a new query and rebuilds it; the table is kept when the columns stay. Returns nothing.';
COMMENT ON FUNCTION incview.set_engine(text, text) IS
  'Sets how batches are written: auto, replace, diff, full or delta (docs/reference.md, Engines; docs/engines.md). Returns nothing.';
COMMENT ON FUNCTION incview.set_policy(text, text, interval, time, interval) IS
  'Sets when background workers refresh the stage: continuous, interval (every), daily (at) or manual; max_lag bounds the wait of a queued key. Returns nothing.';
COMMENT ON FUNCTION incview.declare_independent(text, boolean) IS
  'The owner''s override of the scope independence analysis (refresh scope by scope although it was not proven); false follows the analysis again. Returns nothing.';
COMMENT ON FUNCTION incview.map_source(text, regclass, text) IS
  'Declares how changes to a source dirty the stage''s scopes (a mapping query over changed rows). Returns nothing.';
COMMENT ON FUNCTION incview.add_source(text, regclass, text) IS
  'Declares a table the stage reads that capture cannot see (inside a PL/pgSQL or C function), with an optional mapping as for map_source. Returns nothing.';
COMMENT ON FUNCTION incview."check"(text) IS
  'Lists what could make the stage stale or wrong (inputs not captured, volatile functions, polled sources): one row (risk, detail) each; no rows when there is nothing.';
COMMENT ON FUNCTION incview.refresh(text) IS
  'Refreshes the stage''s dirty scopes from the queue, in batches; returns the number of scopes refreshed.';
COMMENT ON FUNCTION incview.refresh_step(text, jsonb) IS
  'One batch of the stage''s dirty scopes after the key after (keyset order); returns (scopes, last_key, failed), last_key NULL after the last batch.';
COMMENT ON PROCEDURE incview.refresh_all() IS
  'Refreshes every stage with dirty scopes that the caller may refresh, upstream first, committing after each batch; call outside a transaction block.';
COMMENT ON FUNCTION incview.refresh_scopes(text, jsonb) IS
  'Refreshes exactly the scopes given as a jsonb array of keys; returns the number of scopes refreshed.';
COMMENT ON FUNCTION incview.refresh_where(text, text) IS
  'Refreshes every scope having a row (in the table or the query''s result) that satisfies the condition; returns the number of scopes refreshed.';
COMMENT ON FUNCTION incview.ensure_fresh(text, jsonb) IS
  'Read-your-writes: refreshes the given scopes now if any is dirty (0 at once when all are clean); returns the number of scopes refreshed.';
COMMENT ON FUNCTION incview.rebuild(text) IS
  'Re-derives the whole stage from its query; returns the number of rows written (inserted or updated).';
COMMENT ON FUNCTION incview.rebuild_partition(text, text) IS
  'Re-derives the one list partition holding value; returns the number of rows inserted.';
COMMENT ON FUNCTION incview.verify(text) IS
  'Compares the stage''s table with its query; returns (missing, extra): rows the table lacks and rows it should not have (both 0 when fresh).';
COMMENT ON FUNCTION incview.explain(text, text) IS
  'Explains a stage as text: engine, sources and their mappings, scope independence, and (given read_query) how a read of the stage uses its indexes.';
COMMENT ON FUNCTION incview.graph_dot() IS
  'The graph of sources and stages as Graphviz dot text (stages the caller may see).';
COMMENT ON FUNCTION incview.refresh_order() IS
  'The names of all stages, every stage after the stages it reads: the order refresh_all uses.';
COMMENT ON FUNCTION incview.add_index(text, text) IS
  'Creates an index the stage''s readers need (on every partition) and records it so it survives rebuilds; returns the index name.';
COMMENT ON FUNCTION incview.drop_index(text, text) IS
  'Drops an index declared with add_index. Returns nothing.';
COMMENT ON FUNCTION incview.set_retention(text, text, interval) IS
  'Keeps only rows whose column is within keep of now(); the scheduler removes older rows every minute. Returns nothing.';
COMMENT ON FUNCTION incview.apply_retention(text) IS
  'Removes the stage''s rows older than its retention now; returns the number of rows removed.';
COMMENT ON FUNCTION incview.drop_idle_capture() IS
  'Drops capture triggers that no stage needs any more, on tables nobody holds a lock on; returns the number of tables cleaned.';
COMMENT ON FUNCTION incview.background_status() IS
  'This database''s state in the background worker budget: (status, waiting_since, next_due, scheduler_pid, budget, in_use, waiting_databases).';
COMMENT ON FUNCTION incview.citus_drain() IS
  'Moves the scope keys captured on Citus shards into incview.dirty_scope (the scheduler calls it every pass); returns the number of keys moved.';
COMMENT ON FUNCTION incview.capture_off(int) IS
  'Internal (incview.stages): the sources of a stage whose capture triggers are missing or disabled, comma-separated; NULL when all are in place.';
COMMENT ON FUNCTION incview.period_start(text, interval, time, timestamptz) IS
  'Internal (due-ness, docs/design.md): when the current period of a policy starts; a stage with queued keys is due once it has. NULL for manual.';
COMMENT ON FUNCTION incview.due_at(text, interval, time, interval, timestamptz, timestamptz, timestamptz, boolean) IS
  'Internal (due-ness, docs/design.md): when a stage is due given its policy, state and oldest queued key; NULL when not until something changes.';
COMMENT ON FUNCTION incview._progress() IS
  'Internal (incview.progress): the refresh runs reported in shared memory, one row per backend.';
COMMENT ON FUNCTION incview.progress_row() IS
  'Internal: counts a rebuild''s rows for incview.progress as the query returns them; always true.';
COMMENT ON FUNCTION incview._wake_launcher() IS
  'Internal (the extension script): asks the launcher to start this database''s scheduler; returns whether the library is preloaded.';
COMMENT ON FUNCTION incview._selftest_throw(text) IS
  'Internal (tests): raises each kind of error through the entry guard, to show that a C++ exception becomes an ERROR, never a crash.';
COMMENT ON FUNCTION incview.capture() IS
  'Internal: the statement trigger on a source that queues the dirty scope keys of its stages.';
COMMENT ON FUNCTION incview.capture_citus() IS
  'Internal: the capture trigger on a Citus shard; keys wait on the worker until citus_drain.';
COMMENT ON FUNCTION incview.on_ddl_start() IS 'Internal: event trigger before DROP TABLE / DETACH / ATTACH PARTITION on sources: the stages get the keys of the rows that change without DML.';
COMMENT ON FUNCTION incview.on_ddl_end() IS 'Internal: event trigger after CREATE TABLE / ALTER TABLE: new partitions under a source become sources, with capture triggers.';
COMMENT ON FUNCTION incview.on_sql_drop() IS 'Internal: event trigger on DROP: relations that no longer exist leave incview.stage_source.';
COMMENT ON FUNCTION incview.on_stage_ddl_start() IS 'Internal: event trigger before ALTER TABLE: a stage table''s columns are changed with alter_stage, not by hand.';
COMMENT ON FUNCTION incview.on_stage_ddl_end() IS 'Internal: event trigger after renames and SET SCHEMA: stored queries and capture mappings follow the renamed objects.';
COMMENT ON FUNCTION incview.on_stage_drop() IS 'Internal: event trigger on DROP: a stage whose table or definition view was dropped goes with it.';
COMMENT ON FUNCTION incview.on_subscription_ddl() IS 'Internal: event trigger after CREATE SUBSCRIPTION: sources get the row trigger that captures under the apply worker.';
COMMENT ON VIEW incview.stages IS
  'One row per stage: engine, policy, status, dirty scopes, last refresh, next run (incview.due_at), lag, last error, capture and independence state.';
COMMENT ON VIEW incview.progress IS
  'Refreshes running now in this database: phase, batches, scopes and rows done of their totals, percent, elapsed.';

COMMENT ON FUNCTION incview.delta_queued(regclass) IS
  'Internal: whether a delta stage''s queue table (incview.delta_stage.queue) holds deltas; the scheduler''s due check. Returns boolean.';
COMMENT ON FUNCTION incview.delta_dirty_groups(integer) IS
  'The number of groups (scopes) a delta stage has deltas queued for, shown in incview.stages.dirty_scopes; 0 for other stages. Returns bigint.';

-- ==== delta engine: UNION ALL multi-maps and inner joins (issue 13) ====
-- A delta stage may read several sources (the branches of a UNION ALL, the sides of an inner
-- join): each source gets capture statements of its own, generated when the engine is turned
-- on (src/core/delta_plan.cpp, capture_source). pending_check: for a join, the other sides;
-- a statement whose trigger fires while one of them has a statement pending (a foreign-key
-- cascade, a data-modifying WITH writing both) queues an "every scope" marker instead of a
-- delta (src/pg/capture/capture.cpp, capture_delta). Readable by the extension owner only:
-- the statements embed the stage's definition.
CREATE TABLE incview.delta_capture (
  stage_id       integer NOT NULL REFERENCES incview.delta_stage (stage_id) ON DELETE CASCADE,
  source         regclass NOT NULL,
  capture_insert text NOT NULL,
  capture_update text NOT NULL,
  capture_delete text NOT NULL,
  pending_check  regclass[] NOT NULL DEFAULT '{}',
  -- a join's side other than the first table in FROM: its capture first takes the stage's
  -- queue in SHARE ROW EXCLUSIVE mode (docs/engines.md, "Joins: writers on several sides")
  waits_for_writers boolean NOT NULL DEFAULT false,
  PRIMARY KEY (stage_id, source)
);
REVOKE ALL ON incview.delta_capture FROM PUBLIC;
ALTER TABLE incview.delta_stage DROP COLUMN capture_insert, DROP COLUMN capture_update,
  DROP COLUMN capture_delete;

-- ==== delta engine operations: dump/restore, float re-derive (issue 13) ====
-- pg_dump/restore: a delta stage's queue table incview.delta_<id> is not a member of the
-- extension (pg_dump dumps it, its deltas and grants, like the stage's table), and
-- incview.delta_stage is a configuration table: a restored stage is a delta stage again,
-- with the deltas queued at dump time (test/scenario/dump_restore.sh).
SELECT pg_catalog.pg_extension_config_dump('incview.delta_stage', '');
-- and the capture statements of each of its sources (the join/UNION ALL block above)
SELECT pg_catalog.pg_extension_config_dump('incview.delta_capture', '');

-- Float drift (docs/engines.md, "Exactness"): for a stage with sum/avg over real/double
-- precision, the fold that also re-derives at most $1 groups folds have written
-- (DeltaPlan::rederive; NULL for other stages), the cadence set_rederive keeps, and when
-- the last complete re-derive ran.
ALTER TABLE incview.delta_stage ADD COLUMN rederive text;
ALTER TABLE incview.delta_stage ADD COLUMN rederive_every interval CHECK (rederive_every > interval '0');
ALTER TABLE incview.delta_stage ADD COLUMN last_rederive timestamptz;
-- The fold of the usual case (DeltaPlan::fold_fast): one UPDATE of the groups that exist and
-- stay, the other groups' deltas put back for the full fold in the same statement; NULL for
-- stages whose groups may need re-deriving (HAVING, min/max, numeric scale).
ALTER TABLE incview.delta_stage ADD COLUMN fold_fast text;
-- Direct capture of one-row statements (core/delta_direct.hpp): the queue row's parts, for a
-- single table without WHERE whose group keys and aggregate arguments are plain columns; such a
-- statement's row is built in C and appended without the capture statement. NULL: always the
-- statement.
ALTER TABLE incview.delta_capture ADD COLUMN direct text;
-- The fold of one queued row (DeltaPlan::fold_one): fold_fast's UPDATE of its group with the
-- row's partials as parameters, the row consumed by the refresh in the same transaction; NULL
-- where fold_fast is.
ALTER TABLE incview.delta_stage ADD COLUMN fold_one text;

CREATE FUNCTION incview.set_rederive(stage text, every interval)
RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'incview_set_rederive';
CREATE FUNCTION incview.rederive(stage text)
RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'incview_rederive';
COMMENT ON FUNCTION incview.set_rederive(text, interval) IS
  'Delta stages with sum/avg over real or double precision: background schedulers re-derive the groups folds wrote (float drift) every `every`; NULL turns it off (docs/engines.md). Returns nothing.';
COMMENT ON FUNCTION incview.rederive(text) IS
  'Re-derives now, from the source, every group of a delta stage folds wrote since it was derived (float drift); returns how many (docs/engines.md).';

-- ==== Architecture pass: one rule for the step loop (issue 15) ====
-- refresh_all COMMITs after every step, so its loop stays in PL/pgSQL; what a step does,
-- where the next one continues, whether an earlier failure stays visible and when the run
-- is over come from the C++ that incview.refresh and the scheduler's workers use
-- (src/pg/api/api_refresh_all.cpp, core/refresh_steps.hpp). The loop only carries the run
-- (NULL at the start, NULL again when it is over) from one transaction to the next.
CREATE FUNCTION incview._refresh_all_step(stage text, run jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE c AS 'MODULE_PATHNAME', 'incview_refresh_all_step';
COMMENT ON FUNCTION incview._refresh_all_step(text, jsonb) IS
  'Internal to refresh_all: one step of a refresh run of the stage (the caller must be allowed to refresh it); run is NULL at the start, returns the run to pass next, NULL when the run is over.';

CREATE OR REPLACE PROCEDURE incview.refresh_all()
LANGUAGE plpgsql AS $$
DECLARE
  s pg_catalog.text;
  run pg_catalog.jsonb;
BEGIN
  FOREACH s IN ARRAY incview.refresh_order() LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM incview.stage st
                              WHERE st.name OPERATOR(pg_catalog.=) s
                                AND pg_catalog.pg_has_role(st.owner, 'USAGE'));
    run := NULL;
    LOOP
      run := incview._refresh_all_step(s, run);
      COMMIT;
      EXIT WHEN run IS NULL;
    END LOOP;
  END LOOP;
END
$$;
-- ==== end of one rule for the step loop ====
