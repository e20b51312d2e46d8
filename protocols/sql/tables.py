"""The data behind SQL classification: statement types, functions, settings, catalogs.

This module is the reference README links to ("SQL classification tables"). Everything
here is data; ``protocols.sql.classify`` walks the pglast (libpg_query) JSON parse tree and
looks node types, function names, setting names and relation names up in these tables.

Rules the tables encode (decisions, with the reason):

* A statement type not listed anywhere is ``unknown`` (fail closed).
* ``read``: SELECT/VALUES/TABLE, DECLARE CURSOR, FETCH, EXPLAIN without ANALYZE (it plans,
  it does not run: a planned DELETE is a read; dangerous *functions* inside it stay flagged
  because we do not rely on the planner never evaluating them).
* ``write``: INSERT, MERGE, UPDATE/DELETE whose WHERE restricts rows, COPY FROM STDIN,
  NOTIFY, LOCK, ANALYZE, REFRESH MATERIALIZED VIEW, ``setval``, writable CTEs.
* ``destructive``: DROP, TRUNCATE, ALTER TABLE DROP COLUMN, DROP OWNED, UPDATE/DELETE with
  no WHERE or a WHERE that does not restrict rows (no column of the target in it, or an OR
  branch without one: ``WHERE true``, ``1 = 1``, ``id = 5 OR true``, ``id = id``).
* ``ddl``: CREATE/ALTER of schema objects; CREATE TABLE AS and SELECT INTO are ddl+write.
* ``transaction``: BEGIN/START/COMMIT/END/ROLLBACK/SAVEPOINT/RELEASE, SET TRANSACTION,
  SET CONSTRAINTS. Two-phase commit (PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED) is
  ``admin``: it leaves a transaction holding locks beyond the session.
* ``session``: SHOW, RESET ALL, DISCARD, DEALLOCATE, LISTEN/UNLISTEN, CLOSE, and SET /
  RESET / ``set_config`` of a setting in ``SESSION_SETTINGS``. ``search_path`` is allowed
  (dangerous built-ins are matched by name whatever the schema) unless it names
  ``pg_catalog`` after another schema, or set_config computes it: then a user's function
  or operator named like a built-in wins over it, so that is ``unknown``.
* ``row_security`` is ``session``: turning it off makes queries that RLS would filter fail
  instead; it bypasses nothing. pg_dump's preamble is therefore all ``session`` except
  ``session_replication_role`` (--disable-triggers).
* Settings outside the allowlist: ``PRIVILEGE_SETTINGS`` → privilege, ``TAMPER_SETTINGS``
  (and ``log_*``, ``pgaudit.*``) → tamper, other custom ``a.b`` settings → privilege (they
  commonly drive row-level-security policies), any other → unknown.
  ``standard_conforming_strings`` set to a literal true value and ``client_encoding`` set
  to a UTF-8 spelling do not change the lexing state and are ``session``; any other value,
  DEFAULT or RESET of them is ``tamper``.
* Functions are matched by their final name after the parser's identifier folding and
  U& decoding (``U&"\\0070g_read_file"`` is ``pg_read_file``; quoted ``"PG_READ_FILE"`` is
  a different, user-defined name), whatever the schema qualifier.
* A statement that binds a function for later, implicit runs (CREATE OPERATOR / CAST /
  AGGREGATE / CONVERSION / TRANSFORM / EVENT TRIGGER / OPERATOR CLASS, a base or range
  type's support functions, ALTER OPERATOR SET, ALTER TYPE SET, ALTER OPERATOR FAMILY ADD)
  takes the categories of calling each bound function plus ``code``; a trigger takes its
  function's categories, plus ``code`` when that function is flagged. A flagged call (or
  sensitive catalog, or non-built-in operator) inside an expression a statement stores
  for later (DEFAULT, generated column, CHECK, domain, index, view, materialized view,
  rule, policy, trigger WHEN, statistics: anything not in ``RUNS_NOW``) is also ``code``:
  after one approval, the later INSERT or SELECT that runs it would look benign.
  ``protocols.sql.binding`` reads the names.
* A code body (CREATE FUNCTION/PROCEDURE ``AS '...'``, DO) also takes the categories of
  the flagged functions and sensitive catalogs its text names (``protocols.sql.binding``,
  by name, strings and comments included): a function body runs on every later call,
  which looks like a read, so a policy that lets ``code`` through still reviews them.
* An operator that is not one of PostgreSQL 15's built-in operator names
  (``protocols.sql.operators``, generated from ``pg_operator``), or one qualified with a
  schema other than ``pg_catalog``, is ``unknown``: it may run any function. A user
  operator overloading a built-in *name* for their own types is not caught here (that
  needs the target's catalog).
* Function forms of sensitive catalogs (``pg_hba_file_rules()``,
  ``pg_show_all_file_settings()``, ``pg_ls_*``, ``pg_read_*``...) are export like them.
* Relations in ``SENSITIVE_CATALOGS`` read anywhere → export; any write into a ``pg_*``
  relation or the ``pg_catalog``/``information_schema`` schemas → admin; writing
  ``pg_settings`` is ``set_config`` → tamper + privilege.
"""

