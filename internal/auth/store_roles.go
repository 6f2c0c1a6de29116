package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// SQL of roles (auth_roles) and their assignments (auth_subject_roles).

const roleColumns = `name, description, permissions, created_at, updated_at`

func scanRole(row interface{ Scan(...any) error }) (Role, error) {
	var (
		r     Role
		perms string
	)
	err := row.Scan(&r.Name, &r.Description, &perms, &r.CreatedAt, &r.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Role{}, errRoleNotFound
	}
	if err != nil {
		return Role{}, err
	}
	if err := json.Unmarshal([]byte(perms), &r.Permissions); err != nil {
		return Role{}, err
	}
	r.Permissions = nonNil(r.Permissions)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

func roleByName(ctx context.Context, q store.Querier, name string) (Role, error) {
	return scanRole(q.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM auth_roles WHERE name = $1`, name))
}

func listRoles(ctx context.Context, q store.Querier) ([]Role, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+roleColumns+` FROM auth_roles ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Role{}
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func insertRole(ctx context.Context, tx *store.Tx, r Role) error {
	perms, _ := json.Marshal(nonNil(r.Permissions))
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_roles (`+roleColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		r.Name, r.Description, string(perms), r.CreatedAt, r.UpdatedAt)
	if store.IsUniqueViolation(err) {
		return errs.E(errs.Conflict, "auth.role_exists", "a role named %q already exists", r.Name).
			WithField("name", "taken", "already exists")
	}
	return err
}

func updateRole(ctx context.Context, tx *store.Tx, r Role) error {
	perms, _ := json.Marshal(nonNil(r.Permissions))
	_, err := tx.ExecContext(ctx, `UPDATE auth_roles SET description = $1, permissions = $2, updated_at = $3
		WHERE name = $4`, r.Description, string(perms), r.UpdatedAt, r.Name)
	return err
}

// deleteRole removes a role and its assignments (not left to ON DELETE
// CASCADE, so it does not depend on SQLite's foreign_keys setting).
func deleteRole(ctx context.Context, tx *store.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM auth_subject_roles WHERE role = $1`, name); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM auth_roles WHERE name = $1`, name)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = errRoleNotFound
	}
	return err
}

func replaceSubjectRoles(ctx context.Context, tx *store.Tx, subject string, roles []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM auth_subject_roles WHERE subject = $1`, subject); err != nil {
		return err
	}
	for _, r := range roles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_subject_roles (subject, role) VALUES ($1, $2)`,
			subject, r); err != nil {
			return err
		}
	}
	return nil
}

// addSubjectRole gives subject role, if it does not have it yet.
func addSubjectRole(ctx context.Context, tx *store.Tx, subject, role string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_subject_roles (subject, role) VALUES ($1, $2)
		ON CONFLICT (subject, role) DO NOTHING`, subject, role)
	return err
}
