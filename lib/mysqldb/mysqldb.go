// Package mysqldb opens MySQL/MariaDB connections with the settings the
// product depends on, runs snapshot reads, and turns server errors into
// messages that say what to do.
//
// Every tool connects through Open: temporal values stay the server's text
// (parseTime off), the session time zone is UTC, multi-statements are off,
// and the connection character set is utf8mb4.
package mysqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/backfill/backfill/lib/internal/hint"
)

// Config parses dsn (go-sql-driver/mysql syntax) and forces the product's
// settings onto it. The error never contains the password.
func Config(dsn string) (*mysql.Config, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("no database DSN given")
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The driver's message may quote the DSN; do not repeat it.
		return nil, fmt.Errorf("invalid DSN %s: expected user:password@tcp(host:port)/database", Redact(dsn))
	}
	cfg.ParseTime = false
	cfg.Loc = time.UTC
	cfg.MultiStatements = false
	cfg.InterpolateParams = false
	// A server asking for LOAD DATA LOCAL INFILE of a path must not make
	// the client read any file: bf-import registers in-memory readers.
	cfg.AllowAllFiles = false
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	cfg.Collation = "utf8mb4_general_ci"
	// Direct reads (direct.go) do not time single reads out: a DSN that
	// asks for readTimeout keeps every read in the driver.
	noDirect := cfg.ReadTimeout > 0
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.noDirect = noDirect
		return c, nil
	}
	return cfg, nil
}

// Open returns a pool for dsn with the product's settings. It does not
// connect; call Ping (or any query) to find out whether the server answers.
func Open(dsn string) (*sql.DB, error) {
	cfg, err := Config(dsn)
	if err != nil {
		return nil, err
	}
	return OpenConfig(cfg)
}

// OpenConfig is Open for an already forced configuration.
func OpenConfig(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// Redact returns dsn with its password replaced, safe to print.
func Redact(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// Cut everything before the last '@', which may hold a password.
		if i := strings.LastIndex(dsn, "@"); i >= 0 {
			return "***" + dsn[i:]
		}
		return "(unparsable DSN)"
	}
	if cfg.Passwd != "" {
		cfg.Passwd = "xxxxx"
	}
	return cfg.FormatDSN()
}

// Database returns the database (schema) name the DSN selects.
func Database(dsn string) (string, error) {
	cfg, err := Config(dsn)
	if err != nil {
		return "", err
	}
	if cfg.DBName == "" {
		return "", fmt.Errorf("the DSN %s names no database; add /DATABASE after the address", Redact(dsn))
	}
	return cfg.DBName, nil
}

// Snapshot pins one connection of db and starts a consistent-snapshot,
// read-only transaction on it. end rolls the transaction back and returns the
// connection to the pool; always call it.
func Snapshot(ctx context.Context, db *sql.DB) (conn *sql.Conn, end func(), err error) {
	conn, err = db.Conn(ctx)
	if err != nil {
		return nil, nil, Explain(err)
	}
	end = func() {
		// A raw START TRANSACTION is invisible to database/sql: end it
		// before the connection goes back to the pool.
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		_ = conn.Close()
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		end()
		return nil, nil, Explain(err)
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		end()
		return nil, nil, Explain(err)
	}
	return conn, end, nil
}

// Explain adds a hint to well-known server and network errors. Other errors
// are returned unchanged.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045:
			return hint.Wrap(err, "check the user and password in the DSN")
		case 1044, 1143:
			return hint.Wrap(err, "the database user needs SELECT (and SHOW VIEW) on the database: GRANT SELECT, SHOW VIEW ON db.* TO user")
		case 1142:
			// "DELETE command denied ...": the command is in the message.
			// Reading needs SELECT; bf-import writes the local tables.
			if strings.HasPrefix(me.Message, "SELECT ") || strings.HasPrefix(me.Message, "SHOW VIEW ") {
				return hint.Wrap(err, "the database user needs SELECT (and SHOW VIEW) on the database: GRANT SELECT, SHOW VIEW ON db.* TO user")
			}
			return hint.Wrap(err, "the database user lacks the privilege the message names; bf-import needs SELECT, INSERT, UPDATE, DELETE and ALTER on the local database: GRANT ALL ON db.* TO user")
		case 1049:
			return hint.Wrap(err, "check the database name in the DSN, or create the database first")
		case 1146:
			return hint.Wrap(err, "the table does not exist; bf-manifest lists the tables")
		case 1153, 1301:
			return hint.Wrap(err, "a statement exceeded max_allowed_packet: lower [server] chunk_size or raise max_allowed_packet")
		}
		return err
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return hint.Wrap(err, "is the database server running, and is the address in the DSN right?")
	}
	return err
}

// IsError reports whether err is a server error with one of the numbers.
func IsError(err error, numbers ...uint16) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, n := range numbers {
		if me.Number == n {
			return true
		}
	}
	return false
}

// Server describes the server at the other end of a connection.
type Server struct {
	Flavor  string // "mariadb" or "mysql"
	Version string
}

// Describe asks the server for its flavour and version.
func Describe(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (Server, error) {
	var v string
	if err := q.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return Server{}, Explain(err)
	}
	s := Server{Flavor: "mysql", Version: v}
	if strings.Contains(strings.ToLower(v), "mariadb") {
		s.Flavor = "mariadb"
	}
	if i := strings.Index(v, "-"); i > 0 {
		s.Version = v[:i]
	}
	return s, nil
}
