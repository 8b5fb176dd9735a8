/*
 * migrator plugin ABI, major version 1.
 *
 * This header is the specification of the boundary between the `migrator` host and a
 * migration plugin (a shared library). It is plain C (C99 and later, and C++11 and later)
 * so that a plugin can be written in any language that can export a C function.
 *
 * ---------------------------------------------------------------------------------------
 * Versioning rules
 * ---------------------------------------------------------------------------------------
 * - The major version is part of the entry symbol's name (mig_get_plugin_v1). A host that
 *   speaks major 2 looks for mig_get_plugin_v2; a plugin may export both.
 * - Within a major version, structs only ever grow at the end (SQLite's extension-table
 *   rule). Every struct that crosses the boundary starts with the same three members:
 *   struct_size, abi_major, abi_minor. The reader of a struct reads at most
 *   min(struct_size, sizeof(its own definition)) bytes and treats members beyond that as
 *   zero/NULL. A member added in minor N is documented "since 1.N"; a plugin must check the
 *   host's struct_size (offsetof + sizeof of the member) before calling a newer member.
 * - Only fixed-width integers, pointers to NUL-terminated UTF-8 strings, (pointer, length)
 *   pairs and function pointers cross the boundary: no bool, no enum, no C++ types.
 * - No exception may cross the boundary: a C++ plugin catches everything (the SDK's
 *   migrator::guard does). An exception escaping into the host terminates the process.
 * - No memory is freed across the boundary: whoever allocates a buffer frees it.
 *
 * ---------------------------------------------------------------------------------------
 * Life of a plugin
 * ---------------------------------------------------------------------------------------
 * 1. The host reads the plugin's metadata from an ELF note (section ".note.migrator", see
 *    MIG_NOTE_* below) without loading it. Only plugins that the plan will run are loaded.
 * 2. The host loads the file with dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE): an undefined
 *    symbol fails the load, and the library is never unloaded while the process runs.
 * 3. The host calls mig_get_plugin_v1 once, on its main thread, and cross-checks the returned
 *    descriptor against the note.
 * 4. The host calls up or down, on one thread at a time, inside the transaction the host
 *    manages (unless the revision says MIG_FLAG_NO_TRANSACTION).
 */
#ifndef MIGRATOR_PLUGIN_API_H
#define MIGRATOR_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIG_ABI_MAJOR 1
/* 1.1 added mig_plugin_v1.frozen_schemas. */
#define MIG_ABI_MINOR 1

/* ---------------------------------------------------------------------------------------
 * Status codes. Every function that can fail returns a mig_status.
 * ------------------------------------------------------------------------------------- */
typedef int32_t mig_status;

/* Success. */
#define MIG_OK 0
/* Generic failure; the callee wrote a message into the error buffer it was given. */
#define MIG_ERROR 1
/* The caller asked to stop (progress returned nonzero); the revision is rolled back. */
#define MIG_CANCELLED 2
/* The migration is a generated stub nobody has written yet. Treated as a failure. */
#define MIG_NOT_IMPLEMENTED 3
/* A bad argument (NULL where a value is required, index out of range, ...). */
#define MIG_MISUSE 4
/* step(): a result row is available. Not a failure. */
#define MIG_ROW 100
/* step(): the statement has finished. Not a failure. */
#define MIG_DONE 101

/* Column/value types reported by mig_host_v1.column_type. */
#define MIG_TYPE_NULL 0
#define MIG_TYPE_INTEGER 1
#define MIG_TYPE_FLOAT 2
#define MIG_TYPE_TEXT 3
#define MIG_TYPE_BLOB 4

/* Log levels for mig_host_v1.log. */
#define MIG_LOG_DEBUG 0
#define MIG_LOG_INFO 1
#define MIG_LOG_WARN 2
#define MIG_LOG_ERROR 3

/* ---------------------------------------------------------------------------------------
 * Revision flags (mig_plugin_v1.flags). Unknown bits are refused by the host, so that a
 * plugin relying on a newer flag never runs on a host that would ignore it.
 * ------------------------------------------------------------------------------------- */
/* The revision cannot be reverted; `down` must be NULL. `migrator down` stops before it. */
#define MIG_FLAG_IRREVERSIBLE ((uint64_t)1u << 0)
/* The revision must run outside a transaction (e.g. VACUUM). The host commits what came
 * before, runs it alone, and records it. A failure cannot be rolled back by the host. */
