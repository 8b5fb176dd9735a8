/* bench/blob_floor.c: the write floor of the blob benchmark (bench/blob.sh).
 *
 *   blob_floor dump MIGRATED_DB SIDE_FILE   (untimed) writes every saved_agent_message row of a
 *                                           DB that migrator already migrated to SIDE_FILE:
 *                                           records { i64 rowid, u32 length, bytes }
 *   blob_floor DB SIDE_FILE                 (timed) opens DB (a fresh copy of the unmigrated
 *                                           DB) and, in one transaction with one prepared
 *                                           statement, sets every row's data to its precomputed
 *                                           v2 value read from SIDE_FILE, then commits.
 *
 * The timed mode is all a migration must do at the least: read the new values (here from a
 * page-cached file, the cheapest source there is) and write them through SQLite, with the
 * same SQLite library, the same default pragmas (rollback journal, synchronous=FULL) and the
 * same statement shape as migrator's blob engine (UPDATE t SET c = ?1 WHERE rowid = ?2). */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(sqlite3 *db, const char *what) {
    fprintf(stderr, "blob_floor: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
    exit(1);
}

static int dump(const char *dbpath, const char *out) {
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    FILE *f = fopen(out, "wb");
    if (!f) die(NULL, out);
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) die(db, "open");
    if (sqlite3_prepare_v2(db, "SELECT rowid, data FROM saved_agent_message ORDER BY rowid", -1, &s, NULL) !=
        SQLITE_OK)
        die(db, "prepare");
    int rc;
    long long n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        const void *p = sqlite3_column_text(s, 1);
        uint32_t len = (uint32_t)sqlite3_column_bytes(s, 1);
        if (fwrite(&id, sizeof id, 1, f) != 1 || fwrite(&len, sizeof len, 1, f) != 1 ||
            (len && fwrite(p, 1, len, f) != len))
            die(NULL, "write");
        ++n;
    }
    if (rc != SQLITE_DONE) die(db, "step");
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (fclose(f) != 0) die(NULL, "close");
    printf("blob_floor: %lld rows dumped\n", n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "dump") == 0) return dump(argv[2], argv[3]);
    if (argc != 3) {
        fprintf(stderr, "usage: blob_floor dump MIGRATED_DB SIDE_FILE | blob_floor DB SIDE_FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) die(NULL, argv[2]);
    sqlite3 *db = NULL;
    sqlite3_stmt *up = NULL;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) die(db, "open");
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) die(db, "begin");
    if (sqlite3_prepare_v2(db, "UPDATE saved_agent_message SET data = ?1 WHERE rowid = ?2", -1, &up, NULL) !=
        SQLITE_OK)
        die(db, "prepare");
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    int64_t id;
    uint32_t len;
    long long n = 0;
    while (fread(&id, sizeof id, 1, f) == 1) {
        if (fread(&len, sizeof len, 1, f) != 1) die(NULL, "truncated side file");
        if (len > cap) {
            while (cap < len) cap *= 2;
            buf = realloc(buf, cap);
        }
        if (len && fread(buf, 1, len, f) != len) die(NULL, "truncated side file");
        sqlite3_bind_text64(up, 1, buf, len, SQLITE_STATIC, SQLITE_UTF8);
        sqlite3_bind_int64(up, 2, id);
        if (sqlite3_step(up) != SQLITE_DONE) die(db, "update");
        sqlite3_reset(up);
        ++n;
    }
    sqlite3_finalize(up);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) die(db, "commit");
    sqlite3_close(db);
    fclose(f);
    free(buf);
    printf("blob_floor: %lld rows updated\n", n);
    return 0;
}
