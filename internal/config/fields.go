package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Field describes one leaf of the configuration: everything needed to set
// it, validate it, document it and show it.
type Field struct {
	Key    string // dotted key, e.g. "nats.url"
	Env    string // BAM_NATS_URL
	Flag   string // nats-url, or "" when not a flag
	Help   string
	Secret string // "", "true" (mask whole value) or "url" (mask the password)
	// FileOnly fields (tag file:"only") are set in the config file alone,
	// never by environment or flag: structured lists such as gateway.routes.
	FileOnly bool
	Type     reflect.Type
	index    []int
}

// Fields lists the configuration's leaves in declaration order.
func Fields() []Field {
	var out []Field
	walk(reflect.TypeOf(Config{}), "", nil, &out)
	return out
}

func walk(t reflect.Type, prefix string, index []int, out *[]Field) {
	for i := range t.NumField() {
		sf := t.Field(i)
		key := sf.Tag.Get("koanf")
		if key == "" || key == "-" {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if prefix != "" {
			key = prefix + "." + key
		}
		if sf.Type.Kind() == reflect.Struct && sf.Type != reflect.TypeOf(time.Time{}) {
			walk(sf.Type, key, idx, out)
			continue
		}
		*out = append(*out, Field{
			Key:      key,
			Env:      EnvName(key),
			Flag:     sf.Tag.Get("flag"),
			Help:     sf.Tag.Get("help"),
			Secret:   sf.Tag.Get("secret"),
			FileOnly: sf.Tag.Get("file") == "only",
			Type:     sf.Type,
			index:    idx,
		})
	}
}

// EnvName is the environment variable that sets key: BAM_ and the key in
// upper case with dots as underscores (nats.url → BAM_NATS_URL).
func EnvName(key string) string {
	return "BAM_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Value returns the field's value in c.
func (f Field) Value(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(f.index)
}

// Expected describes, for error messages and docs, the form a value takes.
func (f Field) Expected() string {
	switch f.Type {
	case reflect.TypeOf(time.Duration(0)):
		return "a duration such as 15s, 2m or 1h30m"
	case reflect.TypeOf([]string(nil)):
		return "a comma-separated list"
	}
	if f.FileOnly {
		return "a YAML list in the config file"
	}
	switch f.Type.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	default:
		return "a string"
	}
}

// String formats the field's value in c the way a user would write it,
// masking secrets.
func (f Field) String(c *Config) string {
	v := f.Value(c)
	var s string
	switch x := v.Interface().(type) {
	case []string:
		s = strings.Join(x, ",")
	case time.Duration:
		s = x.String()
	case []Route:
		s = fmt.Sprintf("%d routes", len(x))
		if len(x) == 0 {
			s = ""
		}
	default:
		s = fmt.Sprint(x)
	}
	return mask(f.Secret, s)
}
