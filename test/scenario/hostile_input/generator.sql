-- The hostile-input generator (test/scenario/hostile_input.sh drives it).
--
-- fuzz.calls(seed, n) lists the calls to make: for every function of the extension (found
-- through pg_depend, so a new function is covered without touching this file) one call with
-- plausible arguments, then the same call with NULL in each position in turn, then n calls
-- with random arguments. Arguments come from pools of SQL expressions chosen by parameter
-- name (stage, query, keys, ...) or, for a parameter name this file does not know, by type.
-- setseed(seed) makes the list the same on every run: a failure is reproduced with its seed.
--
-- fuzz.snapshot() is the state a failing call must not change (the incview catalog, pg_class,
-- pg_trigger); fuzz.after_call() records one call's outcome with what it changed, broke
-- (fuzz.invariants) or leaked into the session (fuzz.session_leaks).

-- ---------------------------------------------------------------------------------- pools
CREATE TABLE fuzz.pool (pool text NOT NULL, ord int NOT NULL, expr text NOT NULL, PRIMARY KEY (pool, ord));

CREATE FUNCTION fuzz.add_pool(p text, VARIADIC exprs text[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO fuzz.pool SELECT p, o, e FROM unnest(exprs) WITH ORDINALITY AS u(e, o);
$$;

-- Each pool starts with plausible values (the first is the baseline of the NULL sweep) and
-- goes on to the hostile ones; random picks favour the head (see fuzz.calls).
SELECT fuzz.add_pool('stage',
  $$'st_plain'$$, $$'St "Quoted"'$$, $$'st_part'$$, $$'st_ret'$$, $$'st_on_stage'$$, $$'user_stage'$$,
  $$'fz_new'$$, $$'Fz New'$$, $$'fz.dot'$$, $$'no_such_stage'$$, $$''$$, $$' '$$, $$'public.st_plain'$$,
  $$'"st_plain"'$$, $$'ST_PLAIN'$$, $$'a''b; DROP TABLE src_a; --'$$, $$E'tab\there'$$, $$'ünï ☃'$$,
  $$repeat('n', 63)$$, $$repeat('n', 64)$$, $$repeat('x', 100000)$$, $$'%s%n%d'$$, $$'\'$$, $$'$1'$$);

-- Stages of one storage kind first, for the functions about that kind.
SELECT fuzz.add_pool('partitioned_stage', $$'st_part'$$);
INSERT INTO fuzz.pool SELECT 'partitioned_stage', 1 + ord, expr FROM fuzz.pool WHERE pool = 'stage';
SELECT fuzz.add_pool('retention_stage', $$'st_ret'$$);
INSERT INTO fuzz.pool SELECT 'retention_stage', 1 + ord, expr FROM fuzz.pool WHERE pool = 'stage';

-- Names for a new stage: free ones first, then every name of the 'stage' pool.
SELECT fuzz.add_pool('new_stage', $$'fz_new'$$, $$'Fz New'$$, $$'fz.dot'$$, $$'fz_two'$$, $$'FZ "3"'$$);
INSERT INTO fuzz.pool SELECT 'new_stage', 5 + ord, expr FROM fuzz.pool WHERE pool = 'stage';

SELECT fuzz.add_pool('query',
  $$'SELECT grp, count(*) AS n FROM src_a GROUP BY grp'$$,
  $$'SELECT id, grp, val FROM src_a WHERE val > 10 ORDER BY id LIMIT 50 OFFSET 2'$$,
  $$'SELECT grp, sum(val) AS s FROM src_a GROUP BY grp HAVING count(*) > 1'$$,
  $$'SELECT DISTINCT grp FROM src_a'$$,
  $$'SELECT DISTINCT ON (grp) grp, id FROM src_a ORDER BY grp, id DESC'$$,
  $$'SELECT grp, id, row_number() OVER (PARTITION BY grp ORDER BY id) AS rn FROM src_a'$$,
  $$'SELECT grp, id, sum(val) OVER w AS run FROM src_a WINDOW w AS (PARTITION BY grp ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)'$$,
  $$'WITH t AS (SELECT grp, val FROM src_a) SELECT grp, max(val) AS m FROM t GROUP BY grp'$$,
  $$'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n AS grp FROM r'$$,
  $$'SELECT grp, id FROM src_a UNION ALL SELECT grp, id FROM user_src'$$,
  $$'SELECT grp FROM src_a INTERSECT SELECT grp FROM user_src'$$,
  $$'SELECT grp FROM src_a EXCEPT SELECT grp FROM user_src'$$,
  $$'SELECT a.grp, l.n FROM src_a a CROSS JOIN LATERAL (SELECT count(*) AS n FROM user_src u WHERE u.grp = a.grp) l'$$,
  $$'SELECT a.grp, b."Id" FROM src_a a LEFT JOIN "Src B" b ON b."Id" = a.grp'$$,
  $$'SELECT grp, (SELECT max(id) FROM user_src u WHERE u.grp = a.grp) AS m FROM src_a a'$$,
  $$'SELECT grp, count(*) FILTER (WHERE val > 5) AS n FROM src_a GROUP BY GROUPING SETS ((grp), ())'$$,
  $$'SELECT grp, id FROM src_a ORDER BY grp FETCH FIRST 3 ROWS WITH TIES'$$,
  $$'SELECT grp, id FROM src_a TABLESAMPLE SYSTEM (50)'$$,
  $$'SELECT grp, random() AS r FROM src_a'$$,
  $$'SELECT grp, now() AS t FROM src_a'$$,
  $$'SELECT grp, nextval(''seq_a'') AS n FROM src_a'$$,
  $$'SELECT id, grp FROM v_a'$$, $$'SELECT id, grp FROM mv_a'$$,
  $$'SELECT id, doc, pt FROM jsrc'$$, $$'SELECT id AS grp, doc FROM jsrc'$$,
  $$'SELECT g AS grp FROM generate_series(1, 3) g'$$, $$'VALUES (1, 2)'$$,
  $$'SELECT 1 AS grp'$$, $$'SELECT'$$, $$'SELECT grp, grp FROM src_a'$$, $$'SELECT grp, 1 FROM src_a'$$,
  $$'SELECT relname AS grp FROM pg_class'$$, $$'SELECT grp FROM src_a FOR UPDATE'$$,
  $$'SELECT * FROM src_a'$$, $$'SELECT region, id, amount FROM src_part'$$,
  $$'SELECT id, at, kind FROM events'$$, $$'SELECT "Id", "weird col", "a""b" FROM "Src B"'$$,
  $$'SELECT grp, n FROM st_plain'$$, $$'SELECT grp FROM no_such_table'$$, $$'SELECT no_such_col FROM src_a'$$,
  $$'SELECT grp FROM src_a WHERE id = $1'$$, $$'SELECT 1/0 AS grp'$$,
  $$'INSERT INTO src_a VALUES (-1, 1) RETURNING grp'$$, $$'UPDATE src_a SET val = 0 RETURNING grp'$$,
  $$'DROP TABLE src_a'$$, $$'SELECT 1; SELECT 2'$$, $$'SELECT 1 AS grp; DROP TABLE src_a'$$,
  $$'-- only a comment'$$, $$''$$, $$' '$$, $$'SELEC grp FROM src_a'$$, $$'SELECT grp FROM src_a)'$$,
  $$'SELECT grp FROM src_a WHERE'$$, $$'(SELECT grp FROM src_a)'$$, $$'TABLE src_a'$$,
  $$'SELECT grp INTO fz_into FROM src_a'$$, $$'EXPLAIN SELECT grp FROM src_a'$$,
  $$'SELECT pg_sleep(0) AS grp'$$,
  $$'SELECT grp FROM pg_temp.nothing'$$, $$'SELECT ' || repeat('grp + ', 5000) || '1 AS grp FROM src_a'$$,
  $$'SELECT grp FROM src_a' || repeat(' ', 100000)$$, $$repeat('x', 100000)$$,
  $$'SELECT ' || string_agg('1 AS c' || g, ', ') || ' FROM src_a' FROM generate_series(1, 1700) g$$);

SELECT fuzz.add_pool('columns',
  $$ARRAY['grp']$$, $$ARRAY['id']$$, $$ARRAY['Id']$$, $$ARRAY['region']$$, $$ARRAY['grp', 'id']$$,
  $$'{}'::text[]$$, $$ARRAY[NULL]::text[]$$, $$ARRAY['grp', NULL]$$, $$ARRAY['']$$, $$ARRAY['grp', 'grp']$$,
  $$ARRAY['GRP']$$, $$ARRAY['"grp"']$$, $$ARRAY['no_such_col']$$, $$ARRAY['weird col']$$, $$ARRAY['a"b']$$,
  $$ARRAY['Count (*)']$$, $$ARRAY['doc']$$, $$ARRAY['pt']$$, $$ARRAY['grp; DROP TABLE src_a']$$,
  $$ARRAY[repeat('c', 100000)]$$, $$(SELECT array_agg('c' || g) FROM generate_series(1, 2000) g)$$,
  $$'{{grp},{id}}'::text[]$$, $$'[0:0]={grp}'::text[]$$);

SELECT fuzz.add_pool('target',
  $$NULL$$, $$'fz_target'$$, $$'public.fz_target2'$$, $$'"Fz Target"'$$, $$'no_such_schema.t'$$, $$'src_a'$$,
  $$'st_plain'$$, $$'pg_catalog.pg_fz'$$, $$'pg_temp.fz_tmp'$$, $$'a.b.c'$$, $$''$$, $$'.'$$, $$'"'$$,
  $$'incview.stage'$$, $$'fuzz.x'$$, $$repeat('t', 100)$$, $$repeat('t', 100000)$$);

SELECT fuzz.add_pool('bool', $$true$$, $$false$$);

SELECT fuzz.add_pool('engine',
  $$'auto'$$, $$'replace'$$, $$'diff'$$, $$'full'$$, $$'AUTO'$$, $$''$$, $$'bogus'$$, $$' auto'$$, $$repeat('e', 100000)$$);

SELECT fuzz.add_pool('partition_by',
  $$NULL$$, $$'list (grp)'$$, $$'hash (grp) 4'$$, $$'range (created_at) 1 month'$$, $$'range (id) 100'$$,
  $$'hash (grp) 0'$$, $$'hash (grp) -3'$$, $$'hash (grp) 99999999999999999999'$$, $$'hash (grp)'$$,
  $$'range (created_at) -1 month'$$, $$'range (created_at) 0 days'$$, $$'range (created_at) banana'$$,
  $$'range (id) 0'$$, $$'range (id) -5'$$, $$'range (id) 1e400'$$, $$'range (created_at) 1 microsecond'$$,
  $$'list ()'$$, $$'list (no_such_col)'$$, $$'list ("grp")'$$, $$'list (grp, id)'$$, $$'list grp'$$,
  $$'LIST (grp)'$$, $$'tree (grp)'$$, $$''$$, $$'('$$, $$')'$$, $$'list ((grp)'$$, $$repeat('list (', 10000)$$);

SELECT fuzz.add_pool('indexes',
  $$NULL$$, $$ARRAY['(n)']$$, $$'{}'::text[]$$, $$ARRAY[NULL]::text[]$$, $$ARRAY['']$$, $$ARRAY['btree (n)']$$,
  $$ARRAY['(no_such_col)']$$, $$ARRAY['(n); DROP TABLE src_a']$$, $$ARRAY['USING gin (n)']$$,
  $$ARRAY['(n) WHERE n > 0', '(grp, n)']$$, $$ARRAY['((n + 1))']$$, $$ARRAY['(random())']$$);

SELECT fuzz.add_pool('keys',
  $$'[1]'::jsonb$$, $$'[{"grp": 1}]'::jsonb$$, $$'[]'::jsonb$$, $$'{}'::jsonb$$, $$'null'::jsonb$$,
  $$'[null]'::jsonb$$, $$'1'::jsonb$$, $$'"x"'::jsonb$$, $$'true'::jsonb$$, $$'[[1]]'::jsonb$$,
  $$'[[1, 2]]'::jsonb$$, $$'[{}]'::jsonb$$, $$'[{"no_such": 1}]'::jsonb$$, $$'[{"grp": null}]'::jsonb$$,
  $$'[{"grp": 1, "extra": 2}]'::jsonb$$, $$'[{"grp": [1, 2]}]'::jsonb$$, $$'[{"grp": {"a": 1}}]'::jsonb$$,
  $$'[1.5]'::jsonb$$, $$'[1e300]'::jsonb$$, $$'[-99999999999999999999]'::jsonb$$, $$'["eu"]'::jsonb$$,
  $$'["1"]'::jsonb$$, $$'[true]'::jsonb$$, $$'[{"Id": 1}]'::jsonb$$, $$'[{"region": "eu"}]'::jsonb$$,
  $$'[[1, "a", null]]'::jsonb$$, $$'{"grp": 1}'::jsonb$$, $$'[{"grp": "x"}]'::jsonb$$,
  $$(SELECT jsonb_agg(g) FROM generate_series(1, 20000) g)$$, $$(SELECT jsonb_agg(jsonb_build_object('grp', g)) FROM generate_series(1, 5000) g)$$,
  $$(repeat('[', 3000) || repeat(']', 3000))::jsonb$$, $$jsonb_build_array(repeat('k', 100000))$$);

SELECT fuzz.add_pool('condition',
  $$'grp = 1'$$, $$'true'$$, $$'false'$$, $$'NULL'$$, $$''$$, $$' '$$, $$'no_such_col > 1'$$, $$'1/0 = 1'$$,
  $$'true; DROP TABLE src_a'$$, $$'grp = 1) OR (true'$$, $$'grp IN (SELECT grp FROM src_a)'$$,
  $$'n > 0 -- comment'$$, $$'grp = $1'$$, $$'count(*) > 1'$$, $$'random() < 0.5'$$, $$'"Id" = 1'$$,
  $$'region = ''eu'''$$, $$'1'$$, $$'grp'$$, $$repeat('x', 100000)$$, $$'pg_sleep(0) IS NOT NULL'$$);

SELECT fuzz.add_pool('mapping',
  $$'SELECT changed.grp FROM changed'$$, $$NULL$$, $$'SELECT grp FROM changed'$$, $$'SELECT 1'$$,
  $$'SELECT grp, grp FROM changed'$$, $$'SELECT no_such FROM changed'$$, $$''$$, $$'changed'$$,
  $$'DELETE FROM src_a RETURNING grp'$$, $$'SELECT grp FROM changed; DROP TABLE src_a'$$,
  $$'SELECT u.grp FROM user_src u JOIN changed c ON c.id = u.id'$$, $$'SELECT "Id" FROM changed'$$,
  $$'SELECT region FROM changed'$$, $$'SELECT NULL::int AS grp FROM changed'$$, $$'SELECT 1/0 FROM changed'$$,
  $$repeat('m', 100000)$$);

SELECT fuzz.add_pool('source',
  $$'src_a'::regclass$$, $$'"Src B"'::regclass$$, $$'src_part'::regclass$$, $$'src_part_eu'::regclass$$,
  $$'events'::regclass$$, $$'user_src'::regclass$$, $$'v_a'::regclass$$, $$'seq_a'::regclass$$,
  $$'mv_a'::regclass$$, $$'jsrc'::regclass$$, $$'pg_class'::regclass$$, $$'incview.stage'::regclass$$,
  $$'incview.dirty_scope'::regclass$$, $$0::oid::regclass$$, $$4294967295::oid::regclass$$,
  $$'src_a_pkey'::regclass$$, $$(SELECT target FROM incview.stage ORDER BY id LIMIT 1)$$,
  $$'st_plain'::regclass$$, $$'st_on_stage'::regclass$$, $$'user_stage'::regclass$$,
  $$'no_such_table'::regclass$$);

SELECT fuzz.add_pool('interval',
  $$'7 days'::interval$$, $$'1 hour'::interval$$, $$'0'::interval$$, $$'-1 day'::interval$$,
  $$'1 microsecond'::interval$$, $$'1 mon -30 days'::interval$$, $$'178000000 years'::interval$$,
  $$'-178000000 years'::interval$$, $$'1 banana'::interval$$, $$'2147483647 days'::interval$$, $$'P1Y2M'::interval$$);

SELECT fuzz.add_pool('time', $$'03:00'::time$$, $$'00:00'::time$$, $$'24:00'::time$$,
  $$'23:59:59.999999'::time$$, $$'25:00'::time$$);

SELECT fuzz.add_pool('policy_mode',
  $$'manual'$$, $$'continuous'$$, $$'interval'$$, $$'daily'$$, $$'MANUAL'$$, $$''$$, $$'sometimes'$$, $$repeat('p', 100000)$$);

SELECT fuzz.add_pool('retention_column',
  $$'at'$$, $$'created_at'$$, $$'id'$$, $$'kind'$$, $$'no_such_col'$$, $$''$$, $$'"at"'$$, $$'AT'$$, $$repeat('c', 100000)$$);

SELECT fuzz.add_pool('partition_value',
  $$'eu'$$, $$'us'$$, $$'asia'$$, $$''$$, $$'NULL'$$, $$'1'$$, $$'eu'' OR ''1''=''1'$$, $$repeat('v', 100000)$$);

SELECT fuzz.add_pool('index_definition',
  $$'(n)'$$, $$'btree (grp, n)'$$, $$'USING hash (n)'$$, $$'(no_such_col)'$$, $$''$$, $$'(n)) ; DROP TABLE src_a; --'$$,
  $$'((n * 2))'$$, $$'(n) WHERE n > 1'$$, $$'(n) INCLUDE (grp)'$$, $$'UNIQUE (n)'$$, $$'(random())'$$, $$repeat('(', 10000)$$);

SELECT fuzz.add_pool('index_name',
  $$(SELECT i.index_name FROM incview.stage_index i JOIN incview.stage s ON s.id = i.stage_id
     WHERE s.name = 'st_plain' ORDER BY 1 LIMIT 1)$$, $$'st_plain_n_idx'$$, $$'no_such_index'$$, $$''$$, $$'src_a_pkey'$$, $$'pg_class_oid_index'$$,
  $$'"Quoted Idx"'$$, $$'public.st_plain_n_idx'$$, $$repeat('i', 100000)$$);

SELECT fuzz.add_pool('selftest_kind',
  $$'pg'$$, $$'incview'$$, $$'bad_alloc'$$, $$'std'$$, $$'unknown'$$, $$''$$, $$'nothing'$$);

SELECT fuzz.add_pool('int', $$1$$, $$0$$, $$-1$$, $$2147483647$$, $$-2147483648$$, $$(SELECT max(id) FROM incview.stage)$$);

-- Parameter name -> pool. A parameter not listed here draws from the pool of its type
-- ('type:' || format_type), so a new function still gets hostile arguments.
CREATE TABLE fuzz.param_pool (fn text NOT NULL DEFAULT '', param text, pool text NOT NULL, PRIMARY KEY (fn, param));
INSERT INTO fuzz.param_pool (fn, param, pool) VALUES
  ('create_stage', 'name', 'new_stage'), ('create_stage_concurrently', 'name', 'new_stage'),
  ('rebuild_partition', 'stage', 'partitioned_stage'), ('set_retention', 'stage', 'retention_stage'),
  ('apply_retention', 'stage', 'retention_stage');
INSERT INTO fuzz.param_pool (param, pool) VALUES
  ('stage', 'stage'), ('name', 'stage'), ('query', 'query'), ('read_query', 'query'),
  ('scope', 'columns'), ('unique_key', 'columns'), ('target', 'target'), ('populate', 'bool'),
  ('cascade', 'bool'), ('independent', 'bool'), ('engine', 'engine'), ('partition_by', 'partition_by'),
  ('indexes', 'indexes'), ('keys', 'keys'), ('after', 'keys'), ('condition', 'condition'),
  ('mapping', 'mapping'), ('source', 'source'), ('keep', 'interval'), ('every', 'interval'),
  ('max_lag', 'interval'), ('at', 'time'), ('mode', 'policy_mode'), ('column', 'retention_column'),
  ('value', 'partition_value'), ('definition', 'index_definition'), ('index_name', 'index_name'),
  ('kind', 'selftest_kind'), ('stage_id', 'int');

-- Type pools: every pool of that type, so an unknown text parameter gets names, queries,
-- conditions and huge strings alike.
INSERT INTO fuzz.pool
SELECT 'type:' || t.typ, row_number() OVER (PARTITION BY t.typ ORDER BY p.pool, p.ord), p.expr
FROM fuzz.pool p
JOIN (VALUES ('text', 'stage'), ('text', 'query'), ('text', 'condition'), ('text', 'engine'),
             ('text', 'partition_value'), ('text[]', 'columns'), ('text[]', 'indexes'), ('jsonb', 'keys'),
             ('interval', 'interval'), ('boolean', 'bool'), ('regclass', 'source'),
             ('time without time zone', 'time'), ('integer', 'int'), ('bigint', 'int'),
             ('json', 'keys')) AS t(typ, pool) ON t.pool = p.pool;

-- ---------------------------------------------------------------------------------- functions
-- Every function and procedure of the extension, with how to call it.
CREATE VIEW fuzz.target_function AS
SELECT p.oid, p.proname::text AS name, p.prokind, p.proretset,
       format_type(p.prorettype, NULL) AS rettype, p.pronargs::int AS nargs,
       p.pronargdefaults::int AS ndefaults,
       ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, o) ORDER BY o) AS argtypes,
       coalesce(p.proargnames, '{}')::text[] AS argnames, p.proargmodes::text[] AS argmodes
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
WHERE e.extname = 'pg_incview';

-- Input parameter i (1-based) of f: (name, type).
CREATE FUNCTION fuzz.input_param(f fuzz.target_function, i int, OUT pname text, OUT ptype text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  k int := 0;
BEGIN
  ptype := f.argtypes[i];
  pname := NULL;
  IF f.argmodes IS NULL THEN pname := f.argnames[i]; RETURN; END IF;
  FOR j IN 1 .. array_length(f.argmodes, 1) LOOP   -- skip OUT parameters
    IF f.argmodes[j] IN ('i', 'b', 'v') THEN
      k := k + 1;
      IF k = i THEN pname := f.argnames[j]; RETURN; END IF;
    END IF;
  END LOOP;
END $$;

CREATE FUNCTION fuzz.pool_for(fname text, pname text, ptype text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT pool FROM fuzz.param_pool WHERE fn = fname AND param = pname),
                  (SELECT pool FROM fuzz.param_pool WHERE fn = '' AND param = pname),
                  'type:' || ptype);
$$;

-- The n-th expression of a pool (1-based), NULL when the pool is empty or n is out of range.
CREATE FUNCTION fuzz.pick(p text, n int) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT expr FROM fuzz.pool WHERE pool = p AND ord = n;
$$;
CREATE FUNCTION fuzz.pool_size(p text) RETURNS int LANGUAGE sql STABLE AS $$
  SELECT count(*)::int FROM fuzz.pool WHERE pool = p;
$$;

-- The SQL text of one call.
CREATE FUNCTION fuzz.call_text(f fuzz.target_function, args text[]) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  list text := '';
  ptype text;
BEGIN
  FOR i IN 1 .. coalesce(array_length(args, 1), 0) LOOP
    ptype := (fuzz.input_param(f, i)).ptype;
    list := list || CASE WHEN i > 1 THEN ', ' ELSE '' END || '(' || args[i] || ')::' || ptype;
  END LOOP;
  IF f.prokind = 'p' THEN
    RETURN format('CALL incview.%I(%s)', f.name, list);
  ELSIF f.proretset OR f.rettype = 'record' THEN
    RETURN format('SELECT * FROM incview.%I(%s)', f.name, list);
  END IF;
  RETURN format('SELECT incview.%I(%s)', f.name, list);
END $$;

-- The calls: (id, function, as_user, sql). Setup steps (function NULL) re-create dropped
-- fixture stages (every 100 random calls also dropping the others) and write to the
-- sources: after each systematic call and every 25 random calls.
CREATE FUNCTION fuzz.calls(seed float8, n int)
RETURNS TABLE (id int, fn text, as_user boolean, sql text) LANGUAGE plpgsql AS $$
DECLARE
  f fuzz.target_function;
  args text[];
  p text;
  nargs int;
  k int := 0;
  fns fuzz.target_function[];
BEGIN
  PERFORM setseed(seed);
  SELECT array_agg(t ORDER BY t.name, t.argtypes::text) INTO fns FROM fuzz.target_function t;
  -- 1. Plausible arguments, then NULL in each position in turn.
  FOREACH f IN ARRAY fns LOOP
    args := '{}';
    FOR i IN 1 .. f.nargs LOOP
      p := fuzz.pool_for(f.name, (fuzz.input_param(f, i)).pname, (fuzz.input_param(f, i)).ptype);
      args := args || coalesce(fuzz.pick(p, 1), 'NULL');
    END LOOP;
    -- (each followed by a reset: the NULL in position i meets the same state as the baseline)
    FOR i IN 0 .. f.nargs LOOP
      k := k + 1; id := k; fn := f.name; as_user := false;
      sql := fuzz.call_text(f, CASE WHEN i = 0 THEN args ELSE args[1:i - 1] || ARRAY['NULL'] || args[i + 1:] END);
      RETURN NEXT;
      k := k + 1; id := k; fn := NULL; as_user := false;
      sql := format('SELECT fuzz.reset_stages(), fuzz.write_sources(%s)', k); RETURN NEXT;
    END LOOP;
  END LOOP;
  -- 2. Random calls: a random function, a random number of its defaulted arguments, each
  --    argument NULL (1 in 8), else from its parameter's pool (3 in 4) or its type's pool.
  FOR c IN 1 .. n LOOP
    IF c % 25 = 1 THEN
      k := k + 1; id := k; fn := NULL; as_user := false;
      sql := format('SELECT fuzz.%s(), fuzz.write_sources(%s)',
                    CASE WHEN c % 100 = 1 THEN 'reset_stages' ELSE 'ensure_stages' END, c);
      RETURN NEXT;
    END IF;
    f := fns[1 + floor(random() * array_length(fns, 1))::int];
    nargs := f.nargs - floor(random() * (f.ndefaults + 1))::int;
    args := '{}';
    FOR i IN 1 .. nargs LOOP
      IF random() < 0.125 THEN
        args := args || 'NULL'::text;
        CONTINUE;
      END IF;
      IF random() < 0.75 THEN
        p := fuzz.pool_for(f.name, (fuzz.input_param(f, i)).pname, (fuzz.input_param(f, i)).ptype);
      ELSE
        p := 'type:' || (fuzz.input_param(f, i)).ptype;
      END IF;
      -- random()^2 favours the head of a pool, where the plausible values are: calls get past
      -- the argument checks often enough to reach refreshes, retention and partitions.
      args := args || coalesce(fuzz.pick(p, 1 + floor(random() ^ 2 * greatest(fuzz.pool_size(p), 1))::int), 'NULL');
    END LOOP;
    k := k + 1; id := k; fn := f.name; as_user := random() < 0.15;
    sql := fuzz.call_text(f, args); RETURN NEXT;
  END LOOP;
END $$;

-- ---------------------------------------------------------------------------------- checks
-- What a failing call must leave as it was: the incview catalog (every table of the
-- extension's schema, whole rows), relations (pg_class) and triggers (pg_trigger).
CREATE FUNCTION fuzz.snapshot() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  t regclass;
  acc text := '';
  part text;
BEGIN
  FOR t IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'incview' AND c.relkind = 'r' ORDER BY c.relname LOOP
    EXECUTE format('SELECT coalesce(md5(string_agg(x::text, %L ORDER BY x::text)), %L) FROM %s x', E'\n', '-', t)
      INTO part;
    acc := acc || t::text || ':' || part || ' ';
  END LOOP;
  SELECT acc || md5(coalesce(string_agg(format('%s %s %s %s', c.oid, c.relname, c.relnamespace, c.relkind), ',' ORDER BY c.oid), ''))
    INTO acc
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%';
  SELECT acc || ' ' || md5(coalesce(string_agg(format('%s %s %s %s %s', t.oid, t.tgrelid, t.tgname, t.tgenabled, t.tgfoid), ',' ORDER BY t.oid), ''))
    INTO acc FROM pg_trigger t;
  RETURN acc;
END $$;

-- Which stages each stage feeds, directly or through others (a cycle reaches its start).
CREATE VIEW fuzz.stage_reach AS
WITH RECURSIVE edge AS (
  SELECT u.id AS up, ss.stage_id AS down
  FROM incview.stage_source ss JOIN incview.stage u ON u.target = ss.source
), reach(start, reached, depth) AS (
  SELECT up, down, 1 FROM edge
  UNION
  SELECT r.start, e.down, r.depth + 1 FROM reach r JOIN edge e ON e.up = r.reached WHERE r.depth < 50
)
SELECT DISTINCT start, reached FROM reach;

-- What must hold after every call, failed or not: no stage half-made or half-dropped.
CREATE FUNCTION fuzz.invariants() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(v, '; ') FROM (
    SELECT format('stage %s: target %s is gone', s.name, s.target::oid) AS v
    FROM incview.stage s WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.target)
    UNION ALL
    SELECT format('stage %s: no stage_state row', s.name)
    FROM incview.stage s WHERE NOT EXISTS (SELECT 1 FROM incview.stage_state st WHERE st.stage_id = s.id)
    UNION ALL
    SELECT format('stage %s: source %s is gone', s.name, ss.source::oid)
    FROM incview.stage_source ss JOIN incview.stage s ON s.id = ss.stage_id
    WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = ss.source)
    UNION ALL
    SELECT format('stage %s: capture of %s is off', s.name, incview.capture_off(s.id))
    FROM incview.stage s WHERE incview.capture_off(s.id) IS NOT NULL
    UNION ALL
    SELECT format('stage %s: index %s is not on its table', s.name, i.index_name)
    FROM incview.stage_index i JOIN incview.stage s ON s.id = i.stage_id
    WHERE NOT EXISTS (SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
                      WHERE c.relname = i.index_name
                        AND (x.indrelid = s.target OR x.indrelid IN (SELECT relid FROM pg_partition_tree(s.target))))
    UNION ALL
    SELECT DISTINCT format('stage %s reads its own table, directly or through other stages', s.name)
    FROM fuzz.stage_reach r JOIN incview.stage s ON s.id = r.start WHERE r.start = r.reached
    UNION ALL
    SELECT format('dirty keys of a stage that does not exist (id %s)', q.stage_id)
    FROM (SELECT DISTINCT stage_id FROM incview.dirty_scope) q
    WHERE NOT EXISTS (SELECT 1 FROM incview.stage s WHERE s.id = q.stage_id)
    UNION ALL
    SELECT format('capture trigger %s on %s, which no stage reads', t.tgname, t.tgrelid::regclass)
    FROM pg_trigger t
    WHERE t.tgfoid = 'incview.capture()'::regprocedure
      AND NOT EXISTS (SELECT 1 FROM incview.stage_source ss
                      WHERE ss.source = t.tgrelid   -- or an ancestor of this partition
                         OR ss.source IN (SELECT relid FROM pg_partition_ancestors(t.tgrelid)))
  ) x;