#define MIG_FLAG_NO_TRANSACTION ((uint64_t)1u << 1)
/* The revision rebuilds tables (SQLite's 12-step ALTER TABLE procedure): the host switches
 * `PRAGMA foreign_keys` off before opening the transaction (it is a no-op inside one) and
 * runs `PRAGMA foreign_key_check` before commit; any violation fails the revision. */
#define MIG_FLAG_FOREIGN_KEYS_OFF ((uint64_t)1u << 2)
/* Every flag known to ABI 1.0. */
#define MIG_FLAGS_KNOWN_V1_0 \
    (MIG_FLAG_IRREVERSIBLE | MIG_FLAG_NO_TRANSACTION | MIG_FLAG_FOREIGN_KEYS_OFF)

/* Opaque prepared statement owned by the host. */
typedef struct mig_stmt mig_stmt;

/* ---------------------------------------------------------------------------------------
 * Host services: passed to up/down, valid only for the duration of that call.
 *
 * Ownership: the table, ctx and every string it hands out belong to the host.
 * Lifetime: the pointer must not be kept after up/down returns; statements still open when
 *           the call returns are finalized by the host.
 * Threads:  call the members only from the thread that called up/down.
 * Failure:  members returning mig_status return MIG_ERROR (or MIG_MISUSE) on failure; the
 *           host's message is then available from errmsg() until the next call. The host
 *           has not rolled anything back at that point: return the failure from up/down and
 *           the host rolls the revision back.
 * Dialect:  SQL text is passed to the backend verbatim. `dialect` tells the plugin which
 *           backend it talks to ("sqlite" today; "postgresql" will follow). Parameters are
 *           positional and 1-based; write placeholders in the backend's syntax ("?" for
 *           SQLite, "$1" for PostgreSQL).
 * ------------------------------------------------------------------------------------- */
typedef struct mig_host_v1 {
    uint32_t struct_size; /* sizeof(mig_host_v1) as the host compiled it */
    uint16_t abi_major;   /* MIG_ABI_MAJOR of the host */
    uint16_t abi_minor;   /* MIG_ABI_MINOR of the host */

    /* Opaque host context; pass it back as the first argument of the members that take it. */
    void *ctx;

    /* Backend name, NUL-terminated, e.g. "sqlite". Host-owned, valid during the call. */
    const char *dialect;

    /* Runs one or more ;-separated statements with no parameters and discards result rows.
     * sql: NUL-terminated UTF-8, read during the call only.
     * Returns MIG_OK or MIG_ERROR (message in errmsg()). On error, statements before the
     * failing one have run; the host rolls the whole revision back when up/down fails. */
    mig_status (*exec)(void *ctx, const char *sql);

    /* Prepares a single statement. sql/len: UTF-8, not necessarily NUL-terminated; read during
     * the call only. *out receives a host-owned statement handle, valid until finalize() or
     * the end of the up/down call, whichever is first. *out is NULL on failure. */
    mig_status (*prepare)(void *ctx, const char *sql, size_t len, mig_stmt **out);

    /* Binds a parameter (1-based index). Text and blob bytes are copied by the host before
     * the call returns. Return MIG_OK, or MIG_MISUSE for a bad index or handle. */
    mig_status (*bind_null)(mig_stmt *stmt, int32_t index);
    mig_status (*bind_int64)(mig_stmt *stmt, int32_t index, int64_t value);
    mig_status (*bind_double)(mig_stmt *stmt, int32_t index, double value);
    mig_status (*bind_text)(mig_stmt *stmt, int32_t index, const char *utf8, size_t len);
    mig_status (*bind_blob)(mig_stmt *stmt, int32_t index, const void *data, size_t len);

    /* Advances the statement. Returns MIG_ROW when a row is available, MIG_DONE when the
     * statement has finished, MIG_ERROR on failure (message in errmsg()). */
    mig_status (*step)(mig_stmt *stmt);

    /* Makes the statement ready to run again; bindings are kept. */
    mig_status (*reset)(mig_stmt *stmt);

    /* Releases the statement now (optional: the host releases leftovers after the call).
     * NULL is accepted. The handle is invalid afterwards. */
    void (*finalize)(mig_stmt *stmt);

    /* Result columns of the current row (valid after step() returned MIG_ROW). Column index
     * is 0-based. An out-of-range column reads as MIG_TYPE_NULL / 0 / NULL. */
    int32_t (*column_count)(mig_stmt *stmt);
    int32_t (*column_type)(mig_stmt *stmt, int32_t col);
    int64_t (*column_int64)(mig_stmt *stmt, int32_t col);
    double (*column_double)(mig_stmt *stmt, int32_t col);
    /* Returns a pointer to the column's bytes (UTF-8 text, not NUL-terminated for the caller's
     * purposes; use *len) and stores their length in *len (len may be NULL). Host-owned,
     * valid until the next step/reset/finalize on this statement. NULL for a NULL column. */
    const char *(*column_text)(mig_stmt *stmt, int32_t col, size_t *len);
    const void *(*column_blob)(mig_stmt *stmt, int32_t col, size_t *len);

    /* Rows changed by the most recent completed INSERT/UPDATE/DELETE of this connection. */
    int64_t (*changes)(void *ctx);

    /* Message of the last failing host call, NUL-terminated, host-owned, valid until the next
     * call into the host. Never NULL (empty string when there is nothing to report). */
    const char *(*errmsg)(void *ctx);

    /* Writes a log line through the host's logger. msg: NUL-terminated UTF-8, read during the
     * call only. level: MIG_LOG_*; other values are logged as INFO. */
    void (*log)(void *ctx, int32_t level, const char *msg);

    /* Reports progress of a long step (done of total units; total 0 = unknown). Returns 0 to
     * go on, nonzero when the operator asked to cancel: the plugin should then return
     * MIG_CANCELLED promptly. Cheap enough to call once per row. */
    int32_t (*progress)(void *ctx, uint64_t done, uint64_t total);
} mig_host_v1;