from __future__ import annotations

from protocols.classification import Category as C

R = C.READ
W = C.WRITE
DDL = C.DDL
TX = C.TRANSACTION
S = C.SESSION
EXP = C.EXPORT
PRIV = C.PRIVILEGE
DEST = C.DESTRUCTIVE
ADM = C.ADMIN
CODE = C.CODE
TAMP = C.TAMPER

Entry = tuple[tuple[C, ...], str]

#: Statement node types classified by type alone: (categories, reason for non-benign ones).
#: Node types with special handling (SELECT, DML, COPY, SET, EXPLAIN, DROP, ALTER TABLE,
#: PREPARE/EXECUTE, functions...) are in ``classify.py`` and listed in ``SPECIAL``.
STATEMENTS: dict[str, Entry] = {
    # schema changes
    **{
        name: ((DDL,), "changes the schema")
        for name in [
            "CreateStmt",
            "IndexStmt",
            "ViewStmt",
            "CreateSeqStmt",
            "AlterSeqStmt",
            "CommentStmt",
            "RenameStmt",
            "CompositeTypeStmt",
            "CreateEnumStmt",
            "AlterEnumStmt",
            "CreateRangeStmt",
            "CreateDomainStmt",
            "AlterDomainStmt",
            "DefineStmt",
            "CreateStatsStmt",
            "AlterStatsStmt",
            "AlterObjectSchemaStmt",
            "AlterObjectDependsStmt",
            "CreateCastStmt",
            "CreateConversionStmt",
            "CreateOpClassStmt",
            "CreateOpFamilyStmt",
            "AlterOpFamilyStmt",
            "AlterOperatorStmt",
            "AlterTypeStmt",
            "AlterCollationStmt",
            "AlterTSDictionaryStmt",
            "AlterTSConfigurationStmt",
            "CreateTrigStmt",
            "RuleStmt",
        ]
    },
    "CreateForeignTableStmt": ((DDL, EXP), "defines a table whose rows live on a foreign server"),
    # server administration
    **{
        name: ((ADM,), "server administration")
        for name in [
            "AlterTableMoveAllStmt",
            "CreateExtensionStmt",
            "AlterExtensionStmt",
            "AlterExtensionContentsStmt",
            "CreateFdwStmt",
            "AlterFdwStmt",
            "CreateTableSpaceStmt",
            "AlterTableSpaceOptionsStmt",
            "CreatedbStmt",
            "AlterDatabaseStmt",
            "AlterDatabaseSetStmt",
            "AlterDatabaseRefreshCollStmt",
            "CheckPointStmt",
            "ClusterStmt",
            "ReindexStmt",
            "CreateTransformStmt",
            "CreateAmStmt",
            "AlterEventTrigStmt",
        ]
    },
    "AlterSystemStmt": ((ADM, TAMP), "ALTER SYSTEM changes the server configuration"),
    "LoadStmt": ((ADM, CODE), "LOAD loads a shared library into the server"),
    "CreatePLangStmt": ((ADM, CODE), "installs a procedural language"),
    "CreateEventTrigStmt": ((ADM, CODE), "an event trigger runs code on every DDL"),
    "DropTableSpaceStmt": ((ADM, DEST), "drops a tablespace"),
    "DropdbStmt": ((ADM, DEST), "drops a database"),
    "CreateForeignServerStmt": ((ADM, EXP), "defines a foreign server data can flow to"),
    "AlterForeignServerStmt": ((ADM, EXP), "changes a foreign server"),
    "CreateUserMappingStmt": ((ADM, EXP), "stores credentials for a foreign server"),
    "AlterUserMappingStmt": ((ADM, EXP), "changes credentials for a foreign server"),
    "DropUserMappingStmt": ((ADM, DEST), "drops a user mapping"),
    "ImportForeignSchemaStmt": ((ADM, EXP), "imports tables from a foreign server"),
    "CreatePublicationStmt": ((ADM, EXP), "a publication streams table changes out"),
    "AlterPublicationStmt": ((ADM, EXP), "changes what a publication streams out"),
    "CreateSubscriptionStmt": ((ADM, EXP), "a subscription connects to another server"),
    "AlterSubscriptionStmt": ((ADM, EXP), "changes a subscription"),
    "DropSubscriptionStmt": ((ADM, DEST), "drops a subscription"),
    # roles and privileges
    "GrantStmt": ((PRIV,), "GRANT/REVOKE changes privileges"),
    "AlterDefaultPrivilegesStmt": ((PRIV,), "changes default privileges"),
    "AlterRoleStmt": ((PRIV,), "alters a role"),
    "AlterRoleSetStmt": ((PRIV,), "changes a role's settings"),
    "DropRoleStmt": ((PRIV, DEST), "drops a role"),
    "AlterOwnerStmt": ((PRIV,), "changes an owner"),
    "ReassignOwnedStmt": ((PRIV,), "reassigns ownership"),
    "DropOwnedStmt": ((PRIV, DEST), "drops everything a role owns"),
    "CreatePolicyStmt": ((PRIV,), "creates a row-level-security policy"),
    "AlterPolicyStmt": ((PRIV,), "alters a row-level-security policy"),
    "SecLabelStmt": ((PRIV,), "changes a security label"),
    # code
    "DoStmt": ((CODE,), "DO runs an anonymous code block"),
    "CallStmt": ((CODE,), "CALL runs a procedure"),
    # benign
    "NotifyStmt": ((W,), ""),
    "LockStmt": ((W,), ""),
    "RefreshMatViewStmt": ((W,), ""),
    "DeclareCursorStmt": ((R,), ""),
    "FetchStmt": ((R,), ""),
    "ClosePortalStmt": ((S,), ""),
    "VariableShowStmt": ((S,), ""),
    "DiscardStmt": ((S,), ""),
    "DeallocateStmt": ((S,), ""),
    "ListenStmt": ((S,), ""),
    "UnlistenStmt": ((S,), ""),
    "ConstraintsSetStmt": ((TX,), ""),
}

