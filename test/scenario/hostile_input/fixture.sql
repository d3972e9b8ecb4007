-- Fixture of the hostile-input generator (test/scenario/hostile_input.sh): sources of every
-- kind the functions accept or must refuse, and stages of every storage kind, so that random
-- calls reach deep paths (refresh, retention, partitions, stage on stage), not only the
-- argument checks. Runs as a superuser in a fresh database.
SET client_min_messages = warning;
CREATE EXTENSION pg_incview;

DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'incview_fuzz_user') THEN
    CREATE ROLE incview_fuzz_user;
  END IF;
END $$;
GRANT CREATE ON SCHEMA public TO incview_fuzz_user;

CREATE TABLE src_a (id int PRIMARY KEY, grp int NOT NULL, val numeric, note text,
                    created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO src_a SELECT g, g % 7, g * 1.5, 'n' || g, now() - g * interval '1 hour'
FROM generate_series(1, 200) g;

-- Identifiers that need quoting everywhere.
CREATE TABLE "Src B" ("Id" int, "weird col" text, "a""b" int);
INSERT INTO "Src B" SELECT g % 5, 'w' || g, g FROM generate_series(1, 50) g;

CREATE TABLE src_part (id int, region text NOT NULL, amount int) PARTITION BY LIST (region);
CREATE TABLE src_part_eu PARTITION OF src_part FOR VALUES IN ('eu');
CREATE TABLE src_part_us PARTITION OF src_part FOR VALUES IN ('us');
INSERT INTO src_part SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(1, 40) g;

CREATE TABLE events (id int, at timestamptz NOT NULL, kind text);
INSERT INTO events SELECT g, now() - g * interval '6 hours', 'k' || (g % 3) FROM generate_series(1, 60) g;

-- Relations of the kinds a source argument must refuse or handle: view, sequence,
-- materialized view, columns without an equality operator (json, point).
CREATE VIEW v_a AS SELECT id, grp FROM src_a;
CREATE SEQUENCE seq_a;
CREATE MATERIALIZED VIEW mv_a AS SELECT id, grp FROM src_a;
CREATE TABLE jsrc (id int, doc json, pt point);
INSERT INTO jsrc VALUES (1, '{"a":1}', '(1,2)');

-- A table and a stage owned by an ordinary role (calls run as that role too).
CREATE TABLE user_src (id int, grp int);
INSERT INTO user_src SELECT g, g % 3 FROM generate_series(1, 30) g;
ALTER TABLE user_src OWNER TO incview_fuzz_user;

-- The fixture stages; re-created by fuzz.ensure_stages() when a random drop_stage removed them.
CREATE SCHEMA fuzz;
CREATE FUNCTION fuzz.ensure_stages() RETURNS int LANGUAGE plpgsql AS $f$
DECLARE
  made int := 0;
  d record;
BEGIN
  FOR d IN SELECT * FROM (VALUES
    (1, 'st_plain', 'SELECT grp, count(*) AS n FROM src_a GROUP BY grp',
     ARRAY['grp'], ARRAY['grp'], NULL, NULL),
    (2, 'St "Quoted"', 'SELECT "Id", count(*) AS "Count (*)" FROM "Src B" GROUP BY "Id"',
     ARRAY['Id'], NULL, NULL, NULL),
    (3, 'st_part', 'SELECT region, id, amount FROM src_part',
     ARRAY['region'], ARRAY['id'], 'list (region)', NULL),
    (4, 'st_ret', 'SELECT id, at, kind FROM events',
     ARRAY['id'], ARRAY['id'], 'range (at) 1 day', '7 days'),
    (5, 'st_on_stage', 'SELECT grp, n * 2 AS n2 FROM st_plain',
     ARRAY['grp'], ARRAY['grp'], NULL, NULL)) AS t(ord, name, query, scope, ukey, part, keep)
    ORDER BY ord
  LOOP
    CONTINUE WHEN EXISTS (SELECT 1 FROM incview.stage s WHERE s.name = d.name);
    BEGIN
      PERFORM incview.create_stage(d.name, d.query, d.scope, d.ukey, partition_by => d.part);
      IF d.keep IS NOT NULL THEN
        PERFORM incview.set_retention(d.name, 'at', d.keep::interval);
      END IF;
      IF d.name = 'st_plain' THEN
        PERFORM incview.add_index(d.name, '(n)');   -- drop_index has one to drop
      END IF;
      made := made + 1;
    EXCEPTION WHEN OTHERS THEN
      NULL;  -- its name or target was taken by a random call: the stages that exist still serve
    END;
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM incview.stage WHERE name = 'user_stage') THEN
    BEGIN
      SET LOCAL ROLE incview_fuzz_user;
      PERFORM incview.create_stage('user_stage', 'SELECT grp, count(*) AS n FROM public.user_src GROUP BY grp',
                                   ARRAY['grp']);
      made := made + 1;
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
    RESET ROLE;
  END IF;
  RETURN made;
END
$f$;

-- Drops the stages random calls made (so that the next create_stage of a pool name can
-- succeed and go deep), then re-creates missing fixture stages.
CREATE FUNCTION fuzz.reset_stages() RETURNS int LANGUAGE plpgsql AS $f$
DECLARE
  s text;
BEGIN
  FOR s IN SELECT name FROM incview.stage
           WHERE name NOT IN ('st_plain', 'St "Quoted"', 'st_part', 'st_ret', 'st_on_stage', 'user_stage')
           ORDER BY id DESC LOOP
    BEGIN
      PERFORM incview.drop_stage(s, true);
    EXCEPTION WHEN OTHERS THEN
      NULL;  -- dropped already by a cascade
    END;
  END LOOP;
  RETURN fuzz.ensure_stages();
END
$f$;

-- Writes to every source, so refreshes have dirty keys to work on.
CREATE FUNCTION fuzz.write_sources(step int) RETURNS void LANGUAGE sql AS $f$
  UPDATE src_a SET val = val + 1 WHERE id % 17 = step % 17;
  INSERT INTO src_a VALUES (1000 + step, step % 9, step, 'new', now()) ON CONFLICT (id) DO UPDATE SET grp = EXCLUDED.grp;
  UPDATE "Src B" SET "a""b" = "a""b" + 1 WHERE "Id" = step % 5;
  UPDATE src_part SET amount = amount + 1 WHERE id % 5 = step % 5;
  INSERT INTO events VALUES (step, now() - (step % 20) * interval '12 hours', 'k');
  DELETE FROM events WHERE id = step - 30;
  UPDATE user_src SET grp = (grp + 1) % 4 WHERE id = step % 30;
$f$;

SET incview.default_policy = manual;
SELECT fuzz.ensure_stages();
