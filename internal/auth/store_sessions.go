package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/bamhq/bam/internal/store"
)

const sessionColumns = `id, user_id, aal, amr, ip, user_agent, created_at, refreshed_at, expires_at, revoked_at, client_id, scope`

func scanSession(row interface{ Scan(...any) error }) (Session, error) {
	var sc sessionScan
	if err := row.Scan(sc.dests()...); err != nil {
		return Session{}, err
	}
	return sc.finish()
}

// sessionScan receives the sessionColumns of a row, to combine with the
// columns of other tables in one Scan (store_refresh.go).
type sessionScan struct {
	s       Session
	amr     string
	revoked sql.NullTime
}

func (sc *sessionScan) dests() []any {
	s := &sc.s
	return []any{&s.ID, &s.UserID, &s.AAL, &sc.amr, &s.IP, &s.UserAgent, &s.CreatedAt, &s.RefreshedAt,
		&s.ExpiresAt, &sc.revoked, &s.ClientID, &s.Scope}
}

func (sc *sessionScan) finish() (Session, error) {
	s := sc.s
	if err := json.Unmarshal([]byte(sc.amr), &s.AMR); err != nil {
		return Session{}, err
	}
	if sc.revoked.Valid {
		t := sc.revoked.Time.UTC()
		s.RevokedAt = &t
	}
	s.CreatedAt, s.RefreshedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.RefreshedAt.UTC(), s.ExpiresAt.UTC()
	return s, nil
}

// insertSessionQuery stores a session: $1…$10 are its sessionValues.
const insertSessionQuery = `INSERT INTO auth_sessions (` + sessionColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, NULL, $9, $10)`

// sessionValues are the values of insertSessionQuery for s.
func sessionValues(s Session) []any {
	amr, _ := json.Marshal(s.AMR)
	return []any{s.ID, s.UserID, s.AAL, string(amr), s.IP, s.UserAgent, s.CreatedAt, s.ExpiresAt, s.ClientID, s.Scope}
}

func insertSession(ctx context.Context, tx *store.Tx, s Session) error {
	_, err := tx.ExecContext(ctx, insertSessionQuery, sessionValues(s)...)
	return err
}

// insertNewSession stores a new session s, its first refresh token (by
// hash; none when refreshHash is empty) and the audit record of its
// creation (auditValues), and returns its user's roles and permissions
// (rolesOf), for its access token. On PostgreSQL that is one statement
// (data-modifying WITH), where one statement each took three more round
// trips and statements per sign-in; SQLite runs the four.
func insertNewSession(ctx context.Context, tx *store.Tx, s Session, refreshHash string, audit []any) (roles, perms []string, err error) {
	if tx.Dialect() != store.Postgres {
		if err := insertSession(ctx, tx, s); err != nil {
			return nil, nil, err
		}
		if refreshHash != "" {
			if err := insertRefreshToken(ctx, tx, refreshHash, s.ID, s.CreatedAt, s.ExpiresAt); err != nil {
				return nil, nil, err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_audit (`+auditColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, audit...); err != nil {
			return nil, nil, err
		}
		return rolesOf(ctx, tx, s.UserID)
	}
	q, args := newSessionQuery, append(sessionValues(s), audit...)
	if refreshHash != "" {
		q, args = newSessionWithRefreshQuery, append(args, refreshHash)
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	return scanRoles(rows)
}

// newSessionQuery is insertNewSession's statement on PostgreSQL: $1…$10
// the session (insertSessionQuery), $11…$18 the audit record, and with a
// refresh token $19 its hash. Sub-statements of a WITH all run, to the
// end, whatever the main query reads, and the refresh token's reference
// to the session is checked at the end of the statement, when the
// session is there.
var newSessionQuery, newSessionWithRefreshQuery = func() (string, string) {
	with := `WITH new_session AS (` + insertSessionQuery + `
	), new_audit AS (
		INSERT INTO auth_audit (` + auditColumns + `) VALUES ($11, $12, $13, $14, $15, $16, $17, $18)
	)`
	refresh := `, new_refresh AS (
		INSERT INTO auth_refresh_tokens (hash, session_id, created_at, expires_at)
		VALUES ($19, $1, $7, $8) ON CONFLICT (hash) DO NOTHING
	)`
	roles := `
	` + rolesQuery("$2")
	return with + roles, with + refresh + roles
}()

func sessionByID(ctx context.Context, q store.Querier, id string) (Session, error) {
	return scanSession(q.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM auth_sessions WHERE id = $1`, id))
}

// activeSessions lists a user's sessions that are neither revoked nor expired, newest first.
func activeSessions(ctx context.Context, q store.Querier, userID string, now time.Time) ([]Session, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+sessionColumns+` FROM auth_sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC`, userID, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// revokeSessions ends the given sessions of userID (all of them when ids is
// empty) and returns the ids it revoked just now.
func revokeSessions(ctx context.Context, tx *store.Tx, userID string, ids []string, why string, now time.Time) ([]string, error) {
	active, err := activeSessions(ctx, tx, userID, now)
	if err != nil {
		return nil, err
	}
	var revoked []string
	for _, s := range active {
		if len(ids) > 0 && !contains(ids, s.ID) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE auth_sessions SET revoked_at = $1, revoked_why = $2
			WHERE id = $3 AND revoked_at IS NULL`, now, why, s.ID); err != nil {
			return nil, err
		}
		revoked = append(revoked, s.ID)
	}
	return revoked, nil
}

// refreshToken is a stored refresh token (only its hash is kept).
type refreshToken struct {
	hash      string
	sessionID string
	usedAt    *time.Time
	expiresAt time.Time
}

var errNoRefreshToken = errors.New("auth: unknown refresh token")

func refreshTokenByHash(ctx context.Context, q store.Querier, hash string) (refreshToken, error) {
	var (
		rt   refreshToken
		used sql.NullTime
	)
	err := q.QueryRowContext(ctx, `SELECT hash, session_id, used_at, expires_at FROM auth_refresh_tokens WHERE hash = $1`,
		hash).Scan(&rt.hash, &rt.sessionID, &used, &rt.expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return refreshToken{}, errNoRefreshToken
	}
	if used.Valid {
		t := used.Time.UTC()
		rt.usedAt = &t
	}
	return rt, err
}

// insertRefreshToken stores a token's hash; inserting the same successor
// twice (two tabs refreshing at once) is not an error.
func insertRefreshToken(ctx context.Context, tx *store.Tx, hash, sessionID string, now, expires time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_refresh_tokens (hash, session_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING`, hash, sessionID, now, expires)
	return err
}

// markRefreshTokenUsed sets used_at unless it is already set, and reports
// whether this call was the one that used it.
func markRefreshTokenUsed(ctx context.Context, tx *store.Tx, hash string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE auth_refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL`, now, hash)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func touchSession(ctx context.Context, tx *store.Tx, id string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE auth_sessions SET refreshed_at = $1 WHERE id = $2`, now, id)
	return err
}