/* Size of the 1.0 layout of mig_host_v1. A plugin built against a later minor compares
 * host->struct_size with offsetof(member) + sizeof(member) before using a newer member. */
#define MIG_HOST_V1_0_SIZE ((uint32_t)(offsetof(mig_host_v1, progress) + sizeof(((mig_host_v1 *)0)->progress)))

/* ---------------------------------------------------------------------------------------
 * Error buffer given to up/down. Host-owned; valid during the call only.
 * The plugin writes at most `cap` bytes including a terminating NUL into `data`. The host
 * sets data[0] = 0 before the call and data[cap-1] = 0 afterwards, so a message the plugin
 * forgot to terminate is cut, never overrun (as long as the plugin honours cap).
 * ------------------------------------------------------------------------------------- */
typedef struct mig_error_buf {
    char *data;
    uint32_t cap; /* at least 256 */
} mig_error_buf;

/* A revision step. host: services valid during the call only. err: see mig_error_buf.
 * Returns MIG_OK on success; any other status fails the revision and the host rolls it back.
 * Called on one thread; never concurrently with another step of the same process. */
typedef mig_status (*mig_step_fn)(const mig_host_v1 *host, mig_error_buf *err);

/* ---------------------------------------------------------------------------------------
 * Blob migrations: rewrites of one column's values (JSON documents, typically) that the host
 * runs itself, so that it can stream, batch, parallelise, count, validate and dry-run them.
 * ------------------------------------------------------------------------------------- */

/* Transform outcomes (besides failure statuses). */
/* The value stays as it is; whatever was written to the sink is discarded. */
#define MIG_BLOB_UNCHANGED 200
/* The value becomes exactly the bytes written to the sink during this call. */
#define MIG_BLOB_CHANGED 201

/* Where a transform writes its output. Host-owned; valid during one transform call only.
 * write(): appends data[0..len) (data may be NULL when len is 0). Returns MIG_OK, or
 * MIG_ERROR when the host will not take more (the value exceeds the host's limit); the
 * transform should then return MIG_ERROR. Only the calling thread may use the sink. */
typedef struct mig_sink {
    void *ctx;
    mig_status (*write)(void *ctx, const char *data, size_t len);
} mig_sink;

