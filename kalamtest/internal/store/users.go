package store

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// UserInfo describes a user of system.users.
type UserInfo struct {
	ID, Role             string
	Email                *string
	CreatedAt, UpdatedAt time.Time
	// AuthType is how the user signs in: "password", "oauth" or
	// "internal" (system.users.auth_type).
	AuthType string
}

// Authentication types of system.users.auth_type.
const (
	authPassword = "password"
	authOAuth    = "oauth"
	authInternal = "internal"
)

// userRec is the in-memory copy of a _kalam_users row.
type userRec struct {
	info    UserInfo
	hash    string // "" = no password
	deleted bool
}

// Roles, lower case as on the wire.
const (
	roleUser    = "user"
	roleService = "service"
	roleDBA     = "dba"
	roleSystem  = "system"
)

// roleAliases are the other role names KalamDB's CREATE/ALTER USER accept.
var roleAliases = map[string]string{
	"admin": roleDBA, "developer": roleService, "analyst": roleService,
	"viewer": roleUser, "readonly": roleUser,
}

// canonicalRole lower-cases a role written in SQL and resolves aliases;
// unknown names come back lower-cased for validRole to refuse.
func canonicalRole(r string) string {
	r = strings.ToLower(r)
	if c, ok := roleAliases[r]; ok {
		return c
	}
	return r
}

func validRole(r string) bool {
	switch r {
	case roleUser, roleService, roleDBA, roleSystem:
		return true
	}
	return false
}

// isAdmin reports the dba and system roles.
func isAdmin(role string) bool { return role == roleDBA || role == roleSystem }

// Password hashing: PBKDF2-HMAC-SHA256 from the standard library with a
// 16-byte random salt. The iteration count is deliberately modest: this is
// a test server, and logins should stay fast.
const (
	pbkdf2Iter  = 4096
	pbkdf2Bytes = 32
	maxPassword = 256
)

func hashPassword(pw string) (string, error) {
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, pw, salt[:], pbkdf2Iter, pbkdf2Bytes)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return "pbkdf2-sha256$" + strconv.Itoa(pbkdf2Iter) + "$" + enc.EncodeToString(salt[:]) + "$" + enc.EncodeToString(key), nil
}

func checkPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 1<<22 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// validUserID accepts what a login name may be: 1–128 bytes, no control
// characters, no quotes.
func validUserID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c == 0x7f || c == '\'' || c == '"' {
			return false
		}
	}
	return true
}

func (s *Store) loadUsers() error {
	st, _, err := s.db.Prepare(`SELECT user_id, password_hash, role, email, created_at, updated_at, deleted_at, auth_type FROM _kalam_users`)
	if err != nil {
		return err
	}
	defer st.Close()
	for st.Step() {
		u := &userRec{hash: st.ColumnText(1)}
		u.deleted = columnValue(st, 6) != nil
		u.info = UserInfo{ID: st.ColumnText(0), Role: st.ColumnText(2),
			CreatedAt: time.UnixMicro(st.ColumnInt64(4)).UTC(), UpdatedAt: time.UnixMicro(st.ColumnInt64(5)).UTC(),
			AuthType: st.ColumnText(7)}
		if e, ok := columnValue(st, 3).(string); ok {
			u.info.Email = &e
		}
		s.users[u.info.ID] = u
	}
	return st.Err()
}

// insertUser stores a new password user; password "" means none. Caller
// holds mu (or is Open) and has validated the arguments.
func (s *Store) insertUser(id, password, role string, email *string) error {
	return s.insertUserAuth(id, password, role, email, authPassword, "")
}

// insertUserAuth stores a new user of any authentication type; authData
// is the JSON of system.users.auth_data ("" = NULL).
func (s *Store) insertUserAuth(id, password, role string, email *string, authType, authData string) error {
	hash := ""
	if password != "" {
		h, err := hashPassword(password)
		if err != nil {
			return err
		}
		hash = h
	}
	now := s.now().UTC()
	var em, ad any
	if email != nil {
		em = *email
	}
	if authData != "" {
		ad = authData
	}
	if err := s.execArgs(`INSERT OR REPLACE INTO _kalam_users (user_id, password_hash, role, email, created_at, updated_at, deleted_at, auth_type, auth_data)
		VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)`, id, hash, role, em, now.UnixMicro(), now.UnixMicro(), authType, ad); err != nil {
		return err
	}
	u := &userRec{hash: hash, info: UserInfo{ID: id, Role: role, CreatedAt: now, UpdatedAt: now, AuthType: authType}}
	if email != nil {
		e := *email
		u.info.Email = &e
	}
	s.usersMu.Lock()
	s.users[id] = u
	s.usersMu.Unlock()
	return nil
}