#: Node types handled by code in classify.py (listed so tests can check coverage).
SPECIAL: frozenset[str] = frozenset(
    [
        "SelectStmt",
        "UpdateStmt",
        "DeleteStmt",
        "CopyStmt",
        "VariableSetStmt",
        "ExplainStmt",
        "PrepareStmt",
        "ExecuteStmt",
        "TransactionStmt",
        "DropStmt",
        "AlterTableStmt",
        "CreateFunctionStmt",
        "VacuumStmt",
        "CreateTableAsStmt",
        "TruncateStmt",
        "CreateSchemaStmt",
        "InsertStmt",
        "MergeStmt",
        "AlterFunctionStmt",
        "GrantRoleStmt",
        "CreateRoleStmt",
        "DoStmt",
    ]
)

#: Statements whose expressions run now, once. In any other statement an expression is
#: stored to run later without being named (a DEFAULT, CHECK, generated column, index
#: expression, view, rule, policy, trigger WHEN...): a flagged call there is also ``code``.
#: CREATE MATERIALIZED VIEW counts as storing (REFRESH runs it again).
RUNS_NOW: frozenset[str] = frozenset(
    [
        "SelectStmt",
        "InsertStmt",
        "UpdateStmt",
        "DeleteStmt",
        "MergeStmt",
        "CopyStmt",
        "ExplainStmt",
        "CallStmt",
        "DoStmt",
        "VariableSetStmt",
        "PrepareStmt",
        "ExecuteStmt",
        "DeclareCursorStmt",
        "CreateTableAsStmt",
        "TransactionStmt",
    ]
)

