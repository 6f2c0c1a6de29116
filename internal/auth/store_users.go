package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// The SQL below runs unchanged on SQLite and PostgreSQL ($N placeholders,
// TEXT for JSON, nullable timestamps for flags).

const (
	userFields  = `id, email, email_verified_at, password_hash, data, app_data, disabled_at, created_at, updated_at`
	userHasMFA  = `EXISTS (SELECT 1 FROM auth_mfa_factors f WHERE f.user_id = auth_users.id AND f.verified_at IS NOT NULL)`
	userColumns = userFields + `, ` + userHasMFA
)

var errUserNotFound = errs.E(errs.NotFound, "auth.user_not_found", "no such user")

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var sc userScan
	err := row.Scan(sc.dests()...)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, errUserNotFound
	}
	if err != nil {
		return User{}, err
	}
	return sc.finish(), nil
}

// userScan receives the userColumns of a row, to combine with the columns
// of other tables in one Scan (store_refresh.go). Every column may be NULL,
// as in a LEFT JOIN that found no user: found says whether one was there.
type userScan struct {
	u                        User
	id, email, data, appData sql.NullString
	hash                     sql.NullString
	created, updated         sql.NullTime
	verified, disabled       sql.NullTime
}

func (sc *userScan) dests() []any {
	return []any{&sc.id, &sc.email, &sc.verified, &sc.hash, &sc.data, &sc.appData, &sc.disabled, &sc.created,
		&sc.updated, &sc.u.MFAEnabled}
}

// found reports whether the row held a user.
func (sc *userScan) found() bool { return sc.id.Valid }

func (sc *userScan) finish() User {
	u := sc.u
	u.ID, u.Email = sc.id.String, sc.email.String
	u.EmailVerified, u.Disabled = sc.verified.Valid, sc.disabled.Valid
	u.passwordHash = sc.hash.String
	u.Data, u.AppData = json.RawMessage(sc.data.String), json.RawMessage(sc.appData.String)
	u.CreatedAt, u.UpdatedAt = sc.created.Time.UTC(), sc.updated.Time.UTC()
	return u
}

func userByEmail(ctx context.Context, q store.Querier, email string) (User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM auth_users WHERE email = $1`, email))
}

// userByEmailProbed is userByEmail and probe (throttle.Probe) in one
// statement: a sign-in's one read before it hashes. It reads the probe
// whether or not there is such a user, and then answers errUserNotFound.
func userByEmailProbed(ctx context.Context, q store.Querier, email string, probe *throttle.Probe) (User, error) {
	from, args := probe.From(2)
	row := q.QueryRowContext(ctx, `SELECT `+probe.Columns("t")+`, `+qualify("auth_users", userFields)+`, `+userHasMFA+`
		FROM `+from+` t LEFT JOIN auth_users ON auth_users.email = $1`, append([]any{email}, args...)...)
	var sc userScan
	if err := row.Scan(append(probe.Dests(), sc.dests()...)...); err != nil {
		return User{}, err
	}
	if !sc.found() {
		return User{}, errUserNotFound
	}
	return sc.finish(), nil
}

func userByID(ctx context.Context, q store.Querier, id string) (User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM auth_users WHERE id = $1`, id))
}

// insertUser creates u; an email already taken is auth.email_taken.
func insertUser(ctx context.Context, tx *store.Tx, u User) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_users
		(id, email, email_verified_at, password_hash, data, app_data, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
		u.ID, u.Email, nullTime(u.EmailVerified, u.CreatedAt), nullString(u.passwordHash),
		string(orEmptyObject(u.Data)), string(orEmptyObject(u.AppData)), u.CreatedAt)
	if store.IsUniqueViolation(err) {
		return errs.E(errs.Conflict, "auth.email_taken", "an account with this email already exists").
			WithField("email", "taken", "already registered")
	}
	return err
}

func setPasswordHash(ctx context.Context, q store.Querier, userID, hash string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE auth_users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, now, userID)
	return err
}

func setUserData(ctx context.Context, q store.Querier, userID string, data json.RawMessage, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE auth_users SET data = $1, updated_at = $2 WHERE id = $3`, string(data), now, userID)
	return err
}

func markEmailVerified(ctx context.Context, q store.Querier, userID string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE auth_users SET email_verified_at = COALESCE(email_verified_at, $1), updated_at = $1
		WHERE id = $2`, now, userID)
	return err
}

// rolesOf returns the roles assigned to subject (a user or client id) and
// the union of their permissions, both sorted.
func rolesOf(ctx context.Context, q store.Querier, subject string) (roles, perms []string, err error) {
	rows, err := q.QueryContext(ctx, rolesOfQuery, subject)
	if err != nil {
		return nil, nil, err
	}
	return scanRoles(rows)
}

var rolesOfQuery = rolesQuery("$1")

// rolesQuery reads the roles of the subject in placeholder param, for
// scanRoles.
func rolesQuery(param string) string {
	return `SELECT r.name, r.permissions FROM auth_subject_roles s
		JOIN auth_roles r ON r.name = s.role WHERE s.subject = ` + param + ` ORDER BY r.name`
}

// scanRoles reads and closes the rows of rolesQuery: rolesOf's answer.
func scanRoles(rows *sql.Rows) (roles, perms []string, err error) {
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var name, raw string
		if err := rows.Scan(&name, &raw); err != nil {
			return nil, nil, err
		}
		roles = append(roles, name)
		var ps []string
		if err := json.Unmarshal([]byte(raw), &ps); err != nil {
			return nil, nil, err
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				perms = append(perms, p)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return roles, sortedCopy(perms), rows.Close()
}

func nullTime(valid bool, t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: valid} }

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func orEmptyObject(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return json.RawMessage(`{}`)
	}
	return b
}
