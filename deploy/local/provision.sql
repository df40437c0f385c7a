-- Device Manager: PostgreSQL provisioning. One database; for each service one LOGIN role
-- that owns one schema and can create nothing anywhere else. Idempotent: run it again
-- after every change (it also resets the role passwords to the given values).
--
-- Run as a superuser, connected to any database of the cluster, with psql (15+):
--   psql -X -v ON_ERROR_STOP=1 -h HOST -p PORT -U postgres -d postgres \
--        -v gateway_password=... -v ingest_password=... -v registry_password=... \
--        -v orchestrator_password=... -v dispatcher_password=... \
--        [-v dbname=device_manager] -f provision.sql
-- (deploy/local/up feeds the variables through stdin with \set so they never appear in
-- `ps`; Kubernetes/compose jobs can do the same from their secrets.)
--
--   service                 role             schema
--   gateway                 dm_gateway       gateway
--   ingest                  dm_ingest        ingest
--   registry                dm_registry      registry        (+ extension pg_trgm)
--   flow-orchestrator       dm_orchestrator  orchestrator
--   integration-dispatcher  dm_dispatcher    dispatcher
--
-- The function runner keeps nothing in PostgreSQL (function runs are recorded by the
-- orchestrator) and gets no role. A database provisioned before that keeps role dm_runner and
-- schema runner with the old function history: this script leaves the schema as it is but
-- takes the role's LOGIN and password away (and the grants this script gave it), so credentials
-- nobody needs open nothing.
-- Once that history is not wanted: DROP SCHEMA runner CASCADE; DROP ROLE dm_runner;
-- (a runner_password variable, given by older scripts, is ignored.)
--
-- Each role has search_path = its schema, so services use unqualified table names and
-- their migrations create tables in their own schema. A role has no USAGE on any other
-- service's schema: reading another service's tables fails with "permission denied".
\set ON_ERROR_STOP on

\if :{?dbname}
\else
  \set dbname device_manager
\endif

-- Every password variable is required.
\if :{?gateway_password} \else \set missing gateway_password \endif
\if :{?ingest_password} \else \set missing ingest_password \endif
\if :{?registry_password} \else \set missing registry_password \endif
\if :{?orchestrator_password} \else \set missing orchestrator_password \endif
\if :{?dispatcher_password} \else \set missing dispatcher_password \endif
\if :{?missing}
  \warn provision.sql: psql variable :missing is required
  -- Fail (ON_ERROR_STOP turns this into a non-zero exit status).
  SELECT 1 / 0 AS missing_password_variable;
\endif

-- ---- roles (cluster-wide) ----------------------------------------------------------
SELECT 'CREATE ROLE dm_gateway LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dm_gateway') \gexec
SELECT 'CREATE ROLE dm_ingest LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dm_ingest') \gexec
SELECT 'CREATE ROLE dm_registry LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dm_registry') \gexec
SELECT 'CREATE ROLE dm_orchestrator LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dm_orchestrator') \gexec
SELECT 'CREATE ROLE dm_dispatcher LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dm_dispatcher') \gexec

-- Plain roles: no superuser, no CREATEDB/CREATEROLE, no replication, no RLS bypass.
ALTER ROLE dm_gateway LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'gateway_password';
ALTER ROLE dm_ingest LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'ingest_password';
ALTER ROLE dm_registry LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'registry_password';
ALTER ROLE dm_orchestrator LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'orchestrator_password';
ALTER ROLE dm_dispatcher LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'dispatcher_password';

ALTER ROLE dm_gateway SET search_path = gateway;
ALTER ROLE dm_ingest SET search_path = ingest;
ALTER ROLE dm_registry SET search_path = registry;
ALTER ROLE dm_orchestrator SET search_path = orchestrator;
ALTER ROLE dm_dispatcher SET search_path = dispatcher;

-- ---- database -----------------------------------------------------------------------
SELECT format('CREATE DATABASE %I', :'dbname')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') \gexec
\connect :"dbname"

-- Nobody but the owner (the superuser) creates schemas; nobody creates in public.
-- CONNECT and TEMPORARY stay granted (temporary tables serve batch upserts via COPY).
REVOKE CREATE ON DATABASE :"dbname" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname"
   TO dm_gateway, dm_ingest, dm_registry, dm_orchestrator, dm_dispatcher;

-- ---- schemas: each owned by its service's role, closed to everyone else -------------
CREATE SCHEMA IF NOT EXISTS gateway AUTHORIZATION dm_gateway;
CREATE SCHEMA IF NOT EXISTS ingest AUTHORIZATION dm_ingest;
CREATE SCHEMA IF NOT EXISTS registry AUTHORIZATION dm_registry;
CREATE SCHEMA IF NOT EXISTS orchestrator AUTHORIZATION dm_orchestrator;
CREATE SCHEMA IF NOT EXISTS dispatcher AUTHORIZATION dm_dispatcher;

-- In case a schema existed before with another owner.
ALTER SCHEMA gateway OWNER TO dm_gateway;
ALTER SCHEMA ingest OWNER TO dm_ingest;
ALTER SCHEMA registry OWNER TO dm_registry;
ALTER SCHEMA orchestrator OWNER TO dm_orchestrator;
ALTER SCHEMA dispatcher OWNER TO dm_dispatcher;

REVOKE ALL ON SCHEMA gateway, ingest, registry, orchestrator, dispatcher FROM PUBLIC;

-- ---- the function runner's former role (databases provisioned before it lost its schema) ----
SELECT 'ALTER ROLE dm_runner NOLOGIN PASSWORD NULL'
 WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = 'dm_runner') \gexec
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM dm_runner', :'dbname')
 WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = 'dm_runner') \gexec

-- ---- extensions (need a superuser) ---------------------------------------------------
-- Trigram indexes for the registry's search (name/EUI/tag ILIKE and similarity).
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA registry;
