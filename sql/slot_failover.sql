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
	   lag_bytes >= 0 AS lag_known
FROM slot_failover.status ORDER BY slot_name;

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

-- clean up
REVOKE ALL ON FUNCTION slot_failover.mark(name) FROM regress_sf_plain;
REVOKE ALL ON FUNCTION slot_failover.mark(name), slot_failover.unmark(name)
	FROM regress_sf_replication;
DROP ROLE regress_sf_plain, regress_sf_replication, regress_sf_monitor;
DROP EXTENSION slot_failover;
SELECT pg_drop_replication_slot('regress_logical');
SELECT pg_drop_replication_slot('regress_physical');
