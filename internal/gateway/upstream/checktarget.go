package upstream

import (
	"errors"
	"net/url"
)

// CheckTarget reports whether raw is a target a Pool accepts:
// scheme://host[:port], http or https, with no path, query or user info.
// Discovery checks each announced URL with it, so one bad announcement
// cannot make SetTargets refuse a whole list.
func CheckTarget(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return errors.New("want scheme://host[:port] only")
	}
	return nil
}
