-- The tracker's periodic work, as pg_cron jobs. pg_cron is optional: these functions are the
-- only ones that need it, and say so when it is missing. The jobs run as role
-- crashcache_maintenance (sql/roles.sql), which may run them and nothing else.

-- Every job: retention every 10 minutes, a new zstd dictionary every week (payloads change
-- with the applications that send them), and pg_cron's own run history pruned every day.
CREATE FUNCTION crashcache._maintenance_jobs()
RETURNS TABLE (job_name text, schedule text, command text) LANGUAGE sql IMMUTABLE AS $$
    VALUES ('crashcache-retention', '*/10 * * * *', 'CALL crashcache.run_retention()'),
           ('crashcache-dictionary', '17 3 * * 0', 'SELECT crashcache.retrain_dictionary()'),
           ('crashcache-cron-history', '37 4 * * *',
            $job$DELETE FROM cron.job_run_details WHERE end_time < now() - interval '14 days'$job$)
$$;

CREATE FUNCTION crashcache._require_pg_cron()
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = 'feature_not_supported',
                  HINT = format('Install postgresql-15-cron, add pg_cron to shared_preload_libraries, '
                                'set cron.database_name = %L, restart, and run CREATE EXTENSION pg_cron.',
                                current_database());
    END IF;
END
$$;

-- Registers every job with pg_cron, to run as crashcache_maintenance in this database. A job
-- that is registered already as it should be is left alone: a second call changes nothing.
-- Returns the jobs.
CREATE FUNCTION crashcache.schedule_maintenance()
RETURNS TABLE (job_name text, schedule text, command text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM crashcache._require_pg_cron();
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crashcache_maintenance') THEN
        RAISE EXCEPTION 'role crashcache_maintenance does not exist'
            USING HINT = 'Run sql/roles.sql first.';
    END IF;
    -- Its job pruning the run history deletes its own runs' rows (pg_cron's row policy).
    GRANT USAGE ON SCHEMA cron TO crashcache_maintenance;
    PERFORM cron.schedule_in_database(j.job_name, j.schedule, j.command, current_database(),
                                      'crashcache_maintenance')
    FROM crashcache._maintenance_jobs() j
    WHERE NOT EXISTS (
        SELECT FROM cron.job c
        WHERE c.jobname = j.job_name AND c.username = 'crashcache_maintenance'
          AND c.schedule = j.schedule AND c.command = j.command
          AND c.database = current_database() AND c.active);
    RETURN QUERY SELECT j.job_name, j.schedule, j.command FROM crashcache._maintenance_jobs() j;
END
$$;

-- Removes the jobs schedule_maintenance() registered. Returns how many there were.
CREATE FUNCTION crashcache.unschedule_maintenance()
RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed bigint;
BEGIN
    PERFORM crashcache._require_pg_cron();
    SELECT count(*) INTO removed FROM (
        SELECT cron.unschedule(c.jobid) FROM cron.job c
        WHERE c.username = 'crashcache_maintenance'
          AND c.jobname IN (SELECT j.job_name FROM crashcache._maintenance_jobs() j)) u;
    RETURN removed;
END
$$;

-- Trains a new dictionary from the latest payloads (train_dictionary()), when there are
-- enough of them. Returns its id, or NULL when the archive is too small.
CREATE FUNCTION crashcache.retrain_dictionary()
RETURNS int LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT FROM crashcache.archive LIMIT 100) enough) < 100 THEN
        RETURN NULL;
    END IF;
    RETURN crashcache.train_dictionary();
END
$$;

REVOKE EXECUTE ON FUNCTION crashcache.schedule_maintenance(), crashcache.unschedule_maintenance(),
    crashcache.retrain_dictionary() FROM PUBLIC;