func checkNewUser(id, password, role string) error {
	if !validUserID(id) || !validRole(role) || len(password) > maxPassword {
		return ErrInvalidUser
	}
	return nil
}

// CreateUser adds a user with the given role ("user", "service", "dba" or
// "system"). An empty password creates a user who cannot log in until
// SetPassword. It fails with ErrUserExists when the id is taken (a deleted
// user's id is taken too) and ErrInvalidUser for a bad id, role or
// password.
func (s *Store) CreateUser(id, password, role string, email *string) error {
	if err := checkNewUser(id, password, role); err != nil {
		return err
	}
	if !s.lock() {
		return ErrClosed
	}
	defer s.mu.Unlock()
	s.usersMu.RLock()
	_, exists := s.users[id]
	s.usersMu.RUnlock()
	if exists {
		return ErrUserExists
	}
	return s.insertUser(id, password, role, email)
}

// Authenticate checks a password and returns the user. Every failure is
// ErrInvalidCredentials: unknown user, deleted user, no password set, wrong
// password.
func (s *Store) Authenticate(id, password string) (UserInfo, error) {
	if s.closed.Load() {
		return UserInfo{}, ErrClosed
	}
	s.usersMu.RLock()
	u, ok := s.users[id]
	var hash string
	var info UserInfo
	if ok {
		hash, info = u.hash, u.info
		ok = !u.deleted
	}
	s.usersMu.RUnlock()
	if !ok || hash == "" || len(password) > maxPassword || !checkPassword(hash, password) {
		return UserInfo{}, ErrInvalidCredentials
	}
	return info, nil
}

// LookupUser returns a user that exists and is not deleted.
func (s *Store) LookupUser(id string) (UserInfo, bool) {
	s.usersMu.RLock()
	defer s.usersMu.RUnlock()
	u, ok := s.users[id]
	if !ok || u.deleted {
		return UserInfo{}, false
	}
	return u.info, true
}

// SetPassword replaces a user's password (and bumps updated_at). It fails
// with ErrUserNotFound for unknown or deleted users and ErrInvalidUser for
// an empty or oversized password.
func (s *Store) SetPassword(id, password string) error {
	if password == "" || len(password) > maxPassword {
		return ErrInvalidUser
	}
	if !s.lock() {
		return ErrClosed
	}
	defer s.mu.Unlock()
	return s.updateUser(id, func(u *userRec) (string, any, error) {
		h, err := hashPassword(password)
		if err != nil {
			return "", nil, err
		}
		u.hash = h
		return "password_hash", h, nil
	})
}

// HasPassword reports whether a (non-deleted) user has a password. root
// starts without one.
func (s *Store) HasPassword(id string) bool {
	s.usersMu.RLock()
	defer s.usersMu.RUnlock()
	u, ok := s.users[id]
	return ok && !u.deleted && u.hash != ""
}

// updateUser changes one column of a live user. edit mutates a copy of the
// record and names the column and its new value. Caller holds mu.
func (s *Store) updateUser(id string, edit func(u *userRec) (col string, val any, err error)) error {
	s.usersMu.RLock()
	cur, ok := s.users[id]
	s.usersMu.RUnlock()
	if !ok || cur.deleted {
		return ErrUserNotFound
	}
	u := *cur
	col, val, err := edit(&u)
	if err != nil {
		return err
	}
	u.info.UpdatedAt = s.now().UTC()
	if err := s.execArgs(`UPDATE _kalam_users SET `+col+` = ?, updated_at = ? WHERE user_id = ?`,
		val, u.info.UpdatedAt.UnixMicro(), id); err != nil {
		return err
	}
	s.usersMu.Lock()
	s.users[id] = &u
	s.usersMu.Unlock()
	return nil
}

// deleteUser soft-deletes a user. Caller holds mu.
func (s *Store) deleteUser(id string) error {
	s.usersMu.RLock()
	cur, ok := s.users[id]
	s.usersMu.RUnlock()
	if !ok || cur.deleted {
		return ErrUserNotFound
	}
	now := s.now().UTC()
	if err := s.execArgs(`UPDATE _kalam_users SET deleted_at = ?, updated_at = ? WHERE user_id = ?`,
		now.UnixMicro(), now.UnixMicro(), id); err != nil {
		return err
	}
	u := *cur
	u.deleted = true
	u.info.UpdatedAt = now
	s.usersMu.Lock()
	s.users[id] = &u
	s.usersMu.Unlock()
	return nil
}

// roleOf returns a user's role for EXECUTE AS checks; unknown ids count as
// regular users, as in KalamDB.
func (s *Store) roleOf(id string) string {
	s.usersMu.RLock()
	defer s.usersMu.RUnlock()
	if u, ok := s.users[id]; ok {
		return u.info.Role
	}
	return roleUser
}
