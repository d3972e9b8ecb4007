-- Scope independence (issue 17): a differential generator. Query shapes are built from
-- parts (aggregates, windows with and without the scope in PARTITION BY, top-N by LIMIT
-- and by ranking, HAVING, ROLLUP, scalar subqueries over the whole table, correlated
-- subqueries, IN (SELECT ... GROUP BY ... HAVING), set operations, joins on the scope and
-- on other columns, DISTINCT ON), each with and without extra filters on the scope column
-- and on other columns (the filters that fooled the old plan-only check), as stages under
-- every engine. Random change rounds (seeded) then refresh every stage and compare it with
-- its query: zero divergence, ever, under every engine (stages that are not independent
-- rebuild whatever their engine). Each shape's verdict is also checked against what it is.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_incview;
SET incview.default_policy = manual;
SELECT plan(76);

CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, amount int, product int);
CREATE TABLE products (id int PRIMARY KEY, name text);
INSERT INTO products SELECT g, 'p' || g FROM generate_series(0, 9) g;
SELECT setseed(0.17);
INSERT INTO orders (customer_id, amount, product)
  SELECT (random() * 60)::int, (random() * 100)::int, (random() * 9)::int FROM generate_series(1, 1500);
CREATE INDEX ON orders (customer_id);
ANALYZE orders, products;

-- shape, query template ({w}: the extra filter, its columns qualified by {t} where the
-- shape joins), unique key (NULL: the shape has none), independent?
-- Engines: auto, replace, diff (with the unique key, where the shape has one) and
-- multiset (engine diff without a unique key: rows paired by their whole value, copy by
-- copy; every shape, the keyless ones included).
CREATE TABLE shapes (shape text PRIMARY KEY, template text, ukey text[], independent boolean);
INSERT INTO shapes VALUES
 ('agg', 'SELECT customer_id, sum(amount) AS s, count(*) AS n FROM orders WHERE {w} GROUP BY customer_id', '{customer_id}', true),
 ('agg_having', 'SELECT customer_id, sum(amount) AS s FROM orders WHERE {w} GROUP BY customer_id HAVING sum(amount) > 300', '{customer_id}', true),
 ('topn_limit', 'SELECT customer_id, sum(amount) AS s FROM orders WHERE {w} GROUP BY customer_id ORDER BY sum(amount) DESC, customer_id LIMIT 15', '{customer_id}', false),
 ('topn_rank', 'SELECT * FROM (SELECT customer_id, s, rank() OVER (ORDER BY s DESC, customer_id) AS r FROM (SELECT customer_id, sum(amount) AS s FROM orders WHERE {w} GROUP BY customer_id) a) b WHERE r <= 15', '{customer_id}', false),
 ('win_part', 'SELECT customer_id, id, sum(amount) OVER (PARTITION BY customer_id ORDER BY id) AS running FROM orders WHERE {w}', '{customer_id,id}', true),
 ('win_share', 'SELECT customer_id, id, round(amount::numeric / nullif(sum(amount) OVER (), 0), 6) AS share FROM orders WHERE {w}', '{customer_id,id}', false),
 ('ntile', 'SELECT customer_id, id, ntile(4) OVER (ORDER BY amount, id) AS q FROM orders WHERE {w}', '{customer_id,id}', false),
 ('rollup', 'SELECT customer_id, product, sum(amount) AS s FROM orders WHERE {w} GROUP BY ROLLUP (customer_id, product)', NULL, false),
 ('scalar_all', 'SELECT customer_id, id, amount - (SELECT max(amount) FROM orders) AS d FROM orders WHERE {w}', '{customer_id,id}', false),
 ('correlated', 'SELECT o.customer_id, o.id, (SELECT count(*) FROM orders o2 WHERE o2.customer_id = o.customer_id) AS n FROM orders o WHERE {w}', '{customer_id,id}', true),
 ('in_having', 'SELECT customer_id, id FROM orders WHERE {w} AND customer_id IN (SELECT customer_id FROM orders GROUP BY customer_id HAVING sum(amount) > 900)', '{customer_id,id}', false),
 ('union', 'SELECT customer_id, amount FROM orders WHERE {w} UNION SELECT customer_id, -amount FROM orders WHERE amount > 50', NULL, true),
 ('join_dim', 'SELECT o.customer_id, p.name, sum(o.amount) AS s FROM orders o JOIN products p ON p.id = o.product WHERE {w} GROUP BY o.customer_id, p.name', '{customer_id,name}', true),
 ('join_other', 'SELECT o.customer_id, count(*) AS n FROM orders o JOIN orders o2 ON o2.product = o.product WHERE {w} GROUP BY o.customer_id', '{customer_id}', false),
 ('distinct_on_other', 'SELECT DISTINCT ON (product) customer_id, product, amount FROM orders WHERE {w} ORDER BY product, amount DESC, id', NULL, false),
 ('lateral', 'SELECT c.customer_id, l.amount FROM (SELECT DISTINCT customer_id FROM orders WHERE {w}) c CROSS JOIN LATERAL (SELECT o.amount FROM orders o WHERE o.customer_id = c.customer_id ORDER BY o.amount DESC, o.id LIMIT 2) l', NULL, true);