$$;

-- Session state a call must not leave behind (the connection lives on).
CREATE FUNCTION fuzz.session_leaks(expected_path text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(v, '; ') FROM (
    SELECT 'current_user is ' || current_user AS v WHERE current_user <> session_user
    UNION ALL
    SELECT 'search_path is ' || current_setting('search_path') WHERE current_setting('search_path') <> expected_path
    UNION ALL
    SELECT count(*) || ' advisory locks held' FROM pg_locks
    WHERE pid = pg_backend_pid() AND locktype = 'advisory' HAVING count(*) > 0
  ) x;
$$;

CREATE TABLE fuzz.call (id int PRIMARY KEY, fn text, as_user boolean NOT NULL, sql text NOT NULL);

CREATE TABLE fuzz.result (
  id        int PRIMARY KEY REFERENCES fuzz.call,
  sqlstate  text NOT NULL,       -- 00000: succeeded; CRASH: the connection was lost
  message   text,
  changed   boolean,             -- a failed call changed the snapshot
  broken    text,                -- fuzz.invariants() after the call
  leaked    text                 -- fuzz.session_leaks() after the call
);

CREATE FUNCTION fuzz.after_call(call_id int, state text, before text, message text, expected_path text)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO fuzz.result
  SELECT call_id, state, CASE WHEN state <> '00000' THEN left(message, 500) END,
         state <> '00000' AND fuzz.snapshot() IS DISTINCT FROM before,
         fuzz.invariants(), fuzz.session_leaks(expected_path);
$$;

-- The psql script that makes the calls from first_id on: each call in its own transaction
-- (autocommit), between a snapshot and fuzz.after_call. Setup steps are ordinary calls.
CREATE FUNCTION fuzz.script(first_id int) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT format(E'\\set id %s\nSELECT fuzz.snapshot() AS before \\gset\n%s%s;\n\\set state :SQLSTATE\n%s'
                'SELECT fuzz.after_call(:id, :''state'', :''before'', :''LAST_ERROR_MESSAGE'', :''path'');',
                c.id, CASE WHEN c.as_user THEN E'SET ROLE incview_fuzz_user;\n' ELSE '' END, c.sql,
                CASE WHEN c.as_user THEN E'RESET ROLE;\n' ELSE '' END)
  FROM fuzz.call c WHERE c.id >= first_id ORDER BY c.id;
$$;