/* A transform of one value. It must be pure and thread-safe: the host calls it concurrently
 * from several worker threads, each call with its own arguments; it gets no host services,
 * does no I/O and keeps no mutable global state (thread_local scratch space is fine).
 * in/in_len: the stored value's bytes (TEXT as UTF-8 as stored, not validated, not
 *            NUL-terminated), host-owned, valid during the call.
 * out:       the sink for the new value.
 * err:       host-owned error buffer (see mig_error_buf).
 * Returns MIG_BLOB_CHANGED, MIG_BLOB_UNCHANGED, or any failure status: a row error whose
 * message is in err. On a row error the host discards the partial output and never writes
 * the row; by default the row error fails the revision. */
typedef mig_status (*mig_blob_fn)(const char *in, size_t in_len, const mig_sink *out,
                                  mig_error_buf *err);

/* One blob migration of a revision. Static, const, owned by the plugin (like the descriptor).
 * The host applies `up` to every non-NULL value of table.column, in rowid order, after the
 * revision's SQL `up` step and in the same transaction; `down` runs before the SQL `down`
 * step. Tables must have a rowid (WITHOUT ROWID tables are refused). */
typedef struct mig_blob_migration_v1 {
    uint32_t struct_size; /* sizeof(mig_blob_migration_v1) as the plugin compiled it */
    uint16_t abi_major;
    uint16_t abi_minor;
    const char *table;  /* table name, unquoted, NUL-terminated */
    const char *column; /* column name, unquoted, NUL-terminated */
    /* Name of the blob model whose frozen JSON Schema the output must satisfy (e.g.
     * "SavedAgentMessage"), or "" when there is none. Used for validation in dry runs. */
    const char *model;
    mig_blob_fn up;   /* must not be NULL */
    mig_blob_fn down; /* NULL only in an irreversible revision */
} mig_blob_migration_v1;

/* ---------------------------------------------------------------------------------------
 * The plugin descriptor: static, const, owned by the plugin, alive as long as the library
 * is loaded (the host never unloads it). The host copies at most struct_size bytes of it.
 * ------------------------------------------------------------------------------------- */
typedef struct mig_plugin_v1 {
    uint32_t struct_size; /* sizeof(mig_plugin_v1) as the plugin compiled it; >= the 1.0 size */
    uint16_t abi_major;   /* must be 1 */
    uint16_t abi_minor;   /* the minor the plugin was built against */

    /* Revision id: NUL-terminated, 1..128 bytes of [A-Za-z0-9_.-]. Unique in a plugin set.
     * Recommended: a zero-padded sequence or UTC timestamp prefix, e.g. "0004_task_rebuild",
     * so that ids sort in chain order (the host orders by parent links, not by sorting). */
    const char *revision;
    /* Parent revision id, or "" for the root of the chain. Same syntax as revision. */
    const char *parent;
    /* One line of human-readable text (UTF-8), may be "". */
    const char *description;
    /* Checksum of the migration's source, lowercase hex (SHA-256 as emitted by
     * migrator_add_plugin). The host records it when the revision is applied and refuses to
     * run a plugin set in which an applied revision's checksum has changed. */
    const char *checksum;
    /* MIG_FLAG_* bits. */
    uint64_t flags;
    /* Applies the revision. Must not be NULL. */
    mig_step_fn up;
    /* Reverts the revision. NULL if and only if MIG_FLAG_IRREVERSIBLE is set. */
    mig_step_fn down;
    /* The revision's blob migrations: blob_count pointers to static descriptors (pointers,
     * not an array of structs, so each can grow on its own). blobs may be NULL when
     * blob_count is 0. Not allowed with MIG_FLAG_NO_TRANSACTION. */
    uint32_t blob_count;
    const mig_blob_migration_v1 *const *blobs;

    /* Since 1.1. The fingerprints of the frozen JSON Schemas (one per blob model) that the
     * chain has been written up to once this revision is applied. `migrator check` compares
     * the head revision's declaration with the frozen schema directory, so that a frozen
     * schema edited by hand, without the migration its change needs, fails CI.
     *
     * Format: NUL-terminated ASCII; one line per model, lines separated by '\n' (a single
     * trailing '\n' is allowed), sorted by model name in byte order, each model at most once:
     *     <Model> " sha256:" <64 lowercase hex digits>
     * <Model> is the stem of the frozen schema's file name (<Model>.json): 1..128 bytes of
     * [A-Za-z0-9_.-]. The digest is the SHA-256 of the schema's canonical JSON (no
     * insignificant whitespace, object members sorted by key), so reformatting the file does
     * not change it. Do not compute it by hand: `migrator fingerprints DIR` prints the lines,
     * and `migrator new` writes them into every plugin it generates.
     * NULL or "" declares none (and so does a 1.0 plugin, whose struct_size ends before this
     * member). A revision declares the whole set, not what it changed: only the head's counts.
     *
     * Ownership and lifetime: like every string of the descriptor: static, const, owned by the
     *           plugin, valid as long as the library is loaded (always).
     * Threads:  plain data: no function is called, and the host may read it from any thread.
     * Failure:  only `check` and `new` read it, so a wrong or malformed declaration never
     *           stops a migration. `check` fails (exit 1) on a malformed one, naming the line,
     *           and on any difference from the frozen schemas; `new` refuses to write on top
     *           of a malformed one. A host older than 1.1 ignores
     *           it (it copies no more than its own descriptor size). */
    const char *frozen_schemas;
} mig_plugin_v1;