#: Statements that bind a function by name (``protocols.sql.binding``): they take the
#: categories of calling each bound function, plus ``code``.
BINDING_STATEMENTS: frozenset[str] = frozenset(
    [
        "DefineStmt",
        "CreateCastStmt",
        "CreateConversionStmt",
        "CreateTransformStmt",
        "CreateEventTrigStmt",
        "CreateOpClassStmt",
        "AlterOpFamilyStmt",
        "AlterOperatorStmt",
        "AlterTypeStmt",
        "CreateRangeStmt",
        "CreateTrigStmt",
        "CreatePLangStmt",
        "CreateFdwStmt",
        "AlterFdwStmt",
        "CreateAmStmt",
        "AlterFunctionStmt",
    ]
)

#: TransactionStmt kinds that are two-phase commit (admin, see module docstring).
TWO_PHASE: frozenset[str] = frozenset(
    {"TRANS_STMT_PREPARE", "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED"}
)

#: DROP of these object types is admin (server-level objects), not just ddl.
ADMIN_DROPS: frozenset[str] = frozenset(
    [
        "OBJECT_EXTENSION",
        "OBJECT_LANGUAGE",
        "OBJECT_EVENT_TRIGGER",
        "OBJECT_FOREIGN_SERVER",
        "OBJECT_FDW",
        "OBJECT_PUBLICATION",
        "OBJECT_ACCESS_METHOD",
        "OBJECT_TRANSFORM",
    ]
)
#: DROP of relations names tables in its objects.
RELATION_DROPS: frozenset[str] = frozenset(
    [
        "OBJECT_TABLE",
        "OBJECT_VIEW",
        "OBJECT_MATVIEW",
        "OBJECT_FOREIGN_TABLE",
        "OBJECT_SEQUENCE",
        "OBJECT_INDEX",
    ]
)

#: ALTER TABLE sub-commands that are more than ddl.
ALTER_TABLE_CMDS: dict[str, Entry] = {
    "AT_ChangeOwner": ((PRIV,), "changes a table's owner"),
    "AT_EnableRowSecurity": ((PRIV,), "switches row-level security"),
    "AT_DisableRowSecurity": ((PRIV,), "switches row-level security off"),
    "AT_ForceRowSecurity": ((PRIV,), "switches forced row-level security"),
    "AT_NoForceRowSecurity": ((PRIV,), "switches forced row-level security off"),
    "AT_DisableTrig": ((PRIV,), "disables a trigger (audit/integrity)"),
    "AT_DisableTrigAll": ((PRIV,), "disables all triggers (audit/integrity)"),
    "AT_DisableTrigUser": ((PRIV,), "disables triggers (audit/integrity)"),
    "AT_DisableRule": ((PRIV,), "disables a rule"),
    "AT_DropColumn": ((DEST,), "drops a column and its data"),
}

