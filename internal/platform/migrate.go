package platform

import (
	"context"
	"fmt"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/store"
)

// MigrationReport is the migration status of one service's database.
type MigrationReport struct {
	Service string
	URL     string // masked where it holds a password
	Status  []store.MigrationStatus
}

// selectSpecs returns the registered services named (or all for "all").
func (p *Platform) selectSpecs(names []string) ([]Spec, error) {
	order, err := p.Kernel.Resolve(names)
	if err != nil {
		return nil, err
	}
	var out []Spec
	for _, name := range order {
		if s, ok := p.Spec(name); ok && len(s.Migrations) > 0 {
			out = append(out, s)
		}
	}
	return out, nil
}

// Migrate applies the pending migrations of the named services' databases
// (and of the services they depend on), as `bam migrate up` does.
func (p *Platform) Migrate(ctx context.Context, services []string) ([]MigrationReport, error) {
	return p.migrations(ctx, services, true)
}

// MigrationStatus reports, without changing anything, which migrations the
// named services' databases have applied.
func (p *Platform) MigrationStatus(ctx context.Context, services []string) ([]MigrationReport, error) {
	return p.migrations(ctx, services, false)
}

func (p *Platform) migrations(ctx context.Context, services []string, apply bool) ([]MigrationReport, error) {
	specs, err := p.selectSpecs(services)
	if err != nil {
		return nil, err
	}
	var reports []MigrationReport
	for _, s := range specs {
		r, err := p.migrateOne(ctx, s, apply)
		if err != nil {
			return reports, err
		}
		reports = append(reports, r)
	}
	return reports, nil
}

func (p *Platform) migrateOne(ctx context.Context, s Spec, apply bool) (MigrationReport, error) {
	db, err := store.Open(ctx, p.StoreURL(s.Name), store.Options{Name: s.Name, Schema: s.Name})
	if err != nil {
		return MigrationReport{}, fmt.Errorf("%s database: %w", s.Name, err)
	}
	defer db.Close()
	if apply {
		if err := db.Migrate(ctx, s.Migrations...); err != nil {
			return MigrationReport{}, fmt.Errorf("%s database: %w", s.Name, err)
		}
	}
	st, err := db.MigrationStatus(ctx, s.Migrations...)
	if err != nil {
		return MigrationReport{}, fmt.Errorf("%s database: %w", s.Name, err)
	}
	return MigrationReport{Service: s.Name, URL: p.maskedStoreURL(s.Name), Status: st}, nil
}

func (p *Platform) maskedStoreURL(service string) string {
	return config.MaskURL(p.StoreURL(service))
}
