/* bench/floor.c: the start-up floor. Opens the database with SQLite and reads the revision
 * row, as any program that looks at the database must; prints it. */
#include <sqlite3.h>
#include <stdio.h>

int main(int argc, char **argv) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = 1;
    if (argc != 2) {
        fprintf(stderr, "usage: floor DB\n");
        return 2;
    }
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT revision FROM migrator_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        printf("%s\n", (const char *)sqlite3_column_text(st, 0));
        rc = 0;
    } else {
        fprintf(stderr, "floor: %s\n", db ? sqlite3_errmsg(db) : "cannot open");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}