#: Settings SET/RESET/set_config may change freely (``session``).
SESSION_SETTINGS: frozenset[str] = frozenset(
    [
        "application_name",
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "idle_session_timeout",
        "transaction_timeout",
        "work_mem",
        "maintenance_work_mem",
        "temp_buffers",
        "hash_mem_multiplier",
        "logical_decoding_work_mem",
        "timezone",
        "datestyle",
        "intervalstyle",
        "extra_float_digits",
        "client_min_messages",
        "bytea_output",
        "xmloption",
        "xmlbinary",
        "default_transaction_isolation",
        "default_transaction_read_only",
        "default_transaction_deferrable",
        "transaction_isolation",
        "transaction_read_only",
        "transaction_deferrable",
        "search_path",
        "lc_messages",
        "lc_monetary",
        "lc_numeric",
        "lc_time",
        "default_text_search_config",
        "gin_fuzzy_search_limit",
        "array_nulls",
        "quote_all_identifiers",
        "synchronize_seqscans",
        "random_page_cost",
        "seq_page_cost",
        "cpu_tuple_cost",
        "cpu_index_tuple_cost",
        "cpu_operator_cost",
        "parallel_setup_cost",
        "parallel_tuple_cost",
        "min_parallel_table_scan_size",
        "min_parallel_index_scan_size",
        "effective_cache_size",
        "effective_io_concurrency",
        "maintenance_io_concurrency",
        "jit",
        "jit_above_cost",
        "jit_inline_above_cost",
        "jit_optimize_above_cost",
        "geqo",
        "geqo_threshold",
        "geqo_effort",
        "geqo_pool_size",
        "geqo_generations",
        "geqo_selection_bias",
        "geqo_seed",
        "from_collapse_limit",
        "join_collapse_limit",
        "plan_cache_mode",
        "max_parallel_workers_per_gather",
        "max_parallel_maintenance_workers",
        "parallel_leader_participation",
        "force_parallel_mode",
        "debug_parallel_query",
        "constraint_exclusion",
        "cursor_tuple_fraction",
        "default_statistics_target",
        "recursive_worktable_factor",
        "gin_pending_list_limit",
        "vacuum_cost_delay",
        "vacuum_cost_limit",
        "statement_mem",
        "default_table_access_method",
        "default_tablespace",
        "temp_tablespaces",
        "check_function_bodies",
        "default_toast_compression",
        "vacuum_freeze_min_age",
        "vacuum_freeze_table_age",
        "deadlock_timeout",
        "commit_delay",
        "synchronous_commit",
        "tcp_keepalives_idle",
        "tcp_keepalives_interval",
        "tcp_keepalives_count",
        "tcp_user_timeout",
        "client_connection_check_interval",
        # row_security = off makes RLS-filtered queries fail instead of filtering: stricter
        "row_security",
        "escape_string_warning",  # warnings only; lexing is unchanged
        "default_with_oids",
        "max_parallel_workers",
        "enable_partitionwise_join",
    ]
)
#: Planner ``enable_*`` switches are all session settings (matched by prefix).
#: So are the tuning knobs of common extensions (pg_trgm, plpgsql, pgvector's hnsw/ivfflat).
SESSION_PREFIXES: tuple[str, ...] = ("enable_", "pg_trgm.", "plpgsql.", "hnsw.", "ivfflat.")

PRIVILEGE_SETTINGS: dict[str, str] = {
    "role": "changes the current role",
    "session_authorization": "changes the session user",
    "session_replication_role": "disables triggers and foreign keys (replica mode)",
}
TAMPER_SETTINGS: dict[str, str] = {
    "standard_conforming_strings": "changes how the server lexes backslashes in strings",
    "client_encoding": "changes how the server decodes the bytes it receives",
    "backslash_quote": "changes how the server lexes backslashes in strings",
    "log_statement": "changes server statement logging",
    "log_min_duration_statement": "changes server statement logging",
    "debug_print_parse": "changes server debug logging",
    "track_activities": "hides the session from pg_stat_activity",
    "allow_system_table_mods": "allows modifying system catalogs",
    "ignore_system_indexes": "changes catalog access",
    "zero_damaged_pages": "destroys damaged pages",
}
TAMPER_PREFIXES: tuple[str, ...] = ("log_", "pgaudit.", "debug_", "trace_")

#: Catalogs whose contents are secret (password hashes, credentials, statistics samples of
#: any column, server config files): reading them is ``export``.
SENSITIVE_CATALOGS: frozenset[str] = frozenset(
    [
        "pg_authid",
        "pg_shadow",
        "pg_user_mapping",
        "pg_user_mappings",
        "pg_largeobject",
        "pg_statistic",
        "pg_statistic_ext_data",
        "pg_hba_file_rules",
        "pg_file_settings",
        "pg_ident_file_mappings",
        "pg_subscription",
        "user_mapping_options",  # information_schema: foreign-server credentials
        "user_mappings",
    ]
)

