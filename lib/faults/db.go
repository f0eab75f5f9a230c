package faults

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// writeCounters are the global status counters that move when anything is
// written: rows (Handler_*), statements (Com_*), DDL and grants.
var writeCounters = regexp.MustCompile(`^(Handler_(write|update|delete)|Com_(insert|insert_select|update|update_multi|delete|delete_multi|replace|replace_select|load|truncate|create_.*|drop_.*|alter_.*|rename_table|grant|revoke|lock_tables))$`)

// Counters is a snapshot of the server's write counters.
type Counters map[string]int64

// ReadCounters reads the write counters of SHOW GLOBAL STATUS (or SHOW
// SESSION STATUS when session is true: the counters of db's connection,
// which should then be a pool of one).
func ReadCounters(ctx context.Context, db *sql.DB, session bool) (Counters, error) {
	q := "SHOW GLOBAL STATUS"
	if session {
		q = "SHOW SESSION STATUS"
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	c := Counters{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		if !writeCounters.MatchString(k) {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		c[k] = n
	}
	return c, rows.Err()
}

// Moved lists the counters that differ between c and later, as
// "name: before -> after", sorted.
func (c Counters) Moved(later Counters) []string {
	var out []string
	for k, v := range later {
		if c[k] != v {
			out = append(out, fmt.Sprintf("%s: %d -> %d", k, c[k], v))
		}
	}
	sort.Strings(out)
	return out
}

// Connections counts the sessions of user (every user when "") on the
// server db is connected to, from the process list, leaving out the
// caller's own session.
func Connections(ctx context.Context, db *sql.DB, user string) (int, error) {
	q := "SELECT COUNT(*) FROM INFORMATION_SCHEMA.PROCESSLIST WHERE ID <> CONNECTION_ID()"
	args := []any{}
	if user != "" {
		q += " AND USER = ?"
		args = append(args, user)
	}
	var n int
	err := db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// Sessions returns the process list rows of user (id, db, command, info),
// for messages when a count is off.
func Sessions(ctx context.Context, db *sql.DB, user string) (string, error) {
	rows, err := db.QueryContext(ctx, "SELECT ID, COALESCE(DB,''), COMMAND, COALESCE(LEFT(INFO, 120),'') FROM INFORMATION_SCHEMA.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()", user)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id int64
		var dbname, cmd, info string
		if err := rows.Scan(&id, &dbname, &cmd, &info); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d %s %s %q\n", id, dbname, cmd, info)
	}
	return b.String(), rows.Err()
}