/* Size of the 1.0 layout (fixed forever, unlike sizeof, which grows with later minors).
 * The host refuses a descriptor whose struct_size is smaller. */
#define MIG_PLUGIN_V1_0_SIZE \
    ((uint32_t)(offsetof(mig_plugin_v1, blobs) + sizeof(((mig_plugin_v1 *)0)->blobs)))
/* Size of the 1.1 layout (adds frozen_schemas). */
#define MIG_PLUGIN_V1_1_SIZE                                   \
    ((uint32_t)(offsetof(mig_plugin_v1, frozen_schemas) + \
                sizeof(((mig_plugin_v1 *)0)->frozen_schemas)))
/* Size of the 1.0 layout of mig_blob_migration_v1. */
#define MIG_BLOB_MIGRATION_V1_0_SIZE \
    ((uint32_t)(offsetof(mig_blob_migration_v1, down) + sizeof(mig_blob_fn)))

/* ---------------------------------------------------------------------------------------
 * The entry point: the only symbol a plugin exports.
 *
 *   const mig_plugin_v1 *mig_get_plugin_v1(uint32_t host_abi_major, uint32_t host_abi_minor);
 *
 * Returns a pointer to the plugin's static const descriptor, or NULL when the plugin cannot
 * serve this host (e.g. it needs a newer minor than host_abi_minor). It must not do I/O,
 * allocate, or call into the host; it may be called more than once and must return the same
 * pointer each time. Called on the host's main thread.
 * ------------------------------------------------------------------------------------- */
#define MIG_ENTRY_SYMBOL_V1 "mig_get_plugin_v1"
typedef const mig_plugin_v1 *(*mig_get_plugin_v1_fn)(uint32_t host_abi_major,
                                                     uint32_t host_abi_minor);

/* ---------------------------------------------------------------------------------------
 * Metadata note, readable without loading the plugin.
 *
 * A plugin carries one ELF note in an allocated section named ".note.migrator" (it survives
 * `strip --strip-all`), with name "migrator" and type MIG_NOTE_TYPE_V1. Its descriptor is:
 *
 *   uint32_t format;        MIG_NOTE_FORMAT_V1
 *   uint32_t abi_minor;     as in mig_plugin_v1
 *   uint32_t flags_lo;      low 32 bits of mig_plugin_v1.flags
 *   uint32_t flags_hi;      high 32 bits
 *   char     strings[];     revision "\0" parent "\0" checksum "\0" description "\0"
 *                           then, per blob migration, table "\0" column "\0" model "\0"
 *                           (an empty table name ends the list), then zero padding to a
 *                           multiple of 4
 *
 * All integers are in the file's byte order. The host plans from the note alone and, after
 * loading a plugin it runs, refuses it if the descriptor disagrees with the note. The SDK
 * macro MIGRATOR_PLUGIN emits descriptor and note from the same literals.
 * ------------------------------------------------------------------------------------- */
#define MIG_NOTE_SECTION ".note.migrator"
#define MIG_NOTE_NAME "migrator"
#define MIG_NOTE_TYPE_V1 0x4d494731u /* "MIG1" */
#define MIG_NOTE_FORMAT_V1 1u

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MIGRATOR_PLUGIN_API_H */
