--
-- The SQL surface of slot_failover, and what it refuses.
-- Runs in a temporary instance with slot_failover preloaded
-- (slot_failover.conf), as the bootstrap superuser.
--
CREATE EXTENSION slot_failover;

SELECT 'init' FROM pg_create_physical_replication_slot('regress_physical', true);
SELECT 'init' FROM pg_create_logical_replication_slot('regress_logical', 'test_decoding');

-- nothing is marked yet
SELECT count(*) FROM slot_failover.slots;

-- bad input: each is refused and changes nothing
SELECT slot_failover.mark(NULL);
SELECT slot_failover.mark('');
SELECT slot_failover.mark('No-Such-Slot');
SELECT slot_failover.mark(repeat('x', 70));
SELECT slot_failover.mark('no_such_slot');
SELECT slot_failover.unmark(NULL);
SELECT slot_failover.unmark('regress_logical');

-- a temporary slot cannot follow a failover (the error drops it)
SELECT 'init' FROM pg_create_logical_replication_slot('regress_temporary', 'test_decoding', true);
SELECT slot_failover.mark('regress_temporary');

SELECT count(*) FROM slot_failover.slots;

-- marking records the slot with its current state, in this transaction
BEGIN;
SELECT slot_failover.mark('regress_logical');
SELECT slot_failover.mark('regress_physical');
SELECT slot_name, slot_type, database, plugin, two_phase,
	   slot_identity > 0 AS has_identity,
	   restart_lsn IS NOT NULL AS has_restart_lsn,
	   (confirmed_flush_lsn IS NOT NULL) = (slot_type = 'logical') AS confirmed_flush_ok,
	   (catalog_xmin IS NOT NULL) = (slot_type = 'logical') AS catalog_xmin_ok,
	   system_identifier = (SELECT system_identifier FROM pg_control_system()) AS our_system,
	   timeline = (SELECT timeline_id FROM pg_control_checkpoint()) AS our_timeline
FROM slot_failover.slots ORDER BY slot_name;
ROLLBACK;
SELECT count(*) FROM slot_failover.slots;

SELECT slot_failover.mark('regress_logical');
SELECT slot_failover.mark('regress_physical');
CREATE TEMP TABLE identities AS
	SELECT slot_name, slot_identity FROM slot_failover.slots;

-- marking twice is a no-op with a notice
SELECT slot_failover.mark('regress_logical');
SELECT s.slot_name, s.slot_identity = i.slot_identity AS same_identity
FROM slot_failover.slots s JOIN identities i USING (slot_name) ORDER BY 1;

-- the status view shows each marked slot next to its live state
SELECT slot_name, slot_type, database, plugin, node_role,
	   written_restart_lsn = restart_lsn AS restart_recorded,
	   lag_bytes >= 0 AS lag_known, failover_ready
FROM slot_failover.status ORDER BY slot_name;
-- the readiness check is for standbys
SELECT slot_failover.ready_for_failover();

-- sync() waits for a full cycle of the worker, which then has run
SELECT slot_failover.sync() IS NOT NULL AS synced;
SELECT pid IS NOT NULL AS running, role, cycles > 0 AS has_cycled, last_error
FROM slot_failover.worker;
SELECT slot_name, lag_bytes FROM slot_failover.status ORDER BY slot_name;

-- unmark deletes the row
SELECT slot_failover.unmark('regress_physical');
SELECT slot_name FROM slot_failover.slots ORDER BY slot_name;
SELECT slot_failover.unmark('regress_physical');

-- a prepared transaction would tell the worker nothing at COMMIT PREPARED
BEGIN;
SELECT slot_failover.mark('regress_physical');
PREPARE TRANSACTION 'regress_mark';
SELECT slot_name FROM slot_failover.slots ORDER BY slot_name;

--
-- Privileges: only superusers and REPLICATION roles may mark; nobody else
-- may write the table.
--
CREATE ROLE regress_sf_plain;
CREATE ROLE regress_sf_replication REPLICATION;
CREATE ROLE regress_sf_monitor IN ROLE pg_monitor;

SET ROLE regress_sf_plain;
SELECT slot_failover.mark('regress_physical');
SELECT slot_failover.unmark('regress_logical');
SELECT slot_failover.sync();
SELECT * FROM slot_failover.slots;
SELECT * FROM slot_failover.status;
INSERT INTO slot_failover.slots (slot_name, slot_identity, slot_type, two_phase,
	restart_lsn, invalidated, system_identifier, timeline, marked_at, updated_at)
VALUES ('forged', 1, 'physical', false, '0/1', false, 1, 1, now(), now());
UPDATE slot_failover.slots SET restart_lsn = '0/1';
DELETE FROM slot_failover.slots;
RESET ROLE;

-- EXECUTE granted by mistake is not enough without REPLICATION
GRANT EXECUTE ON FUNCTION slot_failover.mark(name) TO regress_sf_plain;
SET ROLE regress_sf_plain;
SELECT slot_failover.mark('regress_physical');
RESET ROLE;

-- a REPLICATION role may mark once granted the function, but still not
-- write the table itself
GRANT EXECUTE ON FUNCTION slot_failover.mark(name),
	slot_failover.unmark(name) TO regress_sf_replication;
SET ROLE regress_sf_replication;
SELECT slot_failover.mark('regress_physical');
SELECT slot_failover.unmark('regress_physical');
UPDATE slot_failover.slots SET restart_lsn = '0/1';
DELETE FROM slot_failover.slots;
RESET ROLE;

