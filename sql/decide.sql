--
-- The standby's decision for one row's copy (sf_decide_copy in standby.c),
-- one case per rule of README's "On a standby", through a test-only C
-- function that is in no extension script: declared here, in pg_temp.
--
CREATE FUNCTION pg_temp.decide(
	slot_name name, logical bool, identity int8, datoid oid,
	restart_lsn pg_lsn, catalog_xmin xid, invalidated bool, snapshot bool,
	database_exists bool, primary_slot_name name, blocker text,
	upstream_catalog_xmin xid, local_identity int8, local_waiting bool,
	local_restart_lsn pg_lsn, local_catalog_xmin xid, local_invalidated bool,
	OUT action text, OUT state text, OUT reason text)
	RETURNS record
	AS 'slot_failover', 'slot_failover_decide_for_test'
	LANGUAGE C;

-- The row is slot "copy" of identity 1 in database 16384, unless a case
-- says otherwise; local_identity NULL: no local slot, 0: one without marker;
-- local_invalidated: a restartpoint here removed the copy's WAL.
SELECT c.n, c.rule, d.action, d.state, d.reason
FROM (VALUES
	(1, 'database missing', true, 1, '0/3000000', '750', false, true, false, 'up', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(2, 'conflict', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, NULL, 0, false, '0/1000000', '700', false),
	(3, 'other identity', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, NULL, 2, false, '0/1000000', '700', false),
	(4, 'primary_slot_name', false, 1, '0/3000000', '0', false, false, true, 'copy', NULL, NULL, 1, true, '0/1000000', '0', false),
	(5, 'invalidated', true, 1, '0/3000000', '750', true, true, true, 'up', NULL, NULL, 1, false, '0/1000000', '700', false),
	(6, 'no restart_lsn', false, 1, '0/0', '0', false, false, true, 'up', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(7, 'logical blocker, waiting copy', true, 1, '0/3000000', '750', false, true, true, 'up', '"hot_standby_feedback" is off', NULL, 1, true, '0/1000000', '700', false),
	(8, 'physical, blocker ignored', false, 1, '0/3000000', '0', false, false, true, 'up', '"hot_standby_feedback" is off', NULL, NULL, NULL, NULL, NULL, NULL),
	(9, 'no copy', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(10, 'ready copy advances', true, 1, '0/3000000', '750', false, false, true, 'up', NULL, NULL, 1, false, '0/4000000', '800', false),
	(11, 'waiting below reservation, physical', false, 1, '0/3000000', '0', false, false, true, 'up', NULL, NULL, 1, true, '0/3000100', '0', false),
	(12, 'waiting below reservation, logical restart_lsn', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, '760', 1, true, '0/3000100', '740', false),
	(13, 'waiting below reservation, logical catalog_xmin', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, '760', 1, true, '0/2000000', '755', false),
	(14, 'waiting, row without catalog_xmin', true, 1, '0/3000000', '0', false, true, true, 'up', NULL, '760', 1, true, '0/2000000', '740', false),
	(15, 'waiting, no snapshot', true, 1, '0/3000000', '750', false, false, true, 'up', NULL, '700', 1, true, '0/2000000', '740', false),
	(16, 'waiting, upstream behind', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, '745', 1, true, '0/2000000', '740', false),
	(17, 'waiting, upstream without catalog_xmin', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, '0', 1, true, '0/2000000', '740', false),
	(18, 'make ready, logical', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, '740', 1, true, '0/2000000', '740', false),
	(19, 'make ready, logical, no upstream row', true, 1, '0/3000000', '750', false, true, true, NULL, NULL, NULL, 1, true, '0/2000000', '740', false),
	(20, 'make ready, physical', false, 1, '0/3000000', '0', false, false, true, 'up', NULL, NULL, 1, true, '0/3000000', '0', false),
	-- which rule wins where two apply
	(21, 'blocker before creating a copy', true, 1, '0/3000000', '750', false, true, true, 'up', '"hot_standby_feedback" is off', NULL, NULL, NULL, NULL, NULL, NULL),
	(22, 'blocker, ready copy (feedback off)', true, 1, '0/3000000', '750', false, true, true, 'up', '"hot_standby_feedback" is off', NULL, 1, false, '0/2000000', '740', false),
	(23, 'invalidated before blocker', true, 1, '0/3000000', '750', true, true, true, 'up', '"hot_standby_feedback" is off', NULL, 1, false, '0/2000000', '740', false),
	(24, 'primary_slot_name before invalidated', false, 1, '0/3000000', '0', true, false, true, 'copy', NULL, NULL, 1, false, '0/2000000', '0', false),
	(25, 'catalog_xmin equal to the reservation', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, '740', 1, true, '0/2000000', '750', false),
	(26, 'physical row, upstream ignored', false, 1, '0/3000000', '0', false, false, true, 'up', NULL, '745', 1, true, '0/3000000', '0', false),
	(27, 'blocker, no copy, row ready to take', true, 1, '0/3000000', '750', false, true, true, 'up', 'this standby does not stream from a primary', NULL, NULL, NULL, NULL, NULL, NULL),
	(28, 'blocker, waiting copy the row has passed', true, 1, '0/3000000', '750', false, true, true, 'up', 'this standby does not stream from a primary', '740', 1, true, '0/2000000', '740', false),
	(29, 'ready copy invalidated here', false, 1, '0/3000000', '0', false, false, true, 'up', NULL, NULL, 1, false, '0/0', '0', true),
	(30, 'waiting copy invalidated here, logical', true, 1, '0/3000000', '750', false, true, true, 'up', NULL, '740', 1, true, '0/0', '740', true),
	(31, 'conflict before invalidated copy', false, 1, '0/3000000', '0', false, false, true, 'up', NULL, NULL, 0, false, '0/0', '0', true))
	AS c(n, rule, logical, identity, restart_lsn, catalog_xmin, invalidated,
		 snapshot, database_exists, primary_slot_name, blocker,
		 upstream_catalog_xmin, local_identity, local_waiting,
		 local_restart_lsn, local_catalog_xmin, local_invalidated),
	LATERAL pg_temp.decide('copy', c.logical, c.identity, 16384,
						   c.restart_lsn::pg_lsn, c.catalog_xmin::xid,
						   c.invalidated, c.snapshot, c.database_exists,
						   c.primary_slot_name, c.blocker,
						   c.upstream_catalog_xmin::xid, c.local_identity,
						   c.local_waiting, c.local_restart_lsn::pg_lsn,
						   c.local_catalog_xmin::xid, c.local_invalidated) AS d
ORDER BY c.n;
