-- Shared by pgTAP files that wait for the background workers (\ir lib/wait_until.sql).
-- Polls until `cond` is true or `timeout` passes; each check sees newly committed data.
CREATE FUNCTION pg_temp.wait_until(cond text, timeout interval DEFAULT '10 s') RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE ok boolean; deadline timestamptz := clock_timestamp() + timeout;
BEGIN
  LOOP
    PERFORM pg_stat_clear_snapshot();  -- pg_stat_activity is otherwise frozen for the transaction
    EXECUTE 'SELECT (' || cond || ')' INTO ok;
    IF ok THEN RETURN true; END IF;
    IF clock_timestamp() > deadline THEN RETURN false; END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
END $$;
