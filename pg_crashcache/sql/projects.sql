-- Projects and their DSN keys.

-- The DSN an SDK is configured with: {public_url with the key as user}/{project id}.
CREATE FUNCTION crashcache.dsn(public_key text, project_id int)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(rtrim(current_setting('crashcache.public_url'), '/'),
                          '^([a-z]+://)', '\1' || public_key || '@') || '/' || project_id
$$;

-- Creates a project with one key (32 random hex digits unless given).
CREATE FUNCTION crashcache.create_project(name text, public_key text DEFAULT NULL)
RETURNS TABLE (id int, key text, dsn text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    new_id int;
    new_key text := coalesce(create_project.public_key, replace(gen_random_uuid()::text, '-', ''));
BEGIN
    INSERT INTO crashcache.project AS p (name) VALUES (create_project.name) RETURNING p.id INTO new_id;
    INSERT INTO crashcache.project_key AS k (public_key, project_id) VALUES (new_key, new_id);
    RETURN QUERY SELECT new_id, new_key, crashcache.dsn(new_key, new_id);
END
$$;

-- Adds another key to a project, e.g. to rotate keys.
CREATE FUNCTION crashcache.create_project_key(project_id int, public_key text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    new_key text := coalesce(create_project_key.public_key, replace(gen_random_uuid()::text, '-', ''));
BEGIN
    INSERT INTO crashcache.project_key (public_key, project_id) VALUES (new_key, create_project_key.project_id);
    RETURN crashcache.dsn(new_key, create_project_key.project_id);
END
$$;

-- Revokes a key: requests with it are refused (403) from then on. Returns whether it existed.
CREATE FUNCTION crashcache.revoke_project_key(public_key text)
RETURNS boolean LANGUAGE sql VOLATILE AS $$
    WITH revoked AS (
        UPDATE crashcache.project_key k SET active = false
        WHERE k.public_key = revoke_project_key.public_key RETURNING 1)
    SELECT EXISTS (SELECT FROM revoked)
$$;

-- Every project with its active keys and DSNs.
CREATE FUNCTION crashcache.list_projects()
RETURNS TABLE (id int, name text, created_at timestamptz, public_keys text[], dsns text[])
LANGUAGE sql STABLE AS $$
    SELECT p.id, p.name, p.created_at,
           coalesce(array_agg(k.public_key ORDER BY k.created_at) FILTER (WHERE k.active), '{}'),
           coalesce(array_agg(crashcache.dsn(k.public_key, p.id) ORDER BY k.created_at) FILTER (WHERE k.active), '{}')
    FROM crashcache.project p
    LEFT JOIN crashcache.project_key k ON k.project_id = p.id
    GROUP BY p.id
    ORDER BY p.id
$$;

-- Deletes a project and everything stored for it. Returns whether it existed.
CREATE FUNCTION crashcache.delete_project(project_id int)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Tables without a foreign key to their archive are cleared by project first; the rest
    -- goes with ON DELETE CASCADE.
    DELETE FROM crashcache.queue_error e WHERE e.project_id = delete_project.project_id;
    DELETE FROM crashcache.project p WHERE p.id = delete_project.project_id;
    RETURN FOUND;
END
$$;
