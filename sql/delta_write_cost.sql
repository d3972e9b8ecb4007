-- Engine auto and the writers' cost of delta stages (issue 18): every delta stage runs capture
-- statements of its own on each write to its source, so auto chooses delta for at most one
-- stage per source and says why when it declines; an explicit delta beyond that works, with a
-- WARNING; incview.check lists the source. The messages users see, as they see them.
SET incview.default_policy = manual;
CREATE TABLE wc_src (id serial PRIMARY KEY, k int NOT NULL, v int NOT NULL);
INSERT INTO wc_src (k, v) SELECT g % 4, g FROM generate_series(1, 4000) g;
ANALYZE wc_src;
-- 1,000 rows a scope: the first stage is a delta stage, silently.
SELECT incview.create_stage('wc_1', 'SELECT k, sum(v) AS s, count(*) AS n FROM wc_src GROUP BY k', ARRAY['k']) IS NOT NULL AS created;
-- The second would be too: auto declines, with a NOTICE saying why and how to force it.
SELECT incview.create_stage('wc_2', 'SELECT k, max(v) AS hi FROM wc_src GROUP BY k', ARRAY['k']) IS NOT NULL AS created;
SELECT s.name, d.stage_id IS NOT NULL AS delta FROM incview.stage s LEFT JOIN incview.delta_stage d ON d.stage_id = s.id
WHERE s.name LIKE 'wc\_%' ORDER BY 1;
-- Forcing it: delta, with a WARNING naming the cost.
SELECT incview.set_engine('wc_2', 'delta');
SELECT risk, detail FROM incview.check('wc_2');
-- set_engine(…, 'auto') on a busy source: declined again, back to key capture.
SELECT incview.set_engine('wc_2', 'auto');
SELECT count(*) AS delta_stages FROM incview.delta_stage d JOIN incview.stage s ON s.id = d.stage_id WHERE s.name LIKE 'wc\_%';
SELECT risk, detail FROM incview.check('wc_2');
SELECT incview.drop_stage('wc_2');
SELECT incview.drop_stage('wc_1');
DROP TABLE wc_src;
