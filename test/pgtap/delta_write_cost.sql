-- Engine auto and the writers' cost of delta stages (issue 18): each delta stage captures on
-- its own on every write to its sources, where key-capturing stages share one change record.
-- auto chooses delta for at most kAutoDeltaStagesPerSource (1) stage per source; explicit
-- delta beyond it works (with a WARNING: sql/delta_write_cost.sql has the messages) and
-- incview.check reports the source. Decided at create_stage / set_engine only: dropping the
-- delta stage does not turn another one into delta (that would rebuild its table unasked).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET LOCAL client_min_messages = warning;
SET LOCAL incview.default_policy = manual;
SELECT plan(15);

CREATE FUNCTION pg_temp.deltas(pattern text) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(s.name, ',' ORDER BY s.name), '') FROM incview.delta_stage d
  JOIN incview.stage s ON s.id = d.stage_id WHERE s.name LIKE pattern $$;

CREATE TABLE big (id serial PRIMARY KEY, k int NOT NULL, v int NOT NULL);
INSERT INTO big (k, v) SELECT g % 4, g FROM generate_series(1, 4000) g;
ANALYZE big;
CREATE TABLE other (id serial PRIMARY KEY, k int NOT NULL, v int NOT NULL);
INSERT INTO other (k, v) SELECT g % 4, g FROM generate_series(1, 4000) g;
ANALYZE other;

-- Many default-engine stages on one large source: exactly one delta stage.
SELECT count(incview.create_stage('b' || i, format('SELECT k, sum(v) AS s%s, count(*) AS n FROM big GROUP BY k', i),
                                  ARRAY['k'])) FROM generate_series(1, 20) i;
SELECT is(pg_temp.deltas('b%'), 'b1', '20 auto stages on a large source: only the first is delta');
SELECT is((SELECT count(*) FROM incview.stage WHERE name LIKE 'b%' AND engine = 'auto'), 20::bigint,
          'every one keeps engine auto');
SELECT is((SELECT count(*) FROM incview.check('b1') WHERE risk = 'write cost'), 0::bigint,
          'one delta stage on a source: no write-cost risk');

-- set_engine(…, 'auto') on the source's one delta stage keeps it (it used to turn it off).
SELECT incview.set_engine('b1', 'auto');
SELECT is(pg_temp.deltas('b%'), 'b1', 'set_engine auto on the delta stage: still delta');

-- Another source has its own room.
SELECT incview.create_stage('o1', 'SELECT k, sum(v) AS s FROM other GROUP BY k', ARRAY['k']);
SELECT is(pg_temp.deltas('o%'), 'o1', 'another source: its first auto stage is delta');
-- A stage reading both (UNION ALL): each source has its delta stage already.
SELECT incview.create_stage('u1', 'SELECT k, sum(v) AS s FROM (SELECT k, v FROM big UNION ALL SELECT k, v FROM other) x GROUP BY k', ARRAY['k']);
SELECT is(pg_temp.deltas('u%'), '', 'a stage on two busy sources: not delta');

-- Explicit delta beyond the bound: works, and check says what it costs.
SELECT incview.set_engine('b2', 'delta');
SELECT is(pg_temp.deltas('b%'), 'b1,b2', 'set_engine delta forces it on a busy source');
SELECT is((SELECT engine FROM incview.stage WHERE name = 'b2'), 'delta', 'engine delta recorded');
SELECT is((SELECT count(*) FROM incview.check('b3') WHERE risk = 'write cost' AND detail LIKE '%big has 2 delta stages: %'),
          1::bigint, 'check: any stage on the source reports its 2 delta stages');
SELECT incview.create_stage('b_forced', 'SELECT k, min(v) AS lo FROM big GROUP BY k', ARRAY['k'], engine => 'delta');
SELECT is(pg_temp.deltas('b%'), 'b1,b2,b_forced', 'create_stage engine => delta forces it too');
INSERT INTO big (k, v) VALUES (1, 1), (2, 2);
SELECT is((SELECT count(*) FROM incview.stage s, incview.refresh(s.name) r WHERE s.name LIKE 'b%'),
          21::bigint, 'the stages refresh');
SELECT is((SELECT count(*) FROM incview.stage s, incview.verify(s.name) v WHERE s.name LIKE 'b%' AND v.missing + v.extra > 0),
          0::bigint, 'every stage on the source equals its query');

-- Back to auto: the source is busy, so auto declines and the stage captures keys again.
SELECT incview.set_engine('b2', 'auto');
SELECT incview.set_engine('b_forced', 'replace');
SELECT is(pg_temp.deltas('b%'), 'b1', 'set_engine auto on a busy source: not delta');
-- Dropping the delta stage changes no other stage's engine (decided at create / set_engine).
SELECT incview.drop_stage('b1');
SELECT is(pg_temp.deltas('b%'), '', 'drop_stage of the delta stage: the others stay as they are');
SELECT incview.set_engine('b3', 'auto');
SELECT is(pg_temp.deltas('b%'), 'b3', 'set_engine auto once the source has room: delta again');

SELECT * FROM finish();
ROLLBACK;
