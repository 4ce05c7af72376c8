-- What pg_dump keeps. The tables an extension creates are its members, and pg_dump writes
-- only their definitions (CREATE EXTENSION) unless they are marked as configuration: without
-- this, a dump of a full tracker held no row at all.
--
-- Marked are the tables nothing else can rebuild, with their identity sequences so that ids
-- go on where they were after a restore: projects, their keys and retention, the archive
-- (every payload as received), the zstd dictionaries the archive is packed with, and issues
-- (their ids, short ids and triage status; their counts are rebuilt) with their users, which
-- are counted still when retention has removed their events, and their notes and activity;
-- the Web API's tokens (their hashes). Everything else is derived from the archive and
-- rebuilt after a restore by crashcache.ruminate(). The queue is left out on purpose: after a
-- restore ruminate enqueues every archive anyway, and digest workers must find nothing to do
-- while a restore is loading rows. The README's backup section has the steps.
-- One statement each: every call rewrites the extension's catalog row.
SELECT pg_catalog.pg_extension_config_dump('crashcache.project', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.project_key', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.dictionary', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.archive', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.issue', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.retention', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.issue_user', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.issue_activity', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.api_token', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.project', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.dictionary', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.archive', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.issue', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.issue_activity', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.api_token', 'id'), '');
