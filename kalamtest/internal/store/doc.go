// Package store gives kalamtest KalamDB's SQL semantics on a real embedded
// SQLite database (github.com/ncruces/go-sqlite3, cgo-free): namespaces,
// USER/SHARED/STREAM tables, versioned rows with _seq and soft deletes,
// users, live-query snapshots, and a change feed that drives subscription
// notifications. PROTOCOL.md (in the project's shared notes) is the
// authority for every shape and message; this package reproduces them so
// the HTTP/WebSocket layer can copy results and errors onto the wire.
//
// # Storage model
//
// A table ns.t is stored in the SQLite table "ns.t#" with two hidden
// columns, the owning user (per-user tables) and the soft-delete flag, plus
// _seq. The view "ns.t" shows the calling user's live rows: user SQL is
// rewritten so that ns.t (and unqualified names, through the session's
// namespace) reads that view. Writes go to the physical table directly:
//
//   - INSERT adds rows with a fresh _seq each; a key whose row was deleted
//     can be inserted again; a live duplicate key fails with KalamDB's
//     "Primary key violation: value '1' already exists in column 'id'".
//   - UPDATE rewrites the matching live rows in place with a new _seq.
//   - DELETE is a soft delete: _deleted becomes true and the row (the
//     tombstone) gets a new _seq. Reads never show tombstones.
//
// _seq values are Snowflakes (Options.Worker, Options.Now) and strictly
// increase across the store, also when the clock goes back, when more than
// 4096 rows land in one millisecond, and across restarts of an on-disk
// store. Row triggers capture every committed change with its old and new
// values; Watch delivers them in commit (= _seq) order.
//
// # Dialect
//
// Supported, one request being one or more statements separated by ';'
// (quotes, comments and parentheses respected):
//
//   - CREATE NAMESPACE [IF NOT EXISTS] ns; DROP NAMESPACE [IF EXISTS] ns
//     [CASCADE]; USE ns, USE NAMESPACE ns, SET NAMESPACE ns (for the rest of
//     the request); SHOW NAMESPACES; SHOW TABLES [IN [NAMESPACE] ns].
//   - CREATE [USER|SHARED|STREAM] TABLE [IF NOT EXISTS] [ns.]t (col TYPE
//     [PRIMARY KEY] [NOT NULL|NULL] [UNIQUE] [DEFAULT …] [AUTO_INCREMENT],
//     …, [CONSTRAINT n] [PRIMARY KEY (a, b)]) [WITH (TYPE = …, ACCESS_LEVEL
//     = …, TTL_SECONDS = …, …)] [TTL n]. As in KalamDB, plain CREATE TABLE
//     makes a SHARED table (access level private), except that a user or
//     service creating it in the namespace named after itself gets a USER
//     table; USER and SHARED tables need a primary key; STREAM tables need
//     a TTL. DEFAULT takes a literal or NOW(), CURRENT_TIMESTAMP,
//     SNOWFLAKE_ID(), UUID_V7(), ULID(), CURRENT_USER(); AUTO_INCREMENT is
//     rewritten to DEFAULT SNOWFLAKE_ID(), as KalamDB does.
//   - DROP [USER|SHARED|STREAM] TABLE [IF EXISTS] [ns.]t (dba/system).
//   - INSERT INTO t [(cols)] VALUES (…), (…) | SELECT …; UPDATE t SET c = …
//     [WHERE …]; DELETE FROM t [WHERE …]. No RETURNING, ON CONFLICT, OR
//     REPLACE, UPDATE … FROM. As in KalamDB, an UPDATE skips the rows it
//     would leave as they are: no new version, no change event, not
//     counted in row_count.
//   - SELECT (and WITH … SELECT, VALUES) with everything SQLite offers:
//     WHERE, ORDER BY, LIMIT, GROUP BY, aggregates, joins, subqueries, window
//     functions, SQLite's scalar and JSON functions, plus NOW() (µs since
//     the epoch) and CURRENT_USER().
//   - CREATE USER 'name' WITH PASSWORD 'pw' | OAUTH ['{"provider": …,
//     "subject": …}'] | INTERNAL [ROLE r] [EMAIL 'e']; ALTER USER 'name' SET
//     PASSWORD|ROLE|EMAIL …; DROP USER [IF EXISTS] 'name' (a soft delete).
//     Names may be quoted or bare. Roles take KalamDB's aliases (admin →
//     dba; developer, analyst → service; viewer, readonly → user).
//     system.users shows auth_type ("password", "oauth", "internal") and
//     auth_data (the OAuth issuer, subject and provider type).
//   - EXECUTE AS USER 'name' (<one statement>), also with a bare name, with
//     KalamDB's role hierarchy (system → anyone; dba → dba, service, user;
//     service → service, user; user → only itself), refused on SHARED
//     tables.
//   - BEGIN [TRANSACTION] / START TRANSACTION, COMMIT, ROLLBACK inside one
//     request (no DDL inside).
//   - SELECT … FROM system.users | system.namespaces | system.tables |
//     system.schemas | system.live for dba and system roles (password
//     hashes are never exposed). system.schemas (one row per table, with
//     its columns and options as JSON) and system.live (the server's active
//     subscriptions, from subscribe until unsubscribe or disconnect, see
//     Store.SetLiveSource) are computed afresh for each statement that
//     reads them, with KalamDB's columns.
//
// Parameters are $1, $2, … anywhere outside string literals and quoted
// identifiers, in any order and reusable; their count must match the
// highest placeholder used.
//
// Types follow PROTOCOL.md §1.1: BOOLEAN, SMALLINT, INT/INTEGER, BIGINT
// (cells are decimal strings), FLOAT/REAL (Float32), DOUBLE, TEXT/VARCHAR/
// STRING, TIMESTAMP and DATETIME (µs since the epoch), DATE (days), TIME
// (µs since midnight), JSON, BYTES (arrays of byte values), UUID, DECIMAL(p,
// s) (strings with s decimals), EMBEDDING(n) (arrays of floats), FILE.
// Inputs are normalized on write: timestamps and dates accept RFC 3339 and
// "YYYY-MM-DD[ HH:MM:SS]" text or integers, booleans accept 'true'/'false',
// UUIDs are validated and lower-cased, JSON and embeddings are validated.
// Numeric columns take what KalamDB's casts take (numeric text, reals
// truncated into integer columns) and refuse the rest, also values out of
// an integer column's range, with an SQL_EXECUTION_ERROR shown to dba and
// system callers only ("Arrow error: Cast error: …"; the wording is
// INFERRED from Arrow's cast errors).
// Result columns that are expressions are typed by their values the way
// DataFusion types them (integers BigInt, reals Double, text Text).
//
// STREAM tables enforce their TTL: a row older than the TTL (counted from
// its last write, the time in its _seq) vanishes from reads and from
// initial loads at once, and is deleted when the table is next read or
// written.
//
// Not supported (each is an error, never a silent misbehaviour): ALTER
// TABLE, views, indexes, topics, storage commands, FILE uploads, KILL LIVE
// QUERY, and SQLite statements such as PRAGMA or ATTACH.
// Known differences from KalamDB: the SQL function library is SQLite's
// (for instance there is no ILIKE); comparing a TIMESTAMP column with a
// date string compares against the text, so compare with µs integers or
// NOW(); INSERT INTO t SELECT * FROM t2 includes t2's _seq and _deleted
// columns and so needs an explicit column list; STREAM-table deletes are
// soft like the others; a subscription projection naming an unknown
// column is refused instead of being dropped. Further differences, each
// kept for the reason given:
//
//   - DECIMAL values are stored as SQLite reals: exact to about 15
//     significant digits, and the precision is not enforced (SQLite has no
//     decimal type; tests rarely need more).
//   - STREAM-table eviction runs when the table is read or written, not on
//     a background schedule (no goroutine to stop; the reads hide expired
//     rows on time either way), and sends no change event.
//   - system.live reports changes 0 and last_update = created_at, options
//     null, node_id 1 and status "active": the server does not count
//     deliveries per subscription.
//   - system.schemas has one version per table (schema_version 1,
//     is_latest true: there is no ALTER TABLE), no comments, and shows a
//     CURRENT_TIMESTAMP default as NOW.
//   - system.users lacks KalamDB's storage_mode, storage_id and login
//     tracking columns (kalamtest keeps no such state); the OAuth provider
//     type is detected for common issuers only (others show the issuer);
//     OAuth and internal users cannot log in (kalamtest validates no
//     external identity tokens); CREATE USER without ROLE makes a user,
//     where KalamDB requires ROLE.
//
// # Permissions
//
// Before any statement of a request runs, every statement's role-level
// permission is checked, as KalamDB's classifier does: namespace DDL and
// CREATE/DROP USER need dba or system ("Admin privileges (DBA or System
// role) required for …", 403 without a statement number), so a batch
// holding one such statement changes nothing. Table-level access is
// checked as each statement runs, as in KalamDB.
//
// USER and STREAM tables are partitioned by Session.User for every role;
// only EXECUTE AS USER crosses that line. SHARED tables: role user may read
// ACCESS_LEVEL public tables and write none; service, dba and system read
// and write all. Namespaces, DROP TABLE and user management need dba or
// system (a user may change its own password). Errors carry KalamDB's
// statuses, codes and messages (PROTOCOL.md §2.5, §4.11), with the generic
// wording for non-admin callers where KalamDB uses it.
//
// # Users
//
// Passwords are stored as PBKDF2-HMAC-SHA256 (standard library, random
// 16-byte salt, 4096 iterations: enough for a test server, cheap enough
// for fast logins). No password, hash or token ever appears in an error,
// message or details text.
//
// # Concurrency
//
// A Store is safe for concurrent use. Statements (Exec, Snapshot,
// SnapshotEnd, SnapshotLast, user changes) are serialized on one SQLite
// connection. Notify needs no store lock: subscription filters run on a
// small pool of private in-memory SQLite connections, with the filter
// statement prepared once per connection, so notifications for many
// subscribers proceed in parallel with writes. Watch callbacks run on the
// writing goroutine after the commit, in commit order, holding no lock
// that Notify, Snapshot or PrepareLive need.
//
// # Wasm
//
// The package builds for js/wasm and wasip1/wasm (the SQLite engine is
// pure Go), but kalamtest runs natively; only in-memory stores are
// expected to work there.
package store
