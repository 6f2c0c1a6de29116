package config

import (
	"fmt"
	"io"
	"strings"

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
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", f.Key, f.Env, flag, def, f.Help)
	}
	return b.String()
}