-- Extra filters: none, two on the scope column (what fooled the plan-only check), one on another column.
CREATE TABLE filters (f text PRIMARY KEY, sql text);
INSERT INTO filters VALUES ('none', 'true'), ('scope_gt', '{t}customer_id > 0'),
                           ('scope_not_null', '{t}customer_id IS NOT NULL'), ('other', '{t}amount >= 0');

CREATE TABLE stages (stage text PRIMARY KEY, shape text, f text, engine text, diverged int DEFAULT 0);
DO $$
DECLARE s record; f record; e text; q text; name text; t text;
BEGIN
  FOR s IN SELECT * FROM shapes ORDER BY shape LOOP
    t := CASE WHEN s.template LIKE '% o WHERE {w}%' OR s.template LIKE '%orders o JOIN%' THEN 'o.' ELSE '' END;
    FOR f IN SELECT * FROM filters x ORDER BY x.f LOOP
      q := replace(s.template, '{w}', replace(f.sql, '{t}', t));
      FOREACH e IN ARRAY CASE WHEN s.ukey IS NULL THEN ARRAY['auto', 'replace', 'multiset']
                              ELSE ARRAY['auto', 'replace', 'diff', 'multiset'] END LOOP
        name := s.shape || '__' || f.f || '__' || e;
        PERFORM incview.create_stage(name, q, ARRAY['customer_id'],
                                     unique_key => CASE WHEN e = 'diff' THEN s.ukey END,
                                     engine => CASE WHEN e = 'multiset' THEN 'diff' ELSE e END);
        INSERT INTO stages (stage, shape, f, engine) VALUES (name, s.shape, f.f, e);
      END LOOP;
    END LOOP;
  END LOOP;
END $$;

-- Every shape with every filter: the verdict is right (one assertion per shape x filter).
SELECT is((SELECT st.scope_pushdown FROM incview.stage st WHERE st.name = x.shape || '__' || x.f || '__auto'),
          x.independent,
          format('%s with filter %s: %s', x.shape, x.f, CASE WHEN x.independent THEN 'independent' ELSE 'not independent' END))
FROM (SELECT s.shape, f.f, s.independent FROM shapes s CROSS JOIN filters f ORDER BY s.shape, f.f) x;

