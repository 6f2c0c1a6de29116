package config

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/v2"
)

// Print writes the effective configuration as YAML, secrets masked, in the
// form bam.yaml takes: it can be saved as a config file or pasted into a
// bug report.
func Print(w io.Writer, c Config) error {
	k := koanf.New(".")
	for _, f := range Fields() {
		var v any = f.String(&c)
		switch x := f.Value(&c).Interface().(type) {
		case []string:
			v = x
		case bool, int, int64, float64:
			v = x
		case []Route:
			v = plain(reflect.ValueOf(x))
		}
		if err := k.Set(f.Key, v); err != nil {
			return err
		}
	}
	out, err := yaml.Parser().Marshal(k.Raw())
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// MarkdownTable documents every key: its environment variable, flag,
// default and meaning. The README's table is this output (a test checks).
func MarkdownTable() string {
	var b strings.Builder
	d := Defaults()
	b.WriteString("| key | environment | flag | default | meaning |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range Fields() {
		flag := ""
		if f.Flag != "" {
			flag = "`--" + f.Flag + "`"
		}
		def := f.String(&d)
		if def != "" {
			def = "`" + def + "`"
		}
		env := "`" + f.Env + "`"
		if f.FileOnly {
			env = "(file only)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Key, env, flag, def, f.Help)
	}
	return b.String()
}

// plain turns a structured value (a list of routes) into the maps, lists
// and scalars bam.yaml would hold: keys from koanf tags, durations written
// as 5s, zero values left out so that the output reads like a hand-written file.
func plain(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return plain(v.Elem())
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = plain(v.Index(i))
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			fv := v.Field(i)
			key := v.Type().Field(i).Tag.Get("koanf")
			if key == "" || key == "-" || fv.IsZero() {
				continue
			}
			out[key] = plain(fv)
		}
		return out
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	return v.Interface()
}
