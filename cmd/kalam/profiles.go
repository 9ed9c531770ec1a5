package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// timeNow is the clock for token expiry checks.
var timeNow = time.Now

// profile is a named connection: where and as whom. It never holds a
// password or a token.
type profile struct {
	URL       string `json:"url,omitempty"`
	User      string `json:"user,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// configDir is os.UserConfigDir()/kalam ($XDG_CONFIG_HOME/kalam on Linux).
func configDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the config directory: %w (set $XDG_CONFIG_HOME or $HOME)", err)
	}
	return filepath.Join(d, "kalam"), nil
}

// stateDir is $XDG_STATE_HOME/kalam, else ~/.local/state/kalam: the shell's
// history and the token cache.
func stateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "kalam"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the state directory: %w (set $XDG_STATE_HOME or $HOME)", err)
	}
	return filepath.Join(home, ".local", "state", "kalam"), nil
}

func profilesPath() (string, error) {
	d, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "profiles.json"), nil
}

func loadProfiles() (map[string]profile, error) {
	path, err := profilesPath()
	if err != nil {
		return nil, err
	}
	m := map[string]profile{}
	if err := readJSON(path, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func saveProfiles(m map[string]profile) (string, error) {
	path, err := profilesPath()
	if err != nil {
		return "", err
	}
	return path, writeJSON0600(path, m)
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// tokenEntry is one cached login: the tokens the server issued, never the
// password.
type tokenEntry struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token,omitempty"`
}

// tokenCache is the file of cached logins, keyed by URL and user, mode 0600.
type tokenCache struct{ path string }

func openTokenCache() (*tokenCache, error) {
	d, err := stateDir()
	if err != nil {
		return nil, err
	}
	return &tokenCache{path: filepath.Join(d, "tokens.json")}, nil
}

func cacheKey(url, user string) string { return user + " @ " + url }

func (c *tokenCache) load() (map[string]tokenEntry, error) {
	m := map[string]tokenEntry{}
	return m, readJSON(c.path, &m)
}

func (c *tokenCache) get(url, user string) (tokenEntry, bool) {
	m, err := c.load()
	if err != nil {
		return tokenEntry{}, false
	}
	e, ok := m[cacheKey(url, user)]
	return e, ok && e.Access != ""
}

func (c *tokenCache) put(url, user string, e tokenEntry) error {
	m, err := c.load()
	if err != nil {
		m = map[string]tokenEntry{} // a damaged cache is replaced, not kept
	}
	m[cacheKey(url, user)] = e
	return writeJSON0600(c.path, m)
}

func (c *tokenCache) remove(url, user string) error {
	m, err := c.load()
	if err != nil {
		return err
	}
	if _, ok := m[cacheKey(url, user)]; !ok {
		return fs.ErrNotExist
	}
	delete(m, cacheKey(url, user))
	return writeJSON0600(c.path, m)
}

// readJSON reads a JSON file into v; a missing file leaves v as it is.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is not valid JSON: fix or delete it", path)
	}
	return nil
}

// writeJSON0600 replaces path with v's JSON, readable by the owner only: it
// writes a temporary file created 0600 in the same directory (0700) and
// renames it over the old one, so no reader sees half a file and the mode
// is right from the first byte.
func writeJSON0600(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