-- pg_monitor reads the views, nothing else
SET ROLE regress_sf_monitor;
SELECT slot_name FROM slot_failover.status ORDER BY slot_name;
SELECT pid IS NOT NULL AS running FROM slot_failover.worker;
SELECT slot_failover.mark('regress_physical');
DELETE FROM slot_failover.slots;
RESET ROLE;

SELECT slot_name FROM slot_failover.slots ORDER BY slot_name;

--
-- Marks follow their transaction.  After each case the worker has run a
-- full cycle (sync(), which also settles the markers), and each slot's
-- marker file names exactly its committed row's identity, or remembers a
-- committed unmark() (-1, for slot_failover.auto_mark), or is gone.
--
CREATE FUNCTION pg_temp.marker(slot name) RETURNS text LANGUAGE sql AS $$
	SELECT CASE
		WHEN pg_stat_file(file, true) IS NULL THEN 'no marker'
		WHEN pg_read_file(file) = E'-1\n' THEN 'unmarked explicitly'
		WHEN pg_read_file(file) = (SELECT slot_identity || E'\n'
			FROM slot_failover.slots s WHERE s.slot_name = slot) THEN 'marker of the row'
		ELSE 'stale marker' END
	FROM (SELECT 'pg_replslot/' || slot || '/slot_failover.id' AS file) f
$$;
CREATE TEMP TABLE before AS SELECT slot_name, slot_identity FROM slot_failover.slots;

-- an unmark whose exception block rolls back keeps the mark
DO $$BEGIN
	PERFORM slot_failover.unmark('regress_logical');
	RAISE EXCEPTION 'undo';
EXCEPTION WHEN raise_exception THEN NULL;
END$$;
SELECT slot_failover.sync() IS NOT NULL AS synced;
SELECT slot_name, pg_temp.marker(slot_name) FROM slot_failover.slots ORDER BY 1;

-- a rolled back mark leaves no mark (the slot was unmarked above)
BEGIN;
SELECT slot_failover.mark('regress_physical');
ROLLBACK;
SELECT slot_failover.sync() IS NOT NULL AS synced;
SELECT pg_temp.marker('regress_physical');

-- unmark and mark again, rolled back: the old mark, with its identity
BEGIN;
SELECT slot_failover.unmark('regress_logical');
SELECT slot_failover.mark('regress_logical');
ROLLBACK;
SELECT slot_failover.sync() IS NOT NULL AS synced;
SELECT s.slot_name, s.slot_identity = b.slot_identity AS same_identity,
	   pg_temp.marker(s.slot_name)
FROM slot_failover.slots s JOIN before b USING (slot_name) ORDER BY 1;

-- a refused PREPARE rolls the unmark back
BEGIN;
SELECT slot_failover.unmark('regress_logical');
PREPARE TRANSACTION 'regress_unmark';
SELECT slot_failover.sync() IS NOT NULL AS synced;
SELECT slot_name, pg_temp.marker(slot_name) FROM slot_failover.slots ORDER BY 1;

-- savepoints: a mark rolled back to, then unmark and mark released and
-- committed: a new identity for the logical slot, none for the physical
BEGIN;
SAVEPOINT a;
SELECT slot_failover.mark('regress_physical');
ROLLBACK TO a;
SAVEPOINT b;
SELECT slot_failover.unmark('regress_logical');
SELECT slot_failover.mark('regress_logical');
RELEASE b;
COMMIT;
SELECT slot_failover.sync() IS NOT NULL AS synced;
SELECT s.slot_name, s.slot_identity = b.slot_identity AS same_identity,
	   pg_temp.marker(s.slot_name)
FROM slot_failover.slots s JOIN before b USING (slot_name) ORDER BY 1;
SELECT pg_temp.marker('regress_physical');

-- committed: marked, then unmarked
SELECT slot_failover.mark('regress_physical');
SELECT slot_failover.sync() IS NOT NULL AS synced;
SELECT slot_name, pg_temp.marker(slot_name) FROM slot_failover.slots ORDER BY 1;
SELECT slot_failover.unmark('regress_physical');
SELECT slot_failover.sync() IS NOT NULL AS synced;
SELECT pg_temp.marker('regress_physical');

-- clean up
REVOKE ALL ON FUNCTION slot_failover.mark(name) FROM regress_sf_plain;
REVOKE ALL ON FUNCTION slot_failover.mark(name), slot_failover.unmark(name)
	FROM regress_sf_replication;
DROP ROLE regress_sf_plain, regress_sf_replication, regress_sf_monitor;
DROP EXTENSION slot_failover;

-- a library newer than the extension's SQL objects refuses, and says how
-- to update them
CREATE EXTENSION slot_failover VERSION '1.0';
SELECT slot_failover.mark('regress_logical');
ALTER EXTENSION slot_failover UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'slot_failover';
SELECT slot_failover.mark('regress_logical');
SELECT slot_name, two_phase, two_phase_at FROM slot_failover.slots;
SELECT slot_name, node_role, failover_ready FROM slot_failover.status;
SELECT slot_failover.ready_for_failover(raise_error => true);
DROP EXTENSION slot_failover;
SELECT pg_drop_replication_slot('regress_logical');
SELECT pg_drop_replication_slot('regress_physical');
