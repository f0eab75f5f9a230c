package mysqldb_test

import (
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/backfill/backfill/lib/mysqldb"
)

// TestExplain_Privileges: the hint names the privilege that is missing. A
// local import denied DELETE was told it needed SELECT and SHOW VIEW
// (found by TestSecurity_DSNPasswordNeverShown, issue 10).
func TestExplain_Privileges(t *testing.T) {
	for _, tc := range []struct {
		err  *mysql.MySQLError
		hint string
	}{
		{&mysql.MySQLError{Number: 1142, Message: "DELETE command denied to user 'u'@'h' for table `app`.`users`"}, "bf-import needs SELECT, INSERT, UPDATE, DELETE and ALTER"},
		{&mysql.MySQLError{Number: 1142, Message: "INSERT command denied to user 'u'@'h' for table `app`.`users`"}, "bf-import needs"},
		{&mysql.MySQLError{Number: 1142, Message: "SELECT command denied to user 'u'@'h' for table `app`.`users`"}, "GRANT SELECT, SHOW VIEW"},
		{&mysql.MySQLError{Number: 1044, Message: "Access denied for user 'u'@'%' to database 'app'"}, "GRANT SELECT, SHOW VIEW"},
	} {
		h, ok := mysqldb.Explain(tc.err).(interface{ Hints() []string })
		if !ok {
			t.Fatalf("Explain(%v) has no hints", tc.err)
		}
		if got := strings.Join(h.Hints(), "\n"); !strings.Contains(got, tc.hint) {
			t.Errorf("Explain(%q) hints %q, want %q", tc.err.Message, got, tc.hint)
		}
	}
}
