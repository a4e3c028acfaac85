/* slot_failover--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION slot_failover UPDATE TO '1.1'" to load this file. \quit

-- The position from which a two_phase slot decodes prepared transactions
-- at PREPARE time; a copy needs it to decode a transaction prepared before
-- failover and committed after it exactly once.
ALTER TABLE slot_failover.slots ADD COLUMN two_phase_at pg_lsn;