-- Random change rounds: inserts, updates moving rows between customers and changing
-- amounts, deletes; then every stage is refreshed and compared with its query.
CREATE FUNCTION pg_temp.round(r int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE st record; v record;
BEGIN
  PERFORM setseed(r / 100.0);
  INSERT INTO orders (customer_id, amount, product)
    SELECT (random() * 60)::int, (random() * 150)::int, (random() * 9)::int FROM generate_series(1, 20);
  UPDATE orders SET amount = amount + (random() * 80)::int WHERE id IN (SELECT id FROM orders ORDER BY random() LIMIT 25);
  UPDATE orders SET customer_id = (random() * 60)::int WHERE id IN (SELECT id FROM orders ORDER BY random() LIMIT 10);
  DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY random() LIMIT 15);
  IF r % 3 = 0 THEN UPDATE products SET name = name || 'x' WHERE id = r % 10; END IF;
  FOR st IN SELECT * FROM stages ORDER BY stage LOOP
    PERFORM incview.refresh(st.stage);
    SELECT * INTO v FROM incview.verify(st.stage);
    IF v.missing + v.extra > 0 THEN
      UPDATE stages SET diverged = diverged + 1 WHERE stage = st.stage;
    END IF;
  END LOOP;
END $$;
SELECT pg_temp.round(r) FROM generate_series(1, 6) r;

SELECT is((SELECT count(*) FROM stages WHERE engine = 'auto' AND diverged > 0), 0::bigint,
          'auto: no stage ever diverged from its query');
SELECT is((SELECT count(*) FROM stages WHERE engine = 'replace' AND diverged > 0), 0::bigint,
          'replace: no stage diverged (stages that are not independent rebuild)');
SELECT is((SELECT count(*) FROM stages WHERE engine = 'diff' AND diverged > 0), 0::bigint,
          'diff: no stage diverged (stages that are not independent rebuild by a whole-table diff)');
SELECT is((SELECT count(*) FROM stages WHERE engine = 'multiset' AND diverged > 0), 0::bigint,
          'diff without a unique key (multiset): no stage diverged, the 16 keyless shape x filter cases included');
SELECT diag(string_agg(stage || ' diverged in ' || diverged || ' rounds', E'\n')) FROM stages WHERE diverged > 0;

-- Independent stages really refresh scope by scope (a batch, not a rebuild): the last
-- refresh of an independent auto stage logged its scopes; one that is not logged a rebuild.
SELECT ok((SELECT engine FROM incview.refresh_log WHERE stage = 'agg__scope_gt__replace' ORDER BY id DESC LIMIT 1) = 'replace',
          'an independent stage with a filter on the scope column refreshes by batches');
SELECT is((SELECT engine FROM incview.refresh_log WHERE stage = 'topn_limit__scope_gt__replace' ORDER BY id DESC LIMIT 1), 'full',
          'a top-N stage under engine replace rebuilds instead of refreshing wrong');

-- The owner's override: declared independent, loudly; explain, stages and verify say so.
SELECT incview.declare_independent('topn_limit__none__auto');
SELECT ok((SELECT independence FROM incview.stages WHERE name = 'topn_limit__none__auto') LIKE 'declared by the owner (analysis: LIMIT%',
          'incview.stages shows the declaration and what the analysis found');
SELECT ok(incview.explain('topn_limit__none__auto') LIKE '%scope independence: DECLARED by the owner against the analysis: LIMIT%',
          'explain says it');
SELECT incview.declare_independent('topn_limit__none__auto', false);
SELECT ok((SELECT independence FROM incview.stages WHERE name = 'topn_limit__none__auto') LIKE 'no: LIMIT%',
          'and the declaration can be taken back');
SELECT ok(incview.explain('agg__none__auto') LIKE '%scope independence: proven%', 'explain says when it is proven');

-- The rounds do catch wrong rows: a stage whose owner wrongly declares it independent (a
-- share of the whole table) diverges at once, and verify shows it.
SELECT incview.declare_independent('win_share__none__replace');
UPDATE stages SET diverged = 0;
SELECT pg_temp.round(7);
SELECT ok((SELECT diverged FROM stages WHERE stage = 'win_share__none__replace') > 0,
          'a wrongly declared stage diverges under the same rounds (the generator can see wrong rows)');
SELECT is((SELECT count(*) FROM stages WHERE diverged > 0 AND stage <> 'win_share__none__replace'), 0::bigint,
          'and nothing else did');
SELECT incview.declare_independent('win_share__none__replace', false);

SELECT * FROM finish();
