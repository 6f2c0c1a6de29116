package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// DefaultFile is the config file read from the working directory when no
// path is given; it is optional.
const DefaultFile = "bam.yaml"

// Sources are the layers Load reads, each optional.
type Sources struct {
	File    string         // config file path; "" reads ./bam.yaml if it exists
	Environ []string       // KEY=value pairs; nil reads os.Environ()
	Flags   *pflag.FlagSet // flags registered by AddFlags; only changed ones count
}

// Load builds the effective configuration: defaults < file < environment
// < flags, then validates it. Errors name the key and the expected form.
func Load(src Sources) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(structs.Provider(Defaults(), "koanf"), nil); err != nil {
		return Config{}, fmt.Errorf("config: defaults: %w", err)
	}
	if err := loadFile(k, src.File); err != nil {
		return Config{}, err
	}
	if err := loadEnv(k, src.Environ); err != nil {
		return Config{}, err
	}
	if src.Flags != nil {
		if err := loadFlags(k, src.Flags); err != nil {
			return Config{}, err
		}
	}
	if err := checkScalars(k); err != nil {
		return Config{}, err
	}
	var c Config
	err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
			mapstructure.TextUnmarshallerHookFunc(),
			timeToString, // YAML reads an unquoted 2030-01-01T00:00:00Z as a time
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           &c,
		TagName:          "koanf",
	}})
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	// One form of public_url for everything derived from it: it is the
	// token issuer, which auth, the gateway and the services compare
	// exactly (a trailing slash in one and not another refused every
	// token, and OpenID clients compare discovery's issuer with the
	// tokens').
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return c, c.Validate()
}

// timeToString decodes a YAML timestamp into a string field as RFC 3339.
func timeToString(from, to reflect.Type, v any) (any, error) {
	if t, ok := v.(time.Time); ok && to.Kind() == reflect.String {
		return t.Format(time.RFC3339Nano), nil
	}
	return v, nil
}

func loadFile(k *koanf.Koanf, path string) error {
	explicit := path != ""
	if !explicit {
		path = DefaultFile
	}
	if _, err := os.Stat(path); err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("config: file %s: %w", path, err)
	}
	if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
		return fmt.Errorf("config: file %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, f := range Fields() {
		known[f.Key] = true
	}
	// Unknown keys are almost always typos; say so rather than ignore them.
	fileKeys := koanf.New(".")
	_ = fileKeys.Load(file.Provider(path), yaml.Parser())
	for _, key := range fileKeys.Keys() {
		if !known[key] && !isParentOfKnown(key, known) {
			return fmt.Errorf("config: file %s: unknown key %q (see `bam config print` for the keys)", path, key)
		}
	}
	return nil
}

func isParentOfKnown(key string, known map[string]bool) bool {
	for k := range known {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// loadEnv maps BAM_* variables to keys through the field table, so that
// keys containing underscores (data_dir) stay unambiguous.
func loadEnv(k *koanf.Koanf, environ []string) error {
	byEnv := map[string]string{}
	for _, f := range Fields() {
		if !f.FileOnly {
			byEnv[f.Env] = f.Key
		}
	}
	opt := env.Opt{
		Prefix: "BAM_",
		TransformFunc: func(name, value string) (string, any) {
			return byEnv[name], value // unknown and file-only BAM_ variables (e.g. BAM_TEST_*) are ignored
		},
	}
	if environ != nil {
		opt.EnvironFunc = func() []string { return environ }
	}
	if err := k.Load(env.Provider(".", opt), nil); err != nil {
		return fmt.Errorf("config: environment: %w", err)
	}
	return nil
}

func loadFlags(k *koanf.Koanf, flags *pflag.FlagSet) error {
	byFlag := map[string]string{}
	for _, f := range Fields() {
		if f.Flag != "" {
			byFlag[f.Flag] = f.Key
		}
	}
	var values []struct{ key, value string }
	flags.Visit(func(f *pflag.Flag) { // only flags set on the command line
		if key, ok := byFlag[f.Name]; ok {
			v := f.Value.String()
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				v = strings.Join(sv.GetSlice(), ",")
			}
			values = append(values, struct{ key, value string }{key, v})
		}
	})
	for _, kv := range values {
		if err := k.Set(kv.key, kv.value); err != nil {
			return fmt.Errorf("config: flag for %s: %w", kv.key, err)
		}
	}
	return nil
}

// AddFlags registers the command-line flags for the fields that have one.
// Their defaults are left empty: an unset flag never overrides a lower layer.
func AddFlags(flags *pflag.FlagSet) {
	for _, f := range Fields() {
		if f.Flag != "" {
			flags.String(f.Flag, "", f.Help+" ("+f.Key+")")
		}
	}
}