#: Functions by exact final name.
FUNCTIONS: dict[str, Entry] = {
    **{
        name: ((EXP, ADM), "reads a file on the database server")
        for name in [
            "pg_read_file",
            "pg_read_binary_file",
            "pg_stat_file",
            "pg_ls_dir",
            "pg_logdir_ls",
        ]
    },
    **{
        name: ((ADM, DEST), "writes files on the database server (adminpack)")
        for name in ["pg_file_write", "pg_file_rename", "pg_file_unlink", "pg_file_sync"]
    },
    **{
        name: ((EXP,), "reads server configuration or logs (function form of a sensitive catalog)")
        for name in [
            "pg_hba_file_rules",
            "pg_ident_file_mappings",
            "pg_show_all_file_settings",
            "pg_current_logfile",
        ]
    },
    "lo_manage": ((EXP, DEST), "a trigger function that deletes large objects"),
    "lo_import": ((EXP, ADM), "imports a server file into a large object"),
    "lo_export": ((EXP, ADM), "writes a large object to a server file"),
    "lo_unlink": ((EXP, DEST), "deletes a large object"),
    **{
        name: ((EXP,), "accesses large objects (outside table privileges)")
        for name in [
            "lo_get",
            "lo_put",
            "lo_from_bytea",
            "lo_open",
            "lo_close",
            "loread",
            "lowrite",
            "lo_creat",
            "lo_create",
            "lo_lseek",
            "lo_lseek64",
            "lo_tell",
            "lo_tell64",
            "lo_truncate",
            "lo_truncate64",
        ]
    },
    **{
        name: ((ADM,), "server administration function")
        for name in [
            "pg_terminate_backend",
            "pg_cancel_backend",
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_promote",
            "pg_switch_wal",
            "pg_switch_xlog",
            "pg_create_restore_point",
            "pg_log_backend_memory_contexts",
            "pg_import_system_collations",
            "pg_backup_start",
            "pg_backup_stop",
            "pg_start_backup",
            "pg_stop_backup",
            "pg_wal_replay_pause",
            "pg_wal_replay_resume",
            "pg_xlog_replay_pause",
            "pg_xlog_replay_resume",
            "pg_stat_statements_reset",
            "pg_extension_config_dump",
            "pg_sync_replication_slots",
            "pg_log_standby_snapshot",
            "pg_prewarm",
            "pg_truncate_visibility_map",
        ]
    },
    **{
        name: ((CODE,), "executes SQL given as a string (opaque to the checkpoint)")
        for name in [
            "query_to_xml",
            "query_to_xmlschema",
            "query_to_xml_and_xmlschema",
            "cursor_to_xml",
            "cursor_to_xmlschema",
            "table_to_xml",
            "table_to_xmlschema",
            "table_to_xml_and_xmlschema",
            "schema_to_xml",
            "schema_to_xmlschema",
            "schema_to_xml_and_xmlschema",
            "database_to_xml",
            "database_to_xmlschema",
            "database_to_xml_and_xmlschema",
            "crosstab",
            "crosstab2",
            "crosstab3",
            "crosstab4",
            "connectby",
            "xpath_table",
            "ts_stat",
            "ts_rewrite",
        ]
    },
    "postgres_fdw_disconnect": ((ADM,), "manages foreign-server connections"),
    "postgres_fdw_disconnect_all": ((ADM,), "manages foreign-server connections"),
    "postgres_fdw_get_connections": ((ADM,), "inspects foreign-server connections"),
}

#: Functions by name prefix (checked when the exact table has no entry).
FUNCTION_PREFIXES: tuple[tuple[str, Entry], ...] = (
    ("dblink", ((EXP, CODE), "dblink runs SQL on another server")),
    ("pg_ls_", ((EXP, ADM), "lists a directory on the database server")),
    ("pg_read_", ((EXP, ADM), "reads a file on the database server")),  # pg_read_file_old...
    ("pg_stat_reset", ((ADM, TAMP), "resets server statistics")),
    ("pg_replication_origin_", ((ADM,), "manages replication origins")),
    ("pg_logical_slot_", ((EXP, ADM), "reads the change stream of a replication slot")),
    ("binary_upgrade_", ((ADM,), "binary-upgrade support function")),
)
#: Functions containing this substring manage replication slots.
FUNCTION_SUBSTRINGS: tuple[tuple[str, Entry], ...] = (
    ("replication_slot", ((ADM,), "manages a replication slot")),
)

#: Procedural languages that can reach the OS (their functions are admin as well as code).
UNTRUSTED_LANGUAGES: frozenset[str] = frozenset(
    {"c", "internal", "plpythonu", "plpython2u", "plpython3u", "plperlu", "pltclu", "plsh"}
)
