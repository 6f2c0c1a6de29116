package store

// StmtCacheStats reports the prepared-statement cache of db: statements
// prepared on the pool so far and statements cached now.
func StmtCacheStats(db *DB) (prepares, cached int) {
	db.stmts.mu.Lock()
	defer db.stmts.mu.Unlock()
	return db.stmts.prepares, len(db.stmts.stmts)
}

// SetStmtCacheMax changes the bound of db's statement cache (0: off, the
// PostgreSQL default).
func SetStmtCacheMax(db *DB, n int) {
	db.stmts.mu.Lock()
	defer db.stmts.mu.Unlock()
	db.stmts.max = n
}

// CommitOutcomeKnown is commitOutcomeKnown.
var CommitOutcomeKnown = commitOutcomeKnown

// PostgresConfig is postgresConfig.
var PostgresConfig = postgresConfig
